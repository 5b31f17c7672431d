"""Health checks of a running SITL instance: its TCP port accepts, and it sends HEARTBEATs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gcs.mavlink import GCS_COMPONENT_ID, GCS_SYSTEM_ID, codec, dialect


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """What one HEARTBEAT said: sender system and component, autopilot, type, mode, armed."""

    sysid: int
    compid: int
    autopilot: int
    vehicle_type: int
    custom_mode: int
    armed: bool


def port_open(host: str, port: int, *, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` is accepted (the connection is closed again)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_listening(host: str, port: int) -> bool:
    """True when something listens on TCP ``port``, without connecting where Linux tells.

    SITL serves one client per port, so this reads the kernel's socket tables
    (``/proc/net/tcp*``) instead of taking the port a ground station will use; elsewhere it
    falls back to :func:`port_open`.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not any(t.exists() for t in tables):
        return port_open(host, port)
    listen_state = "0A"
    for table in tables:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == listen_state and \
                    int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def read_heartbeat(host: str, port: int, *, sysid: int | None = None,
                   timeout_s: float = 10.0,
                   abort: Callable[[], bool] | None = None) -> Heartbeat | None:
    """Connect to ``host:port`` and wait for a vehicle HEARTBEAT; None on timeout or abort.

    Parameters
    ----------
    host, port
        The MAVLink TCP port of the instance.
    sysid
        Only accept a HEARTBEAT from this system id (None: any vehicle).
    timeout_s
        Wall-clock seconds to keep trying (connection refused is retried).
    abort
        Called between attempts; returning True gives up at once (e.g. the process died).

    Returns
    -------
    Heartbeat or None
        The first matching HEARTBEAT.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if abort is not None and abort():
            return None
        try:
            sock = socket.create_connection((host, port), timeout=0.5)
        except OSError:
            time.sleep(0.05)
            continue
        with sock:
            beat = _listen(sock, sysid, deadline, abort)
        if beat is not None:
            return beat
    return None


def _listen(sock: socket.socket, sysid: int | None, deadline: float,
            abort: Callable[[], bool] | None) -> Heartbeat | None:
    mav = codec(GCS_SYSTEM_ID, GCS_COMPONENT_ID)
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        if abort is not None and abort():
            return None
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return None
        if not data:
            return None
        for msg in mav.parse_buffer(data) or ():
            if msg.get_type() != "HEARTBEAT" or msg.type == dialect.MAV_TYPE_GCS:
                continue
            if sysid is not None and msg.get_srcSystem() != sysid:
                continue
            return Heartbeat(sysid=msg.get_srcSystem(), compid=msg.get_srcComponent(),
                             autopilot=msg.autopilot, vehicle_type=msg.type,
                             custom_mode=msg.custom_mode, armed=bool(msg.base_mode
                                        & dialect.MAV_MODE_FLAG_SAFETY_ARMED))
    return None
