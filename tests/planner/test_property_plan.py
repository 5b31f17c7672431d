"""Property: random zones, drops and terrain never give a plan the verifier rejects."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
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
from planner.terrain import Dem, DemTile
from planner.verify import verify_plan
from tests.planner.factories import drone_type

LAT0, LON0 = 45.0, 10.0
SPAN_DEG = 0.2
CELL_DEG = 1 / 1200


def hills_dem(seed: int, relief_m: float) -> Dem:
    """A 3 arc-second tile of smooth random hills around (LAT0, LON0)."""
    rng = np.random.default_rng(seed)
    n = int(SPAN_DEG / CELL_DEG) + 1
    lat = LAT0 + SPAN_DEG / 2 - np.arange(n) * CELL_DEG
    lon = LON0 - SPAN_DEG / 2 + np.arange(n) * CELL_DEG
    glon, glat = np.meshgrid(lon, lat)
    h = np.full(glon.shape, 200.0)
    for _ in range(12):
        cy, cx = rng.uniform(-SPAN_DEG / 2, SPAN_DEG / 2, 2)
        sigma = rng.uniform(0.005, 0.03)
        h += rng.uniform(-0.3, 1.0) * relief_m * np.exp(
            -((glat - LAT0 - cy) ** 2 + ((glon - LON0 - cx) * math.cos(math.radians(LAT0))) ** 2)
            / (2 * sigma**2))
    return Dem(tiles=(DemTile(heights_m=h, west_deg=float(lon[0]), north_deg=float(lat[0]),
                              dlon_deg=CELL_DEG, dlat_deg=CELL_DEG),))


def square(lat: float, lon: float, half_deg: float) -> tuple[tuple[float, float], ...]:
    """A closed square ring of (lon, lat) around a centre."""
    return ((lon - half_deg, lat - half_deg), (lon + half_deg, lat - half_deg),
            (lon + half_deg, lat + half_deg), (lon - half_deg, lat + half_deg),
            (lon - half_deg, lat - half_deg))


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
