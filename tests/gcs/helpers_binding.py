"""Helpers for binding tests: copter HEARTBEATs as raw bytes, sent over loopback UDP."""

from __future__ import annotations

import socket

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
