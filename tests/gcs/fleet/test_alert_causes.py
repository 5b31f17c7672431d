"""Each alert cause on recorded states: a full battery is never "low", the operator's own
commands are never "left the mission", a stalled ground station or a slow vehicle is no lost
link, and every alert carries its severity, cause and suggested action."""

from __future__ import annotations

import dataclasses
import math

import pytest

from gcs.fleet.advice import ADVICE, advice_for
from gcs.fleet.failsafe import Alert, AlertKind, FailsafeLimits, FailsafeMonitor, Severity
from gcs.fleet.link_watch import LinkClock
from gcs.snapshot import VehicleSnapshot
from planner.plan_model import Sortie
from tests.gcs.helpers import make_snapshot, tutorial_case


@pytest.fixture(scope="module")
def sortie() -> Sortie:
    """The three-drop sortie of the three-drone tutorial plan."""
    return max(tutorial_case(3).plan.sorties, key=lambda s: len(s.drop_ids))


def _needing(sortie: Sortie, energy_pct: float) -> Sortie:
    """The sortie as if planned to need ``energy_pct`` of the battery."""
    return dataclasses.replace(sortie, metrics=dataclasses.replace(sortie.metrics,
                                                                   energy_pct=energy_pct))


def _at(sortie: Sortie, seq: int, **changes: object) -> VehicleSnapshot:
    item = sortie.mission[seq]
    values: dict[str, object] = dict(armed=True, mode="AUTO", mission_seq=seq,
                                     lat_deg=item.lat_deg, lon_deg=item.lon_deg)
    values.update(changes)
    snap: VehicleSnapshot = make_snapshot(**values)
    return snap


def _kinds(alerts: list[Alert]) -> list[AlertKind]:
    return [a.kind for a in alerts]


def _nav_seqs(sortie: Sortie) -> list[int]:
    return [i for i, m in enumerate(sortie.mission) if i > 0 and m.is_nav]


@pytest.mark.parametrize("energy_pct", [10.0, 48.0, 72.5, 76.35, 79.0])
def test_a_full_battery_is_never_low(sortie: Sortie, energy_pct: float) -> None:
    """A sortie planned close to its reserve (76.35 % + 20 %, as the district's S004) flown at
    100 % in GUIDED and AUTO, and then exactly as planned, never reads "battery low"."""
    planned = _needing(sortie, energy_pct)
    monitor = FailsafeMonitor(planned, sysid=1, limits=FailsafeLimits(reserve_pct=20))
    alerts = monitor.check(_at(planned, 0, mode="GUIDED", battery_pct=100), 0.0, seq=None)
    for t, seq in enumerate(_nav_seqs(planned), start=1):
        alerts += monitor.check(_at(planned, seq, battery_pct=100), float(t), seq=seq)
    monitor = FailsafeMonitor(planned, sysid=1, limits=FailsafeLimits(reserve_pct=20))
    for t, seq in enumerate(_nav_seqs(planned)):
        used = energy_pct - monitor.needed_pct(_at(planned, seq), seq)
        pct = int(100 - used)  # as the vehicle reports it: rounded down
        alerts += monitor.check(_at(planned, seq, battery_pct=pct), float(t), seq=seq)
    assert not [a for a in alerts if a.kind in (AlertKind.BATTERY_LOW,
                                                AlertKind.BATTERY_RESERVE)], alerts


def test_a_tight_sortie_is_low_once_it_does_worse_than_planned(sortie: Sortie) -> None:
    """The same tight sortie once it does 2.5 % worse than its plan is "low" with the figures,
    then breaking the reserve asks for RTL."""
    planned = _needing(sortie, 76.35)
    monitor = FailsafeMonitor(planned, sysid=1, limits=FailsafeLimits(reserve_pct=20))
    assert monitor.check(_at(planned, 1, battery_pct=100), 0.0, seq=1) == []
    assert monitor.low_margin_pct() == pytest.approx(3.65 - 2.5)
    seq = _nav_seqs(planned)[2]
    need = monitor.needed_pct(_at(planned, seq), seq)
    planned_pct = 100 - (76.35 - need)
    assert monitor.check(_at(planned, seq, battery_pct=math.floor(planned_pct)), 1.0,
                         seq=seq) == []
    pct = math.ceil(need + 20 + monitor.low_margin_pct()) - 1  # under the limit, over 0
    [low] = monitor.check(_at(planned, seq, battery_pct=pct), 1.0, seq=seq)
    assert (low.kind, low.severity, low.action) == (AlertKind.BATTERY_LOW, Severity.WARNING, None)
    assert f"with {need:.0f} % needed for the rest of the sortie and a 20 % reserve" in \
        low.message
    broken = monitor.check(_at(planned, seq, battery_pct=pct - 2), 2.0, seq=seq)
    assert [(a.kind, a.action) for a in broken] == [(AlertKind.BATTERY_RESERVE, "RTL")]
    assert broken[0].advice == "vehicle is returning; prepare the landing site"


@pytest.mark.parametrize("pct", [-1, 101, 255, None])
def test_an_unknown_battery_reading_raises_nothing(sortie: Sortie, pct: int | None) -> None:
    """A battery reading that is not a percentage (unknown, uninitialised) is no alert."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    assert monitor.check(_at(sortie, 2, battery_pct=pct), 0.0, seq=2) == []


def test_returning_battery_alert_names_the_need_and_the_action(sortie: Sortie) -> None:
    """Below the reserve on the way home: critical, with the battery, the need to return and
    what the vehicle does."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(reserve_pct=20))
    monitor.commanded("RTL")
    far = max(_nav_seqs(sortie), key=lambda i: monitor.home_distance_m(_at(sortie, i)))
    [alert] = monitor.check(_at(sortie, far, mode="RTL", battery_pct=21), 0.0, seq=far)
    assert alert.kind == AlertKind.BATTERY_RESERVE and alert.severity == Severity.CRITICAL
    assert alert.message.startswith("battery 21 % with ")
    assert "needed to return" in alert.message and "returning in mode RTL" in alert.message


@pytest.mark.parametrize("mode", ["LOITER", "BRAKE"])
def test_operator_pause_is_not_leaving_the_mission(sortie: Sortie, mode: str) -> None:
    """A pause the operator commanded raises neither "left the mission" nor a deviation, even
    off the track and when its confirmation was lost (the command reported failed)."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(deviation_m=150))
    assert monitor.check(_at(sortie, 2, battery_pct=95), 0.0, seq=2) == []
    undo = monitor.commanded(mode)
    undo()  # no confirmation heard: the ground station reports the command as failed
    a, b = sortie.mission[1], sortie.mission[2]
    off = _at(sortie, 2, mode=mode, battery_pct=95, lat_deg=(a.lat_deg + b.lat_deg) / 2 + 0.01,
              lon_deg=(a.lon_deg + b.lon_deg) / 2)
    assert monitor.check(off, 1.0, seq=2) == []
    assert monitor.check(off, 2.0, seq=2) == []


def test_a_mode_nobody_asked_for_is_leaving_the_mission(sortie: Sortie) -> None:
    """LOITER that no command asked for is "left the mission" (a warning, once)."""
    monitor = FailsafeMonitor(sortie, sysid=1)
    [alert] = monitor.check(_at(sortie, 2, mode="LOITER", battery_pct=95), 0.0, seq=2)
    assert (alert.kind, alert.severity) == (AlertKind.MODE_CHANGE, Severity.WARNING)
    assert alert.needs_ack and alert.advice == ADVICE["mode_change"]
    assert monitor.check(_at(sortie, 2, mode="LOITER", battery_pct=95), 1.0, seq=2) == []


def _link_run(monitor: FailsafeMonitor, sortie: Sortie, ages: list[tuple[float, float]],
              boot_rate: float = 10.0) -> list[Alert]:
    """Checks at (ground time, heartbeat age) pairs; the vehicle's clock runs ``boot_rate``
    times the ground's, its position reports arriving up to the last heartbeat."""
    out = []
    for now, age in ages:
        heard = now - age
        out += monitor.check(_at(sortie, 2, battery_pct=95, heartbeat_age_s=age,
                                 received_s=heard, boot_time_s=100 + heard * boot_rate),
                             now, seq=2)
    return out


def _ticks(start: float, end: float, period: float = 0.05) -> list[float]:
    return [start + i * period for i in range(round((end - start) / period))]


def test_a_ground_station_stall_is_no_lost_link(sortie: Sortie) -> None:
    """At speed-up 10, a 2 s stall of the ground station's own checks (messages queued, every
    heartbeat looking 2 s old when it wakes) raises no link_lost; the queue drains, fine."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(link_lost_s=5),
                              time_scale=10, check_period_s=0.05)
    healthy = [(t, 0.05) for t in _ticks(0.0, 3.0)]
    stalled = [(5.0, 2.05), (5.05, 2.1), (5.1, 0.02)]
    after = [(t, 0.05) for t in _ticks(5.15, 7.0)]
    assert _link_run(monitor, sortie, healthy + stalled + after) == []
    assert monitor.link_clock.last_stall_s == pytest.approx(2.05)


def test_a_stopped_link_is_lost_then_restored(sortie: Sortie) -> None:
    """The same monitor, the link really stopping: link_lost after the vehicle's 5 s (0.5 s of
    ground time at speed-up 10), then link_restored (info, no acknowledgement) when it returns."""
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(link_lost_s=5),
                              time_scale=10, check_period_s=0.05)
    healthy = [(t, 0.05) for t in _ticks(0.0, 3.0)]
    silent = [(t, t - 3.0) for t in _ticks(3.0, 4.0)]
    alerts = _link_run(monitor, sortie, healthy + silent)
    [lost] = alerts
    assert lost.kind == AlertKind.LINK_LOST and lost.needs_ack
    assert 3.5 <= lost.at_s <= 3.6
    [back] = _link_run(monitor, sortie, [(t, 0.05) for t in _ticks(4.0, 4.5)])
    assert back.kind == AlertKind.LINK_RESTORED and back.severity == Severity.INFO
    assert not back.needs_ack


def test_a_vehicle_slower_than_its_speedup_is_judged_in_its_own_seconds(sortie: Sortie) -> None:
    """A simulator starved of CPU runs at 4x, not its nominal 10x: 0.6 s without a heartbeat
    is 2.4 of its seconds (no alert), 1.4 s is 5.6 (link_lost)."""
    clock = LinkClock(10.0, check_period_s=0.05)
    for t in _ticks(0.0, 3.0):
        clock.observe(make_snapshot(received_s=t, boot_time_s=100 + 4 * t), t)
    assert clock.pace() == pytest.approx(4.0)
    snap = make_snapshot(heartbeat_age_s=0.6, received_s=2.95, boot_time_s=100 + 4 * 2.95)
    assert clock.heartbeat_age_s(snap, 3.0) == pytest.approx(2.4)
    monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(link_lost_s=5),
                              time_scale=10, check_period_s=0.05)
    ages = [(t, 0.05) for t in _ticks(0.0, 3.0)] + [(t, t - 3.0) for t in _ticks(3.0, 4.5)]
    [lost] = _link_run(monitor, sortie, ages, boot_rate=4.0)
    assert lost.kind == AlertKind.LINK_LOST and 4.25 <= lost.at_s <= 4.35


def test_every_kind_has_advice_and_a_severity() -> None:
    """Every alert kind has its suggested action; an RTL the ground station commands says the
    vehicle is returning."""
    assert {str(k) for k in AlertKind} == set(ADVICE)
    assert advice_for(AlertKind.DEVIATION, "RTL").startswith("vehicle is returning")
