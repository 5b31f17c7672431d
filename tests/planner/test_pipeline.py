"""The planning pipeline end to end: mission layout, energy, time windows, fences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from planner.compile import _corridor
from planner.items import Cmd, Frame
from planner.pipeline import make_plan
from planner.plan_model import Plan
from planner.scenario import Depot, Drop, NoFlyZone, PlannerParams, Scenario, TerrainConfig
from planner.sorties.evaluate import SortieEval
from planner.terrain import Dem
from planner.verify.verifier import sortie_energy_wh
from tests.planner.helpers import LAT0, LON0, drone_type, hills_dem, square


def scenario_of(drops: list[Drop], *, zones: tuple[NoFlyZone, ...] = (),
                drones: int = 1, **drone: Any) -> Scenario:
    """A one-depot scenario at (LAT0, LON0) with the given drops."""
    return Scenario(name="t", root=Path("."),
                    terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)), nofly=zones,
                    buffer_m=50.0,
                    depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0,
                                  drones={"quad": drones}),),
                    drone_types={"quad": drone_type(**drone)}, drops=tuple(drops))


@pytest.fixture(scope="module")
def flat() -> Dem:
    """Flat ground at 200 m AMSL."""
    return hills_dem(0, 0.0)


def commands(plan: Plan, k: int = 0) -> list[int]:
    """Commands of sortie ``k``."""
    return [int(i.command) for i in plan.sorties[k].mission]


@pytest.mark.parametrize(("method", "release"), [
    ("gripper", [Cmd.NAV_WAYPOINT, Cmd.DO_GRIPPER, Cmd.NAV_DELAY, Cmd.NAV_WAYPOINT]),
    ("winch", [Cmd.NAV_WAYPOINT, Cmd.DO_WINCH, Cmd.NAV_DELAY, Cmd.NAV_WAYPOINT]),
    ("land", [Cmd.NAV_LAND, Cmd.DO_GRIPPER, Cmd.NAV_DELAY, Cmd.NAV_TAKEOFF]),
])
def test_mission_layout_per_drop_method(flat: Dem, method: str, release: list[int]) -> None:
    """Home, take-off, cruise, the drop method's release items, back over home, RTL."""
    drop = Drop(id="a", lat_deg=LAT0 + 0.03, lon_deg=LON0, weight_kg=1.0)
    plan = make_plan(scenario_of([drop], drop_method=method), flat).plan
    cmds = commands(plan)
    assert cmds[:2] == [Cmd.NAV_WAYPOINT, Cmd.NAV_TAKEOFF]
    assert cmds[-1] == Cmd.NAV_RETURN_TO_LAUNCH
    start = cmds.index(release[1]) - 1
    assert cmds[start:start + 4] == release
    mission = plan.sorties[0].mission
    assert mission[0].frame == Frame.GLOBAL
    assert mission[0].alt_m == pytest.approx(200.0, abs=0.01)
    low = mission[start]
    assert (low.lat_deg, low.lon_deg) == pytest.approx((drop.lat_deg, drop.lon_deg), abs=1e-7)
    if method != "land":
        assert low.alt_m == pytest.approx(10.0, abs=0.01)  # drop_alt_agl_m over flat ground
    assert mission[start + 2].param1 == 10.0  # NAV_DELAY for drop_hover_s
    last = mission[-2]
    assert (last.lat_deg, last.lon_deg) == pytest.approx((LAT0, LON0), abs=1e-7)


def test_flat_cruise_is_inside_the_band_with_margin(flat: Dem) -> None:
    """Over flat ground every cruise waypoint is between clearance+margin and ceiling-margin."""
    drops = [Drop(id=f"d{i}", lat_deg=LAT0 + 0.02 * np.cos(i), lon_deg=LON0 + 0.03 * np.sin(i),
                  weight_kg=0.5) for i in range(3)]
    plan = make_plan(scenario_of(drops), flat).plan
    for s in plan.sorties:
        cruise = [i.alt_m for i in s.mission[1:] if i.command == Cmd.NAV_WAYPOINT
                  and i.alt_m > 20]
        assert cruise
        assert min(cruise) >= 45.0 - 1e-6
        assert max(cruise) <= 115.0 + 1e-6
        assert 45.0 - 1e-6 <= s.metrics.min_agl_m <= s.metrics.max_agl_m <= 115.0 + 1e-6


def test_terrain_frame_altitudes_are_above_ground(flat: Dem) -> None:
    """With the terrain frame, waypoint altitudes are heights above the DEM."""
    drop = Drop(id="a", lat_deg=LAT0 + 0.03, lon_deg=LON0, weight_kg=1.0)
    sc = scenario_of([drop])
    from dataclasses import replace
    sc = replace(sc, params=PlannerParams(altitude_frame="terrain"))
    plan = make_plan(sc, flat).plan
    cruise = [i for i in plan.sorties[0].mission if i.command == Cmd.NAV_WAYPOINT][1:]
    assert all(i.frame == Frame.GLOBAL_TERRAIN_ALT for i in cruise)
    assert all(10.0 - 1e-6 <= i.alt_m <= 115.0 + 1e-6 for i in cruise)


def test_planned_energy_agrees_with_the_verifier_on_the_district(
        district_scenario: Scenario, district_dem: Dem) -> None:
    """The planner's energy of every district sortie is within 0.1 % of the verifier's own."""
    sc, dem = district_scenario, district_dem
    plan = make_plan(sc, dem).plan
    weights = {d.id: d.weight_kg for d in sc.drops}
    assert len(plan.sorties) >= 10
    for s in plan.sorties:
        theirs = sortie_energy_wh(s, sc, dem, payload_kg_by_drop=weights)
        assert s.metrics.energy_wh == pytest.approx(theirs, rel=1e-3), s.id
        usable = sc.drone_types[s.drone_type_id].usable_wh
        assert s.metrics.energy_wh <= usable


def test_heavier_first_costs_less_than_lighter_first(flat: Dem) -> None:
    """Dropping the heavy parcel first saves energy: the load on board falls at each release."""
    from planner.sorties.build import budget_wh
    from planner.sorties.evaluate import evaluate_sortie

    drops = [Drop(id="near", lat_deg=LAT0 + 0.02, lon_deg=LON0, weight_kg=2.5),
             Drop(id="far", lat_deg=LAT0 + 0.04, lon_deg=LON0, weight_kg=0.2)]
    sc = scenario_of(drops)
    result = make_plan(sc, flat)
    assert len(result.plan.sorties) == 1
    from planner.legs.catalogue import LegCatalog
    from planner.pipeline import build_scene

    scene = build_scene(sc)
    cat = LegCatalog(scenario=sc, dem=flat, proj=scene.proj, zones=scene.zone_map,
                     points_xy_m=scene.points_xy_m)
    drone = sc.drone_types["quad"]
    weights = {1: 2.5, 2: 0.2}
    out_and_back = evaluate_sortie(cat, drone, 0, (1, 2), weights, budget_wh(drone, 0))
    reverse = evaluate_sortie(cat, drone, 0, (2, 1), weights, budget_wh(drone, 0))
    assert isinstance(out_and_back, SortieEval) and isinstance(reverse, SortieEval)
    assert out_and_back.distance_m == pytest.approx(reverse.distance_m, rel=1e-6)
    assert out_and_back.energy_wh < reverse.energy_wh


def test_time_windows_are_met_or_reported(flat: Dem) -> None:
    """Released inside each window; a window no drone can meet is reported, not broken."""
    drops = [Drop(id="early", lat_deg=LAT0 + 0.03, lon_deg=LON0, weight_kg=1.0,
                  earliest_s=1800.0, latest_s=2400.0),
             Drop(id="now", lat_deg=LAT0 - 0.03, lon_deg=LON0, weight_kg=1.0, latest_s=900.0),
             Drop(id="impossible", lat_deg=LAT0, lon_deg=LON0 + 0.05, weight_kg=1.0,
                  latest_s=30.0)]
    plan = make_plan(scenario_of(drops, drones=2), flat).plan
    etas = {k: v for s in plan.sorties for k, v in s.metrics.drop_etas_s.items()}
    assert 1800.0 <= etas["early"] <= 2400.0
    assert etas["now"] <= 900.0
    unserved = {u.drop_id: u.reason for u in plan.unserved}
    assert "time window" in unserved["impossible"]


def test_legs_go_around_a_zone(flat: Dem) -> None:
    """A zone between the depot and the drop bends the track; no waypoint enters the zone."""
    drop = Drop(id="a", lat_deg=LAT0 + 0.05, lon_deg=LON0, weight_kg=1.0)
    wall = NoFlyZone(name="wall", polygons=((square(LAT0 + 0.025, LON0, 0.008),),))
    plan = make_plan(scenario_of([drop], zones=(wall,)), flat).plan
    zone = shapely.Polygon(square(LAT0 + 0.025, LON0, 0.008))
    pts = [(i.lon_deg, i.lat_deg) for i in plan.sorties[0].mission if i.command in
           (Cmd.NAV_WAYPOINT, Cmd.NAV_TAKEOFF)]
    assert len(pts) > 6  # turn points around the zone, both ways
    track = shapely.LineString(pts)
    assert not track.intersects(zone)
    assert plan.sorties[0].metrics.distance_m > 2 * 0.05 * 111_000


def test_corridor_keeps_the_far_end_of_an_out_and_back() -> None:
    """The fence corridor covers the whole track even when the way back retraces the way out."""
    xy = np.array([[11000.0, 9112.0], [10336.0, 17010.0], [10890.0, 21797.0],
                   [10890.0, 21797.0], [10338.0, 17035.0], [11000.0, 9112.0]])
    legs = (type("L", (), {"xy_m": xy[:3]})(), type("L", (), {"xy_m": xy[3:]})())
    ev = SortieEval(depot=0, drone_type_id="q", drops=(1,), legs=legs,  # type: ignore[arg-type]
                    payload_kg=1.0, energy_wh=1.0, duration_s=1.0, release_offsets_s=(1.0,))
    corridor = _corridor(ev, 400.0)
    for p in xy:
        assert corridor.contains(shapely.Point(p).buffer(390.0))  # chords cut 7.7 m inside


def test_hilly_plan_keeps_band_and_verifies() -> None:
    """On steep random hills every sortie's AGL stays in the band with margin."""
    dem = hills_dem(7, 600.0)
    drops = [Drop(id=f"d{i}", lat_deg=LAT0 + 0.07 * np.cos(i * 1.3),
                  lon_deg=LON0 + 0.07 * np.sin(i * 1.3), weight_kg=0.8) for i in range(6)]
    plan = make_plan(scenario_of(drops, drones=2), dem).plan
    assert plan.sorties
    for s in plan.sorties:
        assert s.metrics.min_agl_m >= 45.0 - 1e-6
        assert s.metrics.max_agl_m <= 115.0 + 1e-6
