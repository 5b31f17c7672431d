"""Operator commands in flight never switch a failsafe off: after a pause, resume, RTL or land
sent through the fleet manager (as the console sends them), a battery sag below the reserve or
a link cut (then the sag) on the built-in simulator still raises its alert, and RTL is commanded
where the rule says (hold or mission: yes; already returning or landing: alert only)."""

from __future__ import annotations

from typing import Any

import pytest

from gcs.fleet.failsafe import AlertKind, FailsafeLimits
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.link import Link
from tests.gcs import helpers
from tests.gcs.helpers import ReleaseRecorder, one_sortie, tutorial_case
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.sitl, pytest.mark.slow]
fleet_sim = helpers.fleet_sim

#: The modes each operator command sends, in order.
COMMANDS = {"pause": ["LOITER"], "resume": ["LOITER", "AUTO"], "rtl": ["RTL"],
            "land": ["LAND"]}
#: Whether the broken reserve makes the ground station command RTL after each command.
RTL_AFTER = {"pause": True, "resume": True, "rtl": False, "land": False}
#: Slower than other fleet tests: a LAND from cruise height must not touch down before the sag.
SPEEDUP = 10.0


def _airborne(fleet: Any) -> bool:
    snap = fleet.vehicle(0).snapshot()
    return bool(snap.armed and snap.alt_rel_m > 30.0 and snap.mode == "AUTO")


@pytest.mark.parametrize("fault", ["battery", "link"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_protection_acts_after_every_command(fleet_sim: Any, command: str, fault: str) -> None:
    """Command in flight, then the fault: its alert comes, a broken reserve still RTLs (or
    alerts when already coming down), and the operator's own commands raise no mode alert."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    fleet = fleet_sim(case, 1, speedup=SPEEDUP)
    links = [Link(u, heartbeat_period_s=1.0 / SPEEDUP).open() for u in fleet.connection_strings]
    manager = FleetManager(links, plan, options=FlyOptions(
        time_scale=SPEEDUP, failsafe=FailsafeLimits(link_lost_s=5.0, reserve_pct=20.0)),
        dem=case.dem, drone_types=case.scenario.drone_types)
    try:
        manager.connect(10.0)
        with ReleaseRecorder(fleet, 1) as recorder:
            manager.start()
            wait_until(lambda: _airborne(fleet), 60.0, "take-off")
            for mode in COMMANDS[command]:
                manager.command(1, mode)
                wait_until(lambda m=mode: fleet.vehicle(0).snapshot().mode == m, 10.0,  # type: ignore[misc]
                           f"mode {mode}")
            if fault == "battery":
                fleet.vehicle(0).battery_sag(0.85)
                wait_until(lambda: any(a.kind == AlertKind.BATTERY_RESERVE
                                       for a in manager.alerts()), 20.0, "the reserve alert")
                if RTL_AFTER[command]:
                    wait_until(lambda: "RTL" in recorder.modes[1], 20.0, "RTL")
            else:
                fleet.vehicle(0).cut_link(30.0)
                wait_until(lambda: any(a.kind == AlertKind.LINK_LOST for a in manager.alerts()),
                           20.0, "the link-lost alert")
                wait_until(lambda: any(a.kind == AlertKind.LINK_RESTORED
                                       for a in manager.alerts()), 20.0, "the link back")
                fleet.vehicle(0).battery_sag(0.85)
                wait_until(lambda: any(a.kind == AlertKind.BATTERY_RESERVE
                                       for a in manager.alerts()), 20.0,
                           "the reserve alert after the link came back")
                wait_until(lambda: bool(recorder.modes[1] & {"RTL", "LAND"}), 20.0,
                           "the return after the link came back")
    finally:
        manager.stop()
        for link in links:
            link.close()
    alerts = manager.alerts()
    [reserve] = [a for a in alerts if a.kind == AlertKind.BATTERY_RESERVE]
    assert reserve.severity == "critical"
    if fault == "battery":
        assert reserve.action == ("RTL" if RTL_AFTER[command] else None), reserve
    else:  # the vehicle's own link failsafe may have started the return already
        assert recorder.modes[1] & {"RTL", "LAND"}, recorder.modes
    assert not [a for a in alerts if a.kind == AlertKind.MODE_CHANGE
                and a.message.endswith(tuple(COMMANDS[command]))], alerts
