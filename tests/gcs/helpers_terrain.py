"""Helpers for terrain tests: a raw-MAVLink vehicle end of a TCP link, and the real SITL program
with the Littleton hub it flies from."""

from __future__ import annotations

import socket
import time
from typing import Any

from gcs import commands
from gcs import mavlink as mav
from gcs.errors import CommandRejected
from gcs.link import Link
from gcs.transfer import Retry, Target
from tests.helpers.shared_data import SHARED

_D = mav.dialect

#: South-west corner of the block holding the Littleton hub at 100 m spacing (degE7), as the
#: real vehicle asks for it.
LITTLETON = (44.317934, -71.825559)
#: The shared folder of the real SITL program and its ``copter.parm``.
BIN = SHARED / "ardupilot" / "bin"
ARDUCOPTER = BIN / "arducopter"
#: The Littleton hub of the White Mountains district.
HUB = (44.317934, -71.825559)


class FakeVehicle:
    """A vehicle end of a TCP link (listening like SITL's SERIAL0) speaking raw MAVLink."""

    def __init__(self, port: int) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(1)
        self.conn: socket.socket | None = None
        self.codec = mav.codec(1, 1)

    def accept(self) -> None:
        """Wait for the ground station to connect."""
        self.server.settimeout(5.0)
        self.conn, _ = self.server.accept()
        self.conn.settimeout(0.1)

    def send(self, msg: Any) -> None:
        """Send one message to the ground station."""
        assert self.conn is not None
        self.conn.sendall(msg.pack(self.codec))

    def heartbeat(self) -> None:
        """Send a quadcopter HEARTBEAT."""
        self.send(self.codec.heartbeat_encode(_D.MAV_TYPE_QUADROTOR, _D.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                              0, 0, _D.MAV_STATE_STANDBY))

    def receive(self, kind: str, until: Any, timeout_s: float = 5.0) -> list[Any]:
        """Messages of type ``kind`` until ``until(list)`` holds (or the timeout)."""
        assert self.conn is not None
        got: list[Any] = []
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not until(got):
            try:
                data = self.conn.recv(65536)
            except TimeoutError:
                self.heartbeat()
                continue
            for msg in self.codec.parse_buffer(data) or []:
                if msg.get_type() == kind:
                    got.append(msg)
        return got

    def close(self) -> None:
        """Close the connection and the listening socket."""
        if self.conn is not None:
            self.conn.close()
        self.server.close()


def arm(link: Link, target: Target, timeout_s: float) -> None:
    """Arm vehicle ``target``, retrying while it refuses, for up to ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while True:
        try:
            commands.arm(link, target, retry=Retry(timeout_s=1.0, tries=3))
            return
        except CommandRejected:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)
