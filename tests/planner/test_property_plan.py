"""Property: random zones, drops and terrain never give a plan the verifier rejects."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.pipeline import make_plan
from planner.scenario import (
    AltitudeFrame,
    Depot,
    Drop,
    NoFlyZone,
    PlannerParams,
    Scenario,
    TerrainConfig,
    Wind,
)
from planner.verify.verifier import verify_plan
from tests.planner.helpers import LAT0, LON0, drone_type, hills_dem, square

offset = st.floats(-0.08, 0.08)
point = st.tuples(offset, offset)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), relief=st.floats(0, 600),
       drops=st.lists(point, min_size=1, max_size=7),
       zones=st.lists(st.tuples(offset, offset, st.floats(0.002, 0.01)), max_size=4),
       method=st.sampled_from(["gripper", "winch", "land"]),
       frame=st.sampled_from(["relative", "terrain"]),
       wind=st.floats(0, 8), wind_from=st.floats(0, 360))
def test_random_scenarios_verify(seed: int, relief: float, drops: list[tuple[float, float]],
                                 zones: list[tuple[float, float, float]], method: str,
                                 frame: str, wind: float, wind_from: float) -> None:
    """Whatever the inputs, the plan the pipeline returns passes the independent verifier."""
    dem = hills_dem(seed, relief)
    scenario = Scenario(
        name="random", root=Path("."),
        terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)),
        nofly=tuple(NoFlyZone(name=f"z{i}", polygons=((square(LAT0 + a, LON0 + b, h),),))
                    for i, (a, b, h) in enumerate(zones)),
        buffer_m=50.0,
        depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0, drones={"quad": 2}),),
        drone_types={"quad": drone_type(drop_method=method)},
        drops=tuple(Drop(id=f"d{i}", lat_deg=LAT0 + a, lon_deg=LON0 + b, weight_kg=0.5 + i / 7)
                    for i, (a, b) in enumerate(drops)),
        wind=Wind(speed_m_s=wind, from_deg=wind_from),
        params=PlannerParams(altitude_frame=cast(AltitudeFrame, frame)))
    result = make_plan(scenario, dem)
    assert verify_plan(result.plan, scenario, dem) == []
    served = set(result.plan.served_drop_ids)
    unserved = {u.drop_id for u in result.plan.unserved}
    assert served | unserved == {d.id for d in scenario.drops}
    assert not served & unserved


@pytest.mark.parametrize("relief", [0.0, 500.0])
def test_depot_inside_zone_serves_nothing(relief: float) -> None:
    """A depot inside a zone flies nothing; every drop says why."""
    dem = hills_dem(1, relief)
    scenario = Scenario(
        name="walled", root=Path("."),
        terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)),
        nofly=(NoFlyZone(name="base", polygons=((square(LAT0, LON0, 0.01),),)),),
        buffer_m=50.0,
        depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0, drones={"quad": 1}),),
        drone_types={"quad": drone_type()},
        drops=(Drop(id="d0", lat_deg=LAT0 + 0.05, lon_deg=LON0, weight_kg=1.0),))
    plan = make_plan(scenario, dem).plan
    assert plan.sorties == ()
    assert "inside no-fly zone 'base'" in plan.unserved[0].reason


def test_leg_along_a_grid_line_plans() -> None:
    """A leg whose end sits a hair off a DEM grid line (found by the property test) plans."""
    dem = hills_dem(0, 0.0)
    scenario = Scenario(
        name="grid", root=Path("."),
        terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)), nofly=(), buffer_m=50.0,
        depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0, drones={"quad": 1}),),
        drone_types={"quad": drone_type()},
        drops=(Drop(id="d0", lat_deg=LAT0 + 0.001, lon_deg=LON0 + 0.03125, weight_kg=0.5),))
    plan = make_plan(scenario, dem).plan
    assert plan.served_drop_ids == ("d0",)
    assert verify_plan(plan, scenario, dem) == []
