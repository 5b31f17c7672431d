"""The fleet manager flying tutorial sorties on the built-in simulator, with injected faults.

The whole-plan test flies the tutorial scenario with three drones at its hub (four sorties, seven
drops) rather than the five-hub district, whose 23 sorties of up to 50 minutes would take many
minutes of wall time even at 50x.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gcs import mavlink as mav
from gcs.errors import FleetError
from gcs.fleet.assign import assign_vehicles
from gcs.fleet.failsafe import AlertKind, FailsafeLimits
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.fleet.status import Phase
from gcs.fleet.tracking import DropState
from gcs.geo import distance_m
from gcs.link import Link
from planner.plan_model import Plan, Sortie
from tests.gcs import helpers
from tests.gcs.helpers import (
    SPEEDUP,
    FleetCase,
    ReleaseRecorder,
    district_case,
    one_sortie,
    tutorial_case,
    two_hub_case,
)
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.sitl
fleet_sim = helpers.fleet_sim


def _links(urls: list[str]) -> list[Link]:
    """Links whose ground-station heartbeat keeps up with the simulator's clock."""
    return [Link(u, heartbeat_period_s=1.0 / SPEEDUP).open() for u in urls]


def _close(links: list[Link]) -> None:
    for link in links:
        link.close()


def _manager(case: FleetCase, plan: Plan, links: list[Link], db: Path | None,
             **options: Any) -> FleetManager:
    options.setdefault("time_scale", SPEEDUP)
    options.setdefault("reset_battery", True)
    flight_log = None if db is None else FlightLog(db)
    return FleetManager(links, plan, options=FlyOptions(**options), flight_log=flight_log,
                        dem=case.dem, drone_types=case.scenario.drone_types)


def _airborne(fleet: Any, index: int = 0, alt_m: float = 30.0) -> Callable[[], bool]:
    def up() -> bool:
        snap = fleet.vehicle(index).snapshot()
        return bool(snap.armed and snap.alt_rel_m > alt_m and snap.mode == "AUTO")
    return up


def test_plan_vehicles_are_matched_in_sorted_order() -> None:
    """Names sorted against system ids sorted; too few vehicles is a clear error."""
    assert assign_vehicles(["b/q/2", "a/q/1", "b/q/1"], [9, 4, 6, 2]) == \
        {"a/q/1": 2, "b/q/1": 4, "b/q/2": 6}
    with pytest.raises(FleetError, match="2 answered"):
        assign_vehicles(["a", "b", "c"], [1, 2])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["tutorial", pytest.param("district", marks=pytest.mark.slow)])
def test_three_drones_deliver_every_drop(fleet_sim: Any, tmp_path: Path, which: str) -> None:
    """Three simulated drones fly the whole plan: every drop delivered, released in place."""
    case = tutorial_case(3) if which == "tutorial" else district_case(3)
    plan = case.plan
    fleet = fleet_sim(case, 3)
    links = _links(fleet.connection_strings)
    manager = _manager(case, plan, links, tmp_path / "fly.db")
    try:
        assignment = manager.connect(10.0)
        assert assignment == {name: i + 1 for i, name in
                              enumerate(sorted({s.vehicle for s in plan.sorties}))}
        with ReleaseRecorder(fleet, 3) as recorder:
            manager.start()
            assert manager.wait(600.0), [v.phase for v in manager.vehicles()]
    finally:
        manager.stop()
        _close(links)
    assert manager.all_delivered, [(d.drop_id, d.state, d.reason) for d in manager.drops()]
    assert not [a for a in manager.alerts() if a.action is not None]
    for name, sysid in assignment.items():
        mine = [s for s in plan.sorties if s.vehicle == name]
        planned = [(s.mission[seq - 1].lat_deg, s.mission[seq - 1].lon_deg)
                   for s in mine for seq, m in enumerate(s.mission) if m.command == 211]
        released = recorder.releases[sysid]
        assert fleet.vehicle(sysid - 1).snapshot().gripper_released_count == len(planned)
        assert len(released) == len(planned)
        for (lat, lon), (rlat, rlon, agl) in zip(planned, released, strict=True):
            assert distance_m(lat, lon, rlat, rlon) < 3.0
            assert 5.0 < agl < 15.0
    assert all(d.release_error_m is None or d.release_error_m < 3.0 for d in manager.drops())
    flight_log = manager.flight_log
    assert flight_log is not None and manager.run is not None
    flights = flight_log.flights(manager.run.id)
    assert sorted(f.sortie_id for f in flights) == sorted(s.id for s in plan.sorties)
    assert {f.state for f in flights} == {"completed"}
    states = flight_log.drop_states(manager.run.id)
    assert states == {d: ("delivered", None) for d in plan.served_drop_ids}
    for flight in flights:
        assert flight.tlog_path is not None
        kinds = {m.get_type() for _, m in mav.read_tlog(flight.tlog_path)}
        assert {"HEARTBEAT", "MISSION_CURRENT", "STATUSTEXT"} <= kinds
    assert not flight_log.start_run(plan_key=manager.run.plan_key, plan_name="x").resumed


@pytest.mark.slow
def test_vehicles_at_two_depots_fly_the_sorties_of_their_own_depot(fleet_sim: Any,
                                                                   tmp_path: Path) -> None:
    """Vehicles standing at two hubs, system ids in the opposite order of the plan's names,
    are matched by depot: each passes its home check and delivers its sortie's drops."""
    case = two_hub_case()
    plan = case.plan
    depots = {s.vehicle: s.mission[0] for s in plan.sorties}
    names = sorted(depots)
    assert len({(h.lat_deg, h.lon_deg) for h in depots.values()}) == 2
    homes = [(depots[n].lat_deg, depots[n].lon_deg) for n in reversed(names)]
    fleet = fleet_sim(case, 2, homes=homes)
    links = _links(fleet.connection_strings)
    manager = _manager(case, plan, links, tmp_path / "fly.db")
    try:
        assert manager.connect(10.0) == {names[0]: 2, names[1]: 1}
        manager.start()
        assert manager.wait(600.0), [v.phase for v in manager.vehicles()]
    finally:
        manager.stop()
        _close(links)
    assert manager.all_delivered, [(d.drop_id, d.state, d.reason) for d in manager.drops()]


@pytest.mark.slow
def test_low_battery_triggers_rtl(fleet_sim: Any, tmp_path: Path) -> None:
    """A sagging battery mid-sortie: RTL commanded, recorded, the drop failed, vehicle home."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    sortie: Sortie = plan.sorties[0]
    fleet = fleet_sim(case, 1)
    links = _links(fleet.connection_strings)
    manager = _manager(case, plan, links, tmp_path / "fly.db")
    try:
        manager.connect(10.0)
        with ReleaseRecorder(fleet, 1) as recorder:
            manager.start()
            wait_until(_airborne(fleet), 30.0, "take-off")
            fleet.vehicle(0).battery_sag(0.7)
            assert manager.wait(120.0)
    finally:
        manager.stop()
        _close(links)
    rtl = [a for a in manager.alerts() if a.action == "RTL"]
    assert [a.kind for a in rtl] == [AlertKind.BATTERY_RESERVE]
    assert "RTL" in recorder.modes[1]
    assert recorder.releases[1] == []
    [drop] = manager.drops()
    assert drop.state == DropState.FAILED and drop.reason and "cut short" in drop.reason
    truth = fleet.vehicle(0).snapshot()
    home = sortie.mission[0]
    assert not truth.armed and distance_m(home.lat_deg, home.lon_deg, truth.lat_deg,
                                          truth.lon_deg) < 30.0
    assert manager.flight_log is not None and manager.run is not None
    logged = manager.flight_log.alerts(manager.run.id)
    assert any(a["kind"] == "battery_reserve" and a["action"] == "RTL" for a in logged)
    [flight] = manager.flight_log.flights(manager.run.id)
    assert flight.state == "failed"
    assert [v.phase for v in manager.vehicles()] == [Phase.DONE]


@pytest.mark.slow
@pytest.mark.parametrize("cut_over", ["cruise", "release"])
def test_link_cut_mid_flight_and_reconnect(fleet_sim: Any, cut_over: str) -> None:
    """All traffic lost for 120 s mid-flight: alerts on loss and return, drop still delivered."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    sortie = plan.sorties[0]
    approach = next(i - 1 for i, m in enumerate(sortie.mission) if m.command == 211)
    fleet = fleet_sim(case, 1)
    links = _links(fleet.connection_strings)
    manager = _manager(case, plan, links, None,
                       failsafe=FailsafeLimits(link_lost_s=5.0, reserve_pct=20.0))
    try:
        manager.connect(10.0)
        with ReleaseRecorder(fleet, 1) as recorder:
            manager.start()
            if cut_over == "cruise":
                wait_until(_airborne(fleet), 30.0, "take-off")
            else:
                wait_until(lambda: fleet.vehicle(0).snapshot().mission_seq == approach, 60.0,
                       "the descent to the drop")
            fleet.vehicle(0).cut_link(120.0)
            assert manager.wait(120.0)
    finally:
        manager.stop()
        _close(links)
    kinds = [a.kind for a in manager.alerts()]
    assert AlertKind.LINK_LOST in kinds and AlertKind.LINK_RESTORED in kinds
    assert kinds.index(AlertKind.LINK_LOST) < kinds.index(AlertKind.LINK_RESTORED)
    assert manager.all_delivered
    [drop] = manager.drops()
    if cut_over == "cruise":
        assert drop.release_error_m is not None and drop.release_error_m < 3.0
    [(lat, lon, _)] = recorder.releases[1]
    assert distance_m(drop.planned_lat_deg, drop.planned_lon_deg, lat, lon) < 3.0
    assert recorder.modes[1] <= {"STABILIZE", "GUIDED", "AUTO"}


@pytest.mark.slow
@pytest.mark.parametrize("restart_when", ["flying", "landed"])
def test_database_survives_a_kill_mid_flight(fleet_sim: Any, tmp_path: Path,
                                             restart_when: str) -> None:
    """A manager dropped mid-flight without cleanup; a new one on the same database resumes."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    db = tmp_path / "fly.db"
    fleet = fleet_sim(case, 1)
    links = _links(fleet.connection_strings)
    first = _manager(case, plan, links, db)
    first.connect(10.0)
    first.start()
    wait_until(_airborne(fleet), 30.0, "take-off")
    first.abandon()  # no flight end, no run end, nothing closed: as a killed process
    _close(links)
    if restart_when == "landed":
        wait_until(lambda: not fleet.vehicle(0).snapshot().armed, 60.0, "landing")
    links = _links(fleet.connection_strings)
    second = _manager(case, plan, links, db)
    try:
        second.connect(10.0)
        assert second.run is not None and first.run is not None
        assert second.run.resumed and second.run.id == first.run.id
        second.start()
        assert second.wait(120.0)
    finally:
        second.stop()
        _close(links)
    assert second.all_delivered
    assert second.flight_log is not None
    [flight] = second.flight_log.flights(second.run.id)
    assert flight.state == "completed" and flight.ended_at is not None
    events = second.flight_log.delivery_events(second.run.id)
    assert events[0]["state"] == "en_route"
    assert events[-1]["state"] == "delivered"
    assert fleet.vehicle(0).snapshot().gripper_released_count == 1
    assert flight.tlog_path is not None and Path(flight.tlog_path).stat().st_size > 0


def test_incapable_vehicle_is_never_ready(fleet_sim: Any, tmp_path: Path) -> None:
    """No gripper configured: the sortie fails with the reason and the vehicle is not ready."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    fleet = fleet_sim(case, 1, params={"GRIP_ENABLE": 0})
    links = _links(fleet.connection_strings)
    manager = _manager(case, plan, links, tmp_path / "fly.db")
    try:
        manager.connect(10.0)
        manager.start()
        assert manager.wait(30.0)
    finally:
        manager.stop()
        _close(links)
    [vehicle] = manager.vehicles()
    assert vehicle.phase == Phase.FAILED and not vehicle.ready
    assert vehicle.message is not None and "GRIP_ENABLE" in vehicle.message
    [drop] = manager.drops()
    assert drop.state == DropState.FAILED and "GRIP_ENABLE" in (drop.reason or "")
    assert not fleet.vehicle(0).snapshot().armed
    assert manager.flight_log is not None and manager.run is not None
    assert [f.state for f in manager.flight_log.flights(manager.run.id)] == ["failed"]
