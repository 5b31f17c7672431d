"""The failsafe monitor on synthetic snapshots: battery against the plan, link, fence, track."""

from __future__ import annotations

import pytest

from gcs.fleet.failsafe import AlertKind, FailsafeLimits, FailsafeMonitor
from gcs.snapshot import VehicleSnapshot
from planner.plan_model import Sortie
from tests.gcs.helpers import make_snapshot, tutorial_case


@pytest.fixture(scope="module")
def sortie() -> Sortie:
    """The three-drop sortie of the three-drone tutorial plan."""
    return max(tutorial_case(3).plan.sorties, key=lambda s: len(s.drop_ids))


def _flying(sortie: Sortie, seq: int, **changes: object) -> VehicleSnapshot:
    item = sortie.mission[seq]
    values: dict[str, object] = dict(armed=True, mode="AUTO", mission_seq=seq,
                                     lat_deg=item.lat_deg, lon_deg=item.lon_deg)
    values.update(changes)
    snap: VehicleSnapshot = make_snapshot(**values)
    return snap


def test_battery_margin_alerts_then_commands_rtl(sortie: Sortie) -> None:
    """A thin margin over the reserve alerts once; a broken reserve asks for RTL once."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(reserve_pct=20,
                                                                     battery_alert_margin_pct=5))
    needed = monitor.needed_pct(_flying(sortie, 2))
    assert 0 < needed <= sortie.metrics.energy_pct
    ok = monitor.check(_flying(sortie, 2, battery_pct=round(needed + 40)), 0.0,
                       seq=2)
    assert ok == []
    thin = monitor.check(_flying(sortie, 2, battery_pct=round(needed + 22)), 1.0,
                         seq=2)
    assert [a.kind for a in thin] == [AlertKind.BATTERY_LOW]
    assert monitor.check(_flying(sortie, 2, battery_pct=round(needed + 21)), 2.0,
                         seq=2) == []
    broken = monitor.check(_flying(sortie, 2, battery_pct=round(needed + 15)), 3.0,
                           seq=2)
    assert [(a.kind, a.action) for a in broken] == [(AlertKind.BATTERY_RESERVE, "RTL")]
    assert monitor.returning
    assert monitor.check(_flying(sortie, 2, battery_pct=5), 4.0, seq=2) == []


def test_need_falls_as_the_sortie_progresses(sortie: Sortie) -> None:
    """The predicted need for the rest shrinks from the full energy to nothing at the end."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    needs = [monitor.needed_pct(_flying(sortie, s), s)
             for s in (1, 7, 17, len(sortie.mission) - 1)]
    assert needs == sorted(needs, reverse=True)
    assert needs[0] == pytest.approx(sortie.metrics.energy_pct, rel=0.05)
    assert needs[-1] < 1.0


def test_reserve_broken_while_landing_is_reported_without_rtl(sortie: Sortie) -> None:
    """At the final descent breaking the reserve is an alert but RTL is not commanded."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    last = len(sortie.mission) - 1
    home = sortie.mission[0]
    snap = _flying(sortie, last, battery_pct=10, lat_deg=home.lat_deg, lon_deg=home.lon_deg)
    alerts = monitor.check(snap, 0.0, seq=last)
    assert [(a.kind, a.action) for a in alerts] == [(AlertKind.BATTERY_RESERVE, None)]


def test_link_lost_and_restored_in_vehicle_seconds(sortie: Sortie) -> None:
    """Heartbeat age is scaled by the time scale; loss and recovery alert once each."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(link_lost_s=5),
                              time_scale=10)
    assert monitor.check(_flying(sortie, 2, heartbeat_age_s=0.4), 0.0) == []
    lost = monitor.check(_flying(sortie, 2, heartbeat_age_s=0.6), 1.0)
    assert [a.kind for a in lost] == [AlertKind.LINK_LOST]
    assert monitor.check(_flying(sortie, 2, heartbeat_age_s=2.0), 2.0) == []
    back = monitor.check(_flying(sortie, 2, heartbeat_age_s=0.1), 3.0)
    assert [a.kind for a in back] == [AlertKind.LINK_RESTORED]


def test_fence_breach_and_vehicle_texts(sortie: Sortie) -> None:
    """A FENCE_STATUS breach alerts once; failsafe texts alert once each; PreArm is ignored."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    breach = monitor.check(_flying(sortie, 2, fence_breached=True, fence_breach_count=1,
                                   mode="RTL"), 0.0, seq=2)
    kinds = [a.kind for a in breach]
    assert AlertKind.FENCE_BREACH in kinds and AlertKind.MODE_CHANGE in kinds
    assert monitor.on_text("Polygon fence breached", 1.0) == []
    assert [a.kind for a in monitor.on_text("Battery Failsafe", 1.0)] == \
        [AlertKind.VEHICLE_FAILSAFE]
    assert monitor.on_text("Battery Failsafe", 2.0) == []
    assert monitor.on_text("PreArm: Battery 1 low capacity failsafe", 2.0) == []


@pytest.mark.parametrize(("offset_deg", "alerted"), [(0.0005, False), (0.005, True)])
def test_deviation_from_the_track(sortie: Sortie, offset_deg: float, alerted: bool) -> None:
    """55 m off the planned leg is tolerated, 550 m is an alert (limit 150 m)."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(deviation_m=150))
    a, b = sortie.mission[1], sortie.mission[2]
    mid_lat, mid_lon = (a.lat_deg + b.lat_deg) / 2, (a.lon_deg + b.lon_deg) / 2
    snap = _flying(sortie, 2, lat_deg=mid_lat + offset_deg, lon_deg=mid_lon)
    alerts = monitor.check(snap, 0.0, seq=2)
    assert (AlertKind.DEVIATION in [x.kind for x in alerts]) == alerted


def test_commanded_rtl_is_not_a_mode_alert(sortie: Sortie) -> None:
    """After the ground station commands RTL, the mode change raises no alert."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    monitor.commanded("RTL")
    assert monitor.check(_flying(sortie, 2, mode="RTL"), 0.0, seq=2) == []


def test_limits_are_checked() -> None:
    """Impossible thresholds are refused with the expected range."""
    with pytest.raises(ValueError, match="reserve_pct"):
        FailsafeLimits(reserve_pct=120)


#: Operator commands as the modes they send, and the mode the vehicle is then in.
COMMANDS = {"pause": (["LOITER"], "LOITER"), "resume": (["LOITER", "AUTO"], "AUTO"),
            "rtl": (["RTL"], "RTL"), "land": (["LAND"], "LAND"),
            "left_on_its_own": ([], "LOITER"), "none": ([], "AUTO")}
#: What the reserve check does after each: ask for RTL, or (already coming down) alert only.
RESERVE_ACTION = {"pause": "RTL", "resume": "RTL", "rtl": None, "land": None,
                  "left_on_its_own": "RTL", "none": "RTL"}


def _after(sortie: Sortie, command: str) -> tuple[FailsafeMonitor, str]:
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(reserve_pct=20))
    assert monitor.check(_flying(sortie, 3, battery_pct=95), 0.0, seq=3) == []
    sent, mode = COMMANDS[command]
    for m in sent:
        monitor.commanded(m)
    alerts = monitor.check(_flying(sortie, 3, battery_pct=95, mode=mode), 1.0, seq=3)
    kinds = [a.kind for a in alerts]
    assert (AlertKind.MODE_CHANGE in kinds) == (command == "left_on_its_own"), alerts
    return monitor, mode


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("fault", ["battery", "link", "fence"])
def test_no_command_switches_a_protection_off(sortie: Sortie, command: str, fault: str) -> None:
    """After every operator command (or the vehicle leaving AUTO on its own) each fault still
    raises its alert, and a broken reserve still asks for RTL unless already coming down."""
    monitor, mode = _after(sortie, command)
    faults: dict[str, dict[str, object]] = {
        "battery": {"battery_pct": 8}, "link": {"heartbeat_age_s": 30.0},
        "fence": {"fence_breached": True, "fence_breach_count": 1}}
    changes = faults[fault]
    alerts = monitor.check(_flying(sortie, 3, mode=mode, **changes), 2.0, seq=3)
    got = {a.kind: a.action for a in alerts}
    expected = {"battery": AlertKind.BATTERY_RESERVE, "link": AlertKind.LINK_LOST,
                "fence": AlertKind.FENCE_BREACH}[fault]
    assert expected in got, alerts
    if fault == "battery":
        assert got[expected] == RESERVE_ACTION[command]
        assert all(a.severity == "critical" for a in alerts if a.kind == expected)


def test_hold_checks_the_return_from_where_it_is(sortie: Sortie) -> None:
    """In a hold the need is the flight home from the vehicle's place, not the rest of the
    sortie: far out it is larger than near home."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    points = monitor.progress.points

    def at(i: int, **changes: object) -> VehicleSnapshot:
        return _flying(sortie, i, mode="LOITER", lat_deg=points[i].lat_deg,
                       lon_deg=points[i].lon_deg, alt_rel_m=points[i].alt_rel_m, **changes)

    far = max(range(1, len(points)), key=lambda i: monitor.home_distance_m(at(i)))
    out = monitor.return_pct(at(far))
    near = monitor.return_pct(at(0))
    assert 0.0 <= near < 0.5 < out < sortie.metrics.energy_pct
    margin = 20 + out
    monitor.commanded("LOITER")
    assert monitor.check(at(far, battery_pct=round(margin + 10)), 0.0, seq=far) == []
    broken = monitor.check(at(far, battery_pct=int(margin) - 1), 1.0, seq=far)
    assert [(a.kind, a.action) for a in broken if a.kind == AlertKind.BATTERY_RESERVE] == \
        [(AlertKind.BATTERY_RESERVE, "RTL")]


def test_resume_after_a_return_rearms_the_reserve_check(sortie: Sortie) -> None:
    """RTL (alert only below the reserve), then a resume: the reserve check asks for RTL again."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    monitor.commanded("RTL")
    low = monitor.check(_flying(sortie, 3, mode="RTL", battery_pct=10), 0.0, seq=3)
    assert [(a.kind, a.action) for a in low] == [(AlertKind.BATTERY_RESERVE, None)]
    monitor.commanded("AUTO")
    assert not monitor.returning
    again = monitor.check(_flying(sortie, 3, mode="AUTO", battery_pct=10), 1.0, seq=3)
    assert [(a.kind, a.action) for a in again] == [(AlertKind.BATTERY_RESERVE, "RTL")]


def test_a_refused_command_is_taken_back(sortie: Sortie) -> None:
    """An RTL the vehicle refused leaves the monitor as before: the reserve still asks RTL."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    undo = monitor.commanded("RTL")
    undo()
    assert not monitor.returning and "RTL" not in monitor.expected_modes
    alerts = monitor.check(_flying(sortie, 3, battery_pct=10), 0.0, seq=3)
    assert [(a.kind, a.action) for a in alerts] == [(AlertKind.BATTERY_RESERVE, "RTL")]
