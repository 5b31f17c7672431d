"""The failsafe monitor on synthetic snapshots: battery against the plan, link, fence, track."""

from __future__ import annotations

import pytest

from gcs.failsafe import AlertKind, FailsafeLimits, FailsafeMonitor
from gcs.telemetry import VehicleSnapshot
from planner.plan_model import Sortie
from tests.gcs.fixtures import make_snapshot, tutorial_case


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
