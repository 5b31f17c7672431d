"""Forwarding outputs: other ground stations watch (and, if allowed, command) the same vehicles.

An output is a connection string as MAVProxy's ``--out`` takes it: ``udp:HOST:PORT`` and
``udpout:HOST:PORT`` send to a listening client (QGroundControl listens on UDP 14550;
``dronekit.connect("udp:127.0.0.1:14550")`` listens there too), ``udpin:HOST:PORT`` listens and
answers whoever sent last, ``tcpin:HOST:PORT`` accepts one TCP client, ``tcp:HOST:PORT``
connects to a TCP server. A ``,ro`` suffix (or :attr:`OutputSpec.read_only`) makes it read-only.

Every message heard from the vehicles goes to every output exactly as received (same bytes,
sequence numbers and signatures). Messages from an output's client go to the vehicle they target
(the link it is heard on; every link for broadcasts), re-signed under the client's own ids when
the link signs (:class:`gcs.signing.Resigner`). A read-only output passes only requests that
change nothing on the vehicle (heartbeats, parameter and mission reads, time sync, message
requests); everything else is dropped, and dropped commands, mission writes, parameter sets,
mode and guidance messages are logged as warnings. SETUP_SIGNING is never forwarded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gcs import mavlink as mav
from gcs.link import Link, Message
from gcs.signing import Resigner
from planner.errors import InputError

log = logging.getLogger(__name__)
_D = mav.dialect

SCHEMES = ("udp", "udpout", "udpin", "tcpin", "tcp")
READ_ONLY_SUFFIX = ",ro"

#: Messages a read-only client may send: they change nothing on the vehicle.
READ_ONLY_MESSAGES: frozenset[str] = frozenset({
    "HEARTBEAT", "PARAM_REQUEST_LIST", "PARAM_REQUEST_READ", "MISSION_REQUEST_LIST",
    "MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK", "TIMESYNC", "SYSTEM_TIME",
    "AUTOPILOT_VERSION_REQUEST", "PING"})
#: Commands a read-only client may send (they ask for information).
READ_ONLY_COMMANDS: frozenset[int] = frozenset({
    _D.MAV_CMD_REQUEST_MESSAGE, _D.MAV_CMD_REQUEST_PROTOCOL_VERSION,
    _D.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES})
#: Messages never forwarded from any client: they would take the vehicle from this station.
NEVER_FORWARDED: frozenset[str] = frozenset({"SETUP_SIGNING"})
_NOTABLE_PREFIXES = ("COMMAND_", "MISSION_", "PARAM_", "SET_", "FENCE_", "RALLY_")
_NOTABLE = frozenset({"RC_CHANNELS_OVERRIDE", "MANUAL_CONTROL", "SETUP_SIGNING",
                      "FILE_TRANSFER_PROTOCOL", "REQUEST_DATA_STREAM"})
#: Seconds between repeated warnings about one kind of dropped message on one output.
WARN_EVERY_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSpec:
    """One forwarding output: a connection string and whether its clients may only watch."""

    url: str
    read_only: bool = False

    def __post_init__(self) -> None:
        scheme = self.url.split(":", 1)[0]
        if scheme not in SCHEMES or self.url.count(":") != 2:
            raise InputError(f"expected an output like udp:HOST:PORT ({', '.join(SCHEMES)}), "
                             f"got {self.url!r}", field="--out")
        port = self.url.rsplit(":", 1)[1]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise InputError(f"expected a port number 1-65535 in {self.url!r}", field="--out")

    @classmethod
    def parse(cls, text: str, *, read_only: bool = False) -> OutputSpec:
        """``udp:127.0.0.1:14550`` or ``udp:127.0.0.1:14550,ro`` (read-only).

        Examples
        --------
        >>> OutputSpec.parse("udp:127.0.0.1:14550,ro")
        OutputSpec(url='udp:127.0.0.1:14550', read_only=True)
        """
        text = text.strip()
        if text.endswith(READ_ONLY_SUFFIX):
            return cls(url=text[:-len(READ_ONLY_SUFFIX)], read_only=True)
        return cls(url=text, read_only=read_only)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputStats:
    """Counts of one output: messages sent to its client, received, forwarded and dropped."""

    url: str
    read_only: bool
    to_client: int
    from_client: int
    forwarded: int
    dropped: int


def read_only_allows(msg: Message) -> bool:
    """Whether a read-only client may send ``msg`` (it asks, never changes)."""
    kind = msg.get_type()
    if kind in ("COMMAND_LONG", "COMMAND_INT"):
        return int(msg.command) in READ_ONLY_COMMANDS
    return kind in READ_ONLY_MESSAGES


def notable(kind: str) -> bool:
    """Whether dropping a ``kind`` message deserves a warning (commands, writes, guidance)."""
    return kind in _NOTABLE or kind.startswith(_NOTABLE_PREFIXES)


class _Output:
    """One output connection, its reader thread and its counts."""

    def __init__(self, spec: OutputSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.conn: Any = None
        self.lock = threading.Lock()
        self.to_client = self.from_client = self.forwarded = self.dropped = 0
        self.warned: dict[str, float] = {}
        self.resigners: dict[int, Resigner] = {}
        self.thread: threading.Thread | None = None

    def write(self, data: bytes) -> None:
        with self.lock:
            try:
                self.conn.write(data)
            except (OSError, RuntimeError) as exc:  # RuntimeError: a client joined meanwhile
                log.debug("output %s: not sent (%s)", self.spec.url, exc)
                return
            self.to_client += 1


class Forwarder:
    """Forwards between vehicle links and client outputs (see the module docstring).

    Parameters
    ----------
    links
        The vehicle links (messages from them go to every output).
    outputs
        The outputs to open.
    """

    def __init__(self, links: Sequence[Link], outputs: Sequence[OutputSpec]) -> None:
        self.links = list(links)
        self._outputs = [_Output(spec, i) for i, spec in enumerate(outputs)]
        self._stop = threading.Event()
        self._listeners: list[tuple[Link, Any]] = []

    def open(self) -> Forwarder:
        """Open every output, start its reader and start forwarding from the links."""
        try:
            for out in self._outputs:
                out.conn = mav.connect(out.spec.url, input=False)
        except (OSError, ValueError) as exc:
            self.close()
            raise InputError(f"cannot open output: {exc}", field="--out") from exc
        self._stop.clear()
        for out in self._outputs:
            out.thread = threading.Thread(target=self._read_loop, args=(out,), daemon=True,
                                          name=f"forward {out.spec.url}")
            out.thread.start()
        for link in self.links:
            listener = self._to_clients
            link.add_listener(listener)
            self._listeners.append((link, listener))
        log.info("forwarding to %s", ", ".join(
            o.spec.url + (" (read-only)" if o.spec.read_only else "") for o in self._outputs))
        return self

    def close(self) -> None:
        """Stop forwarding and close the outputs."""
        for link, listener in self._listeners:
            link.remove_listener(listener)
        self._listeners.clear()
        self._stop.set()
        for out in self._outputs:
            if out.thread is not None:
                out.thread.join(timeout=2.0)
                out.thread = None
            if out.conn is not None:
                out.conn.close()
                out.conn = None

    def __enter__(self) -> Forwarder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> tuple[OutputStats, ...]:
        """Counts per output, in the order given."""
        return tuple(OutputStats(url=o.spec.url, read_only=o.spec.read_only,
                                 to_client=o.to_client, from_client=o.from_client,
                                 forwarded=o.forwarded, dropped=o.dropped)
                     for o in self._outputs)

    # -- vehicles to clients ------------------------------------------------------------------
    def _to_clients(self, msg: Message) -> None:
        data = bytes(msg.get_msgbuf())
        for out in self._outputs:
            if out.conn is not None:
                out.write(data)

    # -- clients to vehicles ------------------------------------------------------------------
    def _read_loop(self, out: _Output) -> None:
        while not self._stop.is_set():
            conn = out.conn
            if conn is None:
                return
            try:
                msg = conn.recv_match(blocking=True, timeout=0.2)
            except (OSError, mav.MAVError) as exc:
                log.debug("output %s: read failed (%s)", out.spec.url, exc)
                self._stop.wait(0.2)
                continue
            if msg is None or msg.get_type() == "BAD_DATA":
                continue
            out.from_client += 1
            try:
                self._from_client(out, msg)
            except Exception:  # one bad message must not stop the output
                log.exception("output %s: %s not forwarded", out.spec.url, msg.get_type())

    def _from_client(self, out: _Output, msg: Message) -> None:
        kind = msg.get_type()
        if kind in NEVER_FORWARDED or (out.spec.read_only and not read_only_allows(msg)):
            out.dropped += 1
            self._note_drop(out, msg)
            return
        target = int(getattr(msg, "target_system", 0) or 0)
        links = [link for link in self.links if target in link.vehicles] if target else []
        for link in links or self.links:
            link.send_raw(self._signed_for(out, link, msg))
        out.forwarded += 1

    def _signed_for(self, out: _Output, link: Link, msg: Message) -> bytes:
        """The bytes to send on ``link``: as received, or re-signed when the link signs."""
        key = link.signing_key
        if key is None or getattr(msg, "_signed", False):
            return bytes(msg.get_msgbuf())
        resigner = out.resigners.get(id(link))
        if resigner is None or resigner.key != key:
            resigner = out.resigners[id(link)] = Resigner(key, link_id=200 + out.index % 50)
        return resigner.sign(msg)

    def _note_drop(self, out: _Output, msg: Message) -> None:
        kind = msg.get_type()
        if not notable(kind):
            log.debug("output %s (read-only): dropped %s", out.spec.url, kind)
            return
        now = time.monotonic()
        if now - out.warned.get(kind, -WARN_EVERY_S) < WARN_EVERY_S:
            return
        out.warned[kind] = now
        what = kind
        if kind in ("COMMAND_LONG", "COMMAND_INT"):
            name = _D.enums["MAV_CMD"].get(int(msg.command))
            what = f"{kind} {name.name if name is not None else msg.command}"
        reason = "never forwarded" if kind in NEVER_FORWARDED else "read-only output"
        log.warning("output %s: dropped %s from system %d component %d to system %s (%s)",
                    out.spec.url, what, msg.get_srcSystem(), msg.get_srcComponent(),
                    getattr(msg, "target_system", "any"), reason)
