"""A MAVLink link: one connection, one reader thread, a ground-station heartbeat, subscriptions.

Connection strings are the ones MAVProxy and QGroundControl users write (``tcp:HOST:PORT``,
``udpin:0.0.0.0:14550``, ``udpout:HOST:PORT``, ``/dev/ttyUSB0,57600``). Every received message
goes to the subscriptions whose filter accepts it; per vehicle the link keeps the heartbeat age
and the loss rate computed from MAVLink sequence numbers.
"""

from __future__ import annotations

import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gcs import mavlink as mav
from gcs.binding import VehicleBinding

log = logging.getLogger(__name__)

Message = mav.Message
Filter = Callable[[Message], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkHealth:
    """How well one vehicle is heard: heartbeat age (s) and packets lost by sequence number."""

    sysid: int
    heartbeat_age_s: float
    received: int
    lost: int

    @property
    def loss_rate(self) -> float:
        """Share of packets lost, from gaps in the sequence numbers."""
        total = self.received + self.lost
        return self.lost / total if total else 0.0


class Subscription:
    """Messages accepted by a filter, queued until read. Close it (or use ``with``) when done."""

    def __init__(self, link: Link, accept: Filter) -> None:
        self._link = link
        self.accept = accept
        self.queue: queue.Queue[Message] = queue.Queue()

    def get(self, timeout_s: float) -> Message | None:
        """The next accepted message, or None after ``timeout_s``."""
        try:
            return self.queue.get(timeout=max(timeout_s, 0.0))
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop receiving."""
        self._link._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Seen:
    """Per-(system, component) sequence tracking and per-system heartbeat time."""

    def __init__(self) -> None:
        self.last_seq: dict[tuple[int, int], int] = {}
        self.received: dict[int, int] = {}
        self.lost: dict[int, int] = {}
        self.heartbeat: dict[int, float] = {}

    def note(self, msg: Message, now: float) -> None:
        sysid, compid = msg.get_srcSystem(), msg.get_srcComponent()
        key = (sysid, compid)
        seq = msg.get_seq()
        last = self.last_seq.get(key)
        if last is not None:
            gap = (seq - last - 1) % 256
            if gap < 128:  # a large jump back is a duplicate or a reboot, not loss
                self.lost[sysid] = self.lost.get(sysid, 0) + gap
        self.last_seq[key] = seq
        self.received[sysid] = self.received.get(sysid, 0) + 1
        if msg.get_type() == "HEARTBEAT" and compid == 1:
            self.heartbeat[sysid] = now


class Link:
    """One MAVLink connection shared by every vehicle behind it.

    Parameters
    ----------
    url
        Connection string.
    source_system, source_component
        Our ids (ground stations use 255/190).
    heartbeat_period_s
        Period of the ground-station HEARTBEAT (0 disables it).
    clock
        Monotonic clock in seconds.
    binding
        Which link and address each vehicle belongs to, shared by the links of one fleet
        (:mod:`gcs.binding`); packets it refuses reach nothing. None: a binding of this link's
        own.
    """

    def __init__(self, url: str, *, source_system: int = mav.GCS_SYSTEM_ID,
                 source_component: int = mav.GCS_COMPONENT_ID, heartbeat_period_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 binding: VehicleBinding | None = None) -> None:
        self.url = url
        self.binding = VehicleBinding() if binding is None else binding
        self.source_system = source_system
        self.source_component = source_component
        self.heartbeat_period_s = heartbeat_period_s
        self.clock = clock
        self._conn: Any = None
        self._send_lock = threading.Lock()
        self._subs_lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._listeners: list[Callable[[Message], None]] = []
        self._sent_hooks: list[Callable[[Message], None]] = []
        self._seen = _Seen()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- life cycle -------------------------------------------------------------------------
    def open(self) -> Link:
        """Connect and start the reader and heartbeat threads."""
        kwargs: dict[str, Any] = {"autoreconnect": True} if self.url.startswith("tcp:") else {}
        self._conn = mav.connect(self.url, source_system=self.source_system,
                                 source_component=self.source_component, **kwargs)
        self._conn.mav.robust_parsing = True
        self._stop.clear()
        self._threads = [threading.Thread(target=self._read_loop, daemon=True,
                                          name=f"mavlink-read {self.url}")]
        if self.heartbeat_period_s > 0:
            self._threads.append(threading.Thread(target=self._heartbeat_loop, daemon=True,
                                                  name=f"mavlink-heartbeat {self.url}"))
        for t in self._threads:
            t.start()
        return self

    def close(self) -> None:
        """Stop the threads and close the connection."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        if self._conn is not None:
            try:
                self._conn.close()
            except (OSError, AttributeError) as exc:  # pymavlink mid-reconnect has no socket
                log.debug("%s: close: %s", self.url, exc)
            self._conn = None

    def __enter__(self) -> Link:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------------
    @property
    def mav(self) -> mav.Encoder:
        """The message builders, for :meth:`send`: ``link.mav.command_long_encode(...)``."""
        encoder: mav.Encoder = self._conn.mav
        return encoder

    def send(self, msg: Message) -> None:
        """Send one message (thread-safe); sent-message hooks see it afterwards.

        While the transport is down (a TCP peer away, pymavlink reconnecting) the message is
        dropped like a lost packet: every exchange here is acknowledged and retried.
        """
        try:
            with self._send_lock:
                self._conn.mav.send(msg)
        except (OSError, AttributeError) as exc:
            log.debug("%s: %s not sent (%s)", self.url, msg.get_type(), exc)
            return
        for hook in list(self._sent_hooks):
            self._call(hook, msg)

    def add_sent_hook(self, callback: Callable[[Message], None]) -> None:
        """Call ``callback(msg)`` after every message this link sends (for flight logs)."""
        self._sent_hooks.append(callback)

    def remove_sent_hook(self, callback: Callable[[Message], None]) -> None:
        """Stop calling a sent-message hook."""
        if callback in self._sent_hooks:
            self._sent_hooks.remove(callback)

    def setup_signing(self, key: bytes, *, sign_outgoing: bool = True,
                      allow_unsigned: Callable[[Any, int], bool] | None = None) -> None:
        """Sign everything sent from now on with ``key`` (32 bytes), MAVLink 2 signing.

        Received messages must then be signed with ``key``; ``allow_unsigned(codec, msg_id)``
        may let unsigned ones through (see :mod:`gcs.signing`).
        """
        with self._send_lock:
            self._conn.setup_signing(key, sign_outgoing=sign_outgoing,
                                     allow_unsigned_callback=allow_unsigned)

    def allow_unsigned(self, allow: Callable[[Any, int], bool] | None) -> None:
        """Let unsigned received messages through when ``allow(codec, msg_id)`` says so
        (None: none), on a link that signs."""
        self._conn.mav.signing.allow_unsigned_callback = allow

    def stop_signing(self) -> None:
        """Send unsigned and forget the key from now on (received messages are not checked)."""
        signing = self._conn.mav.signing
        signing.sign_outgoing = False
        signing.secret_key = None
        signing.allow_unsigned_callback = None

    @property
    def signing_key(self) -> bytes | None:
        """The key this link signs with, or None."""
        key = self._conn.mav.signing.secret_key if self._conn is not None else None
        return None if key is None else bytes(key)

    @property
    def signing_timestamp(self) -> int:
        """The link's signing timestamp (10 microsecond units since 2015-01-01)."""
        return int(self._conn.mav.signing.timestamp)

    @property
    def local_address(self) -> tuple[str, int] | None:
        """The (host, port) this link's UDP or TCP socket is bound to, or None (serial, closed)."""
        sock = getattr(self._conn, "port", None)
        try:
            host, port = sock.getsockname()[:2]  # type: ignore[union-attr]
        except (AttributeError, OSError, TypeError, ValueError):
            return None
        return str(host), int(port)

    def send_raw(self, data: bytes) -> None:
        """Write an already packed message as it is (forwarding); no sent-message hooks."""
        with self._send_lock:
            self._conn.write(data)

    # -- receiving --------------------------------------------------------------------------
    def subscribe(self, accept: Filter) -> Subscription:
        """Queue every message ``accept`` returns True for, from now on."""
        sub = Subscription(self, accept)
        with self._subs_lock:
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def add_listener(self, callback: Callable[[Message], None]) -> None:
        """Call ``callback(msg)`` from the reader thread for every message (keep it quick)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Message], None]) -> None:
        """Stop calling a listener."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _call(self, callback: Callable[[Message], None], msg: Message) -> None:
        """Run a callback; its failure is logged, never allowed to stop the link."""
        try:
            callback(msg)
        except Exception:
            log.exception("%s: callback %r failed on %s", self.url, callback, msg.get_type())

    def wait(self, accept: Filter, timeout_s: float) -> Message | None:
        """The first message ``accept`` takes within ``timeout_s``, or None."""
        with self.subscribe(accept) as sub:
            return sub.get(timeout_s)

    def health(self, sysid: int) -> LinkHealth:
        """Heartbeat age and loss of vehicle ``sysid`` (age inf if never heard)."""
        seen = self._seen
        beat = seen.heartbeat.get(sysid)
        return LinkHealth(sysid=sysid,
                          heartbeat_age_s=self.clock() - beat if beat is not None else float("inf"),
                          received=seen.received.get(sysid, 0), lost=seen.lost.get(sysid, 0))

    @property
    def vehicles(self) -> tuple[int, ...]:
        """System ids that sent a vehicle heartbeat on this link."""
        return tuple(sorted(self._seen.heartbeat))

    def _receive(self) -> list[tuple[Message, tuple[str, int] | None]]:
        """The next messages, each with the sender's address on a UDP listening link."""
        sock = mav.udp_listen_socket(self._conn)
        if sock is None:
            return [(self._conn.recv_match(blocking=True, timeout=0.2), None)]
        if not select.select([sock], [], [], 0.2)[0]:
            return []
        try:
            data, address = sock.recvfrom(65535)
        except BlockingIOError:
            return []
        return [(m, address) for m in mav.parse_datagram(self._conn, data)]

    def _admit(self, msg: Message, address: tuple[str, int] | None) -> bool:
        """Whether the binding lets ``msg`` in; on a UDP listening link, answer only the
        addresses of the vehicles bound to it."""
        sysid = msg.get_srcSystem()
        if sysid == self.source_system:
            return True
        d = mav.dialect
        vehicle = msg.get_type() == "HEARTBEAT" and msg.type != d.MAV_TYPE_GCS and \
            msg.autopilot != d.MAV_AUTOPILOT_INVALID
        where = None if address is None else f"{address[0]}:{address[1]}"
        ok = self.binding.admit(self.url, sysid, vehicle_heartbeat=vehicle, address=where)
        if address is not None:
            clients = self._conn.clients
            if self.binding.answers(self.url, str(where)):
                clients.add(address)
                self._conn.clients_last_alive[address] = time.time()
            else:
                clients.discard(address)
        return ok

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._receive()
            except (OSError, AttributeError, mav.MAVError) as exc:
                # AttributeError: pymavlink's TCP reconnect leaves the socket unset while the
                # peer is away; keep trying, the link reports the vehicle as not heard
                log.warning("%s: read failed (%s); retrying", self.url, exc)
                self._stop.wait(0.5)
                continue
            for msg, address in batch:
                if msg is not None and msg.get_type() != "BAD_DATA" and \
                        self._admit(msg, address):
                    self._deliver(msg)

    def _deliver(self, msg: Message) -> None:
        """Hand an admitted message to the sequence counters, subscriptions and listeners."""
        self._seen.note(msg, self.clock())
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.accept(msg):
                sub.queue.put(msg)
        for callback in list(self._listeners):
            self._call(callback, msg)

    def _heartbeat_loop(self) -> None:
        d = mav.dialect
        while not self._stop.wait(self.heartbeat_period_s):
            try:
                self.send(self.mav.heartbeat_encode(d.MAV_TYPE_GCS, d.MAV_AUTOPILOT_INVALID, 0, 0,
                                                    d.MAV_STATE_ACTIVE))
            except OSError as exc:
                log.debug("%s: heartbeat not sent (%s)", self.url, exc)
