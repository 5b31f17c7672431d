"""Helpers for binding tests: copter HEARTBEATs as raw bytes, sent over loopback UDP, and a
spoofer sending them in the background."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from gcs import mavlink as mav

_D = mav.dialect


def heartbeat(sysid: int, mode: str = "RTL", armed: bool = True) -> bytes:
    """A copter HEARTBEAT from vehicle ``sysid`` (unsigned)."""
    codec = mav.codec(sysid, 1)
    base = _D.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (_D.MAV_MODE_FLAG_SAFETY_ARMED if armed else 0)
    return bytes(codec.heartbeat_encode(_D.MAV_TYPE_QUADROTOR, _D.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                        base, mav.COPTER_MODES[mode],
                                        _D.MAV_STATE_ACTIVE).pack(codec))


def send(sock: socket.socket, port: int, packet: bytes, times: int = 5) -> None:
    """Send ``packet`` ``times`` times to a loopback UDP port."""
    for _ in range(times):
        sock.sendto(packet, ("127.0.0.1", port))


@contextmanager
def spoofing(port: int, newcomer: int, claimed: int = 1) -> Iterator[None]:
    """Twice a second until the block ends, HEARTBEATs to loopback UDP ``port`` from a new
    system ``newcomer`` (LOITER) and claiming vehicle ``claimed`` (RTL, armed)."""
    stop = threading.Event()

    def run() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not stop.is_set():
                send(sock, port, heartbeat(newcomer, "LOITER", armed=False), 1)
                send(sock, port, heartbeat(claimed, "RTL", armed=True), 1)
                stop.wait(0.5)

    thread = threading.Thread(target=run, daemon=True, name="spoofer")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5.0)
