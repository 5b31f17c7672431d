"""One vehicle's MAVLink endpoint: a TCP server (one client at a time) and an optional UDP port.

Like SITL's SERIAL0, the TCP port serves one client; a second connection waits in the listen
backlog until the first client leaves. The UDP port answers whoever sent the last datagram
(ground stations connect with ``udpout:HOST:PORT``). Messages pass through the link-fault pipes
in both directions, and MAVLink 2 signing applies once SETUP_SIGNING has set a key.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
from typing import Any

from gcs.mavlink import codec
from gcs.mavlink import dialect as mav
from sitl.builtin.copter.vehicle import SimVehicle
from sitl.builtin.faults import FaultyPipe
from sitl.errors import SimulatorError

log = logging.getLogger(__name__)

_MAX_TX_BUFFER = 1 << 20
_UNSIGNED_OK = frozenset({mav.MAVLINK_MSG_ID_RADIO_STATUS})


class _Link:
    """One transport to a ground station with its own parser and sequence numbers."""

    def __init__(self, sock: socket.socket, addr: Any, sysid: int) -> None:
        self.sock = sock
        self.addr = addr
        self.codec = codec(sysid, 1)
        self.tx = bytearray()


def _allow_unsigned(_mav: Any, msg_id: int) -> bool:
    return msg_id in _UNSIGNED_OK


class Endpoint:
    """The network side of one simulated vehicle.

    Parameters
    ----------
    vehicle
        The vehicle served.
    host, port
        Where to listen (TCP, and UDP when ``udp``).
    udp
        Also serve MAVLink over UDP on the same port number.
    seed
        Seed of the link-fault generators.
    """

    def __init__(self, vehicle: SimVehicle, *, host: str, port: int, udp: bool,
                 seed: int) -> None:
        self.vehicle = vehicle
        self.host = host
        self.port = port
        self.use_udp = udp
        self.listener: socket.socket | None = None
        self.udp_sock: socket.socket | None = None
        self.tcp: _Link | None = None
        self.udp: _Link | None = None
        self.downlink: FaultyPipe[Any] = FaultyPipe(seed * 2 + 1)
        self.uplink: FaultyPipe[Any] = FaultyPipe(seed * 2 + 2)
        self.bytes_sent = 0
        self.messages_sent = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self, selector: selectors.BaseSelector) -> None:
        """Bind and listen; register with ``selector``."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(4)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise SimulatorError(f"cannot listen on tcp:{self.host}:{self.port}: {exc}",
                                 instance=self.vehicle.sysid - 1) from exc
        self.listener = listener
        selector.register(listener, selectors.EVENT_READ, self._on_accept)
        if self.use_udp:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.bind((self.host, self.port))
                udp.setblocking(False)
            except OSError as exc:
                udp.close()
                raise SimulatorError(f"cannot bind udp:{self.host}:{self.port}: {exc}",
                                     instance=self.vehicle.sysid - 1) from exc
            self.udp_sock = udp
            selector.register(udp, selectors.EVENT_READ, self._on_udp)

    def close(self, selector: selectors.BaseSelector) -> None:
        """Close every socket."""
        for sock in (self.tcp.sock if self.tcp else None, self.listener, self.udp_sock):
            if sock is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(sock)
            sock.close()
        self.tcp = None
        self.listener = None
        self.udp_sock = None

    @property
    def connected(self) -> bool:
        """A ground station is connected (TCP) or has been heard (UDP)."""
        return self.tcp is not None or self.udp is not None

    # -- input --------------------------------------------------------------------------------
    def _new_link(self, sock: socket.socket, addr: Any) -> _Link:
        link = _Link(sock, addr, self.vehicle.sysid)
        self._apply_signing(link)
        return link

    def _on_accept(self, selector: selectors.BaseSelector) -> None:
        if self.tcp is not None or self.listener is None:
            return  # one client at a time: the new one waits in the backlog
        try:
            sock, addr = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tcp = self._new_link(sock, addr)
        selector.register(sock, selectors.EVENT_READ, self._on_tcp)
        selector.unregister(self.listener)
        self.vehicle.link_connected = True
        log.debug("vehicle %d: client %s connected", self.vehicle.sysid, addr)

    def _drop_tcp(self, selector: selectors.BaseSelector) -> None:
        if self.tcp is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(self.tcp.sock)
        self.tcp.sock.close()
        self.tcp = None
        self.vehicle.link_connected = self.udp is not None
        if self.listener is not None:
            selector.register(self.listener, selectors.EVENT_READ, self._on_accept)

    def _on_tcp(self, selector: selectors.BaseSelector) -> None:
        link = self.tcp
        if link is None:
            return
        try:
            data = link.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_tcp(selector)
            return
        self._parse(link, data)

    def _on_udp(self, selector: selectors.BaseSelector) -> None:
        sock = self.udp_sock
        if sock is None:
            return
        while True:
            try:
                data, addr = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self.udp is None:
                self.udp = self._new_link(sock, addr)
                self.vehicle.link_connected = True
            self.udp.addr = addr
            self._parse(self.udp, data)

    def _parse(self, link: _Link, data: bytes) -> None:
        try:
            msgs = link.codec.parse_buffer(data) or []
        except mav.MAVError:
            return
        now = self.vehicle.t
        for msg in msgs:
            if msg.get_type() == "BAD_DATA":
                continue
            self.uplink.put(msg, now)

    def deliver(self) -> None:
        """Hand the due incoming messages to the vehicle."""
        vehicle = self.vehicle
        for msg in self.uplink.take(vehicle.t):
            vehicle.link_v1 = msg.get_msgbuf()[0] == mav.PROTOCOL_MARKER_V1
            vehicle.handle(msg)
            if vehicle.signing_changed:
                vehicle.signing_changed = False
                for link in (self.tcp, self.udp):
                    if link is not None:
                        self._apply_signing(link)

    def _apply_signing(self, link: _Link) -> None:
        signing = link.codec.signing
        key = self.vehicle.signing_key
        signing.secret_key = key
        signing.sign_outgoing = key is not None
        signing.allow_unsigned_callback = _allow_unsigned if key is not None else None
        signing.link_id = 0
        signing.timestamp = max(signing.timestamp, self.vehicle.signing_timestamp)

    # -- output -------------------------------------------------------------------------------
    def flush(self, selector: selectors.BaseSelector) -> None:
        """Encode and send the vehicle's outbox (through the link faults)."""
        vehicle = self.vehicle
        now = vehicle.t
        outbox = vehicle.outbox
        if outbox:
            if self.tcp is None and self.udp is None:
                outbox.clear()
            else:
                for msg in outbox:
                    self.downlink.put(msg, now)
                outbox.clear()
        due = self.downlink.take(now)
        v1 = vehicle.link_v1
        for link in (self.tcp, self.udp):
            if link is None:
                continue
            for msg in due:
                if v1 and msg.id > 255:
                    continue
                packet = msg.pack(link.codec, force_mavlink1=v1)
                if link is self.udp:
                    self._send_datagram(link, packet)
                elif len(link.tx) < _MAX_TX_BUFFER:
                    link.tx += packet  # past the limit whole frames are dropped, like a full radio

            self.messages_sent += len(due)
            if link.tx:
                self._send(link, selector)

    def _send_datagram(self, link: _Link, packet: bytes) -> None:
        with contextlib.suppress(OSError):
            self.bytes_sent += link.sock.sendto(packet, link.addr)

    def _send(self, link: _Link, selector: selectors.BaseSelector) -> None:
        try:
            sent = link.sock.send(link.tx)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop_tcp(selector)
            return
        self.bytes_sent += sent
        del link.tx[:sent]

    def set_cut(self, until_s: float) -> None:
        """Drop everything in both directions until simulated time ``until_s``."""
        self.downlink.cut_until_s = until_s
        self.uplink.cut_until_s = until_s
        self.downlink.clear()
        self.uplink.clear()

