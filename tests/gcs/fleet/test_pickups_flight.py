"""A plan mixing deliveries and pickups flown by simulated copters: every pickup collected by a
gripper grab at its point, every parcel let go at its drop, and both counted delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.fleet.tracking import DropState
from gcs.geo import distance_m
from gcs.link import Link
from gcs.tlog.reader import read_flight
from planner.flown.figures import compare_flight
from planner.io.inputs import load_scenario_with_dem
from planner.items import is_grab
from planner.pipeline import make_plan
from tests.gcs import helpers
from tests.gcs.helpers import SPEEDUP, FleetCase
from tests.helpers.shared_data import REPO

pytestmark = pytest.mark.slow
fleet_sim = helpers.fleet_sim
PICKUPS = REPO / "tests" / "data" / "scenarios" / "pickups"


def test_every_pickup_collected_and_every_parcel_released(fleet_sim: Any,
                                                           tmp_path: Path) -> None:
    """Two simulated quads fly the sample pickups scenario: each vehicle grabs once per pickup
    within 3 m of the pickup point at the planned height over the ground; every stop ends
    delivered."""
    loaded = load_scenario_with_dem(PICKUPS)
    plan = make_plan(loaded.scenario, loaded.dem).plan
    pickups = {d.id for d in loaded.scenario.drops if d.kind == "pickup"}
    assert pickups and {p for s in plan.sorties for p in s.pickup_ids} == pickups
    case = FleetCase(scenario=loaded.scenario, dem=loaded.dem, plan=plan)
    vehicles = len({s.vehicle for s in plan.sorties})
    fleet = fleet_sim(case, vehicles, params={"WINCH_TYPE": 1})
    links = [Link(u, heartbeat_period_s=1.0 / SPEEDUP).open() for u in fleet.connection_strings]
    manager = FleetManager(links, plan, options=FlyOptions(time_scale=SPEEDUP, reset_battery=True),
                           flight_log=FlightLog(tmp_path / "fly.db"), dem=case.dem,
                           drone_types=case.scenario.drone_types)
    try:
        assignment = manager.connect(10.0)
        manager.start()
        assert manager.wait(600.0), [v.phase for v in manager.vehicles()]
    finally:
        manager.stop()
        for link in links:
            link.close()
    states = {d.drop_id: (d.state, d.reason) for d in manager.drops()}
    assert states == {d: (DropState.DELIVERED, None) for d in plan.served_drop_ids}
    for name, sysid in assignment.items():
        planned = [(s.mission[seq - 1], s.mission[0].alt_m)
                   for s in plan.sorties if s.vehicle == name
                   for seq, item in enumerate(s.mission) if is_grab(item)]
        grabbed = fleet.vehicle(sysid - 1).snapshot().grab_positions
        assert len(grabbed) == len(planned)
        for (low, home_amsl_m), (glat, glon, agl) in zip(planned, grabbed, strict=True):
            assert distance_m(low.lat_deg, low.lon_deg, glat, glon) < 3.0
            ground_m = float(case.dem.elevation_amsl_m(low.lon_deg, low.lat_deg))
            assert agl == pytest.approx(home_amsl_m + low.alt_m - ground_m, abs=5.0)
    collected = [d for d in manager.drops() if d.drop_id in pickups]
    assert all(d.release_error_m is not None and d.release_error_m < 3.0 for d in collected)
    # the plan-vs-flown figures read from each flight's .tlog measure every grab and release
    log = manager.flight_log
    assert log is not None and manager.run is not None
    sorties = {s.id: s for s in plan.sorties}
    for flight in log.flights(manager.run.id):
        sortie = sorties[flight.sortie_id]
        assert flight.tlog_path is not None
        flown = read_flight(flight.tlog_path, sysid=flight.sysid)
        figures = compare_flight(flown.samples, flown.releases, grabs=flown.grabs,
                                 mission=sortie, dem=case.dem,
                                 reached=[seq for _, seq in flown.reached])
        assert set(figures.grab_errors_m) == set(sortie.pickup_ids)
        assert set(figures.drop_errors_m) == set(sortie.drop_ids) - set(sortie.pickup_ids)
        errors = [*figures.grab_errors_m.values(), *figures.drop_errors_m.values()]
        assert all(e is not None and e < 3.0 for e in errors), figures
        assert figures.unplanned_grabs == figures.unplanned_releases == 0
