"""A field-style DroneKit script (the maintained ``dronekit2`` package) against the built-in
simulator: connect, wait until armable, upload a mission with ``vehicle.commands``, arm in
GUIDED, take off, switch to AUTO and fly the mission to the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gcs.mavlink import dialect
from tests.helpers.ports import free_base_port
from tests.helpers.waiting import wait_until
from tests.sitl.helpers_flying import distance_m, offset

mavlink = dialect
pytestmark = [pytest.mark.sitl, pytest.mark.slow]


def _wait_until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``cond`` every 0.1 s as field scripts do; fail after ``timeout_s`` wall seconds."""
    wait_until(cond, timeout_s, what, period_s=0.1)


HOME = (30.3165, 78.0322, 640.0)
CRUISE_ALT_M = 15.0


def test_dronekit_script_flies_a_mission(builtin_fleet: Callable[..., Any]) -> None:
    """The classic DroneKit mission script flies every waypoint and lands back at home."""
    dronekit = pytest.importorskip("dronekit")
    fleet = builtin_fleet(1, home=HOME, speedup=10.0, base_port=free_base_port(1))
    vehicle = dronekit.connect(fleet.connection_strings[0], wait_ready=True, timeout=60,
                               heartbeat_timeout=30)
    try:
        _wait_until(lambda: vehicle.is_armable, 30, "is_armable")
        cmds = vehicle.commands
        cmds.download()
        cmds.wait_ready()
        cmds.clear()
        north = offset(HOME[0], HOME[1], 120, 0)
        north_east = offset(HOME[0], HOME[1], 120, 120)
        rel = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
        for command, (lat, lon), alt in (
                (mavlink.MAV_CMD_NAV_TAKEOFF, (0.0, 0.0), CRUISE_ALT_M),
                (mavlink.MAV_CMD_NAV_WAYPOINT, north, CRUISE_ALT_M),
                (mavlink.MAV_CMD_NAV_WAYPOINT, north_east, CRUISE_ALT_M),
                (mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, (0.0, 0.0), 0.0)):
            cmds.add(dronekit.Command(0, 0, 0, rel, command, 0, 0, 0, 0, 0, 0, lat, lon, alt))
        cmds.upload(timeout=30)

        vehicle.mode = dronekit.VehicleMode("GUIDED")
        _wait_until(lambda: vehicle.mode.name == "GUIDED", 10, "GUIDED")
        vehicle.armed = True
        _wait_until(lambda: vehicle.armed, 10, "armed")
        vehicle.simple_takeoff(CRUISE_ALT_M)
        _wait_until(lambda: (vehicle.location.global_relative_frame.alt or 0.0)
                   >= CRUISE_ALT_M * 0.95, 30, "take-off altitude")

        vehicle.commands.next = 0
        vehicle.mode = dronekit.VehicleMode("AUTO")
        _wait_until(lambda: vehicle.mode.name == "AUTO", 10, "AUTO")
        seen: list[int] = []

        def progress() -> bool:
            if not seen or seen[-1] != vehicle.commands.next:
                seen.append(vehicle.commands.next)
            return not vehicle.armed

        _wait_until(progress, 120, "the end of the mission (disarmed)")
        assert [n for n in seen if n >= 2][:3] == [2, 3, 4]
        here = vehicle.location.global_relative_frame
        assert distance_m(here.lat, here.lon, HOME[0], HOME[1]) < 5.0
        assert here.alt < 1.0

        cmds.download()
        cmds.wait_ready()
        assert [c.command for c in cmds] == [mavlink.MAV_CMD_NAV_TAKEOFF,
                                            mavlink.MAV_CMD_NAV_WAYPOINT,
                                            mavlink.MAV_CMD_NAV_WAYPOINT,
                                            mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH]
        # Command is the float32 MISSION_ITEM: degrees survive to about 1e-5 (1 m)
        assert (cmds[1].x, cmds[1].y) == pytest.approx(north, abs=1e-5)
    finally:
        vehicle.close()
