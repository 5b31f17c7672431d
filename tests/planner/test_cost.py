"""The cost report: a hand computation on the tutorial, the road comparison and the cost table."""

from __future__ import annotations

import dataclasses
import math
import re

import pyproj
import pytest

from planner.cost import CostTable, cost_summary, flown_cost, format_cost, plan_cost
from planner.flown.figures import FlownFigures
from planner.pipeline import PlanResult, make_plan
from planner.plan_model import Plan
from planner.scenario import Scenario
from planner.terrain import Dem

_GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def tutorial_result(tutorial_scenario: Scenario, tutorial_dem: Dem) -> PlanResult:
    """The tutorial, planned once with a short search."""
    params = dataclasses.replace(tutorial_scenario.params, time_limit_s=5.0)
    return make_plan(dataclasses.replace(tutorial_scenario, params=params), tutorial_dem)


def _reach_m(scenario: Scenario, depot_id: str, drop_id: str) -> float:
    depot = next(d for d in scenario.depots if d.id == depot_id)
    drop = next(d for d in scenario.drops if d.id == drop_id)
    return float(_GEOD.inv(depot.lon_deg, depot.lat_deg, drop.lon_deg, drop.lat_deg)[2])


def test_tutorial_cost_matches_hand_computation(tutorial_result: PlanResult,
                                                tutorial_scenario: Scenario) -> None:
    """Totals and per-unit figures equal the documented formulas with the default prices."""
    plan = tutorial_result.plan
    assert plan.sorties and not plan.unserved
    # The tutorial's heavy_octo: a 900 Wh pack, 300 s turnaround. Default prices: 0.8 yuan/kWh at
    # 90 % charger efficiency, 1500 yuan/kWh pack over 500 cycles, 25 yuan per flight hour,
    # 40 yuan per crew hour.
    expected = 0.0
    for s in plan.sorties:
        wh, hours = s.metrics.energy_wh, s.metrics.duration_s / 3600
        expected += (wh / 1000 / 0.9 * 0.8 + wh / 900 * (0.9 * 1500 / 500) + hours * 25
                     + 300 / 3600 * 40)
    km = sum(s.metrics.distance_m for s in plan.sorties) / 1000
    kg = sum(d.weight_kg for d in tutorial_scenario.drops)
    summary = cost_summary(plan_cost(plan, tutorial_scenario))
    assert summary["currency"] == "yuan"
    assert summary["parcels"] == 7 == len(tutorial_scenario.drops)
    assert summary["cost_yuan"] == pytest.approx(expected, abs=0.005)
    assert summary["cost_per_parcel_yuan"] == pytest.approx(expected / 7, abs=0.005)
    assert summary["cost_per_drone_km_yuan"] == pytest.approx(expected / km, abs=0.005)
    assert summary["cost_per_kg_yuan"] == pytest.approx(expected / kg, abs=0.005)
    assert summary["energy_kwh"] == pytest.approx(
        sum(s.metrics.energy_wh for s in plan.sorties) / 1000, abs=1e-4)
    assert summary["crew_h"] == pytest.approx(len(plan.sorties) * 300 / 3600, abs=1e-4)
    assert summary["road_yuan"] == pytest.approx(7 * 5.0)
    assert summary["saving_yuan"] == pytest.approx(35.0 - expected, abs=0.01)


def test_tutorial_drops_share_their_sortie_by_distance(tutorial_result: PlanResult,
                                                       tutorial_scenario: Scenario) -> None:
    """Each drop carries its sortie's cost times its share of the depot distances."""
    plan = tutorial_result.plan
    cost = plan_cost(plan, tutorial_scenario)
    by_sortie = {s.sortie_id: s.cost_yuan for s in cost.sorties}
    drops = {d.drop_id: d for d in cost.drops}
    assert set(drops) == set(plan.served_drop_ids)
    for s in plan.sorties:
        reach = {i: _reach_m(tutorial_scenario, s.depot_id, i) for i in s.drop_ids}
        for drop_id, metres in reach.items():
            share = metres / sum(reach.values())
            assert drops[drop_id].share == pytest.approx(share, rel=1e-9)
            assert drops[drop_id].drone_yuan == pytest.approx(share * by_sortie[s.id], rel=1e-9)
        assert sum(drops[i].drone_yuan for i in s.drop_ids) == pytest.approx(by_sortie[s.id])
    summary = cost_summary(cost)
    for row in summary["drops"]:
        expected = "drone" if row["drone_yuan"] < row["road_yuan"] else "road"
        assert row["cheaper"] == expected
    assert sorted(summary["cheaper_by_drone"] + summary["cheaper_by_road"]) == sorted(drops)


def test_road_per_km_prices_each_drop_by_its_road_distance(tutorial_result: PlanResult,
                                                           tutorial_scenario: Scenario) -> None:
    """With a van cost per km, a drop's road cost is the price times its detoured distance."""
    table = CostTable(road_yuan_per_km=2.0, road_detour_factor=1.5, crew_yuan_per_h=0.0)
    cost = plan_cost(tutorial_result.plan, tutorial_scenario, table)
    for d in cost.drops:
        sortie = next(s for s in tutorial_result.plan.sorties if s.id == d.sortie_id)
        metres = _reach_m(tutorial_scenario, sortie.depot_id, d.drop_id)
        assert d.road_yuan == pytest.approx(2.0 * metres / 1000 * 1.5)
    summary = cost_summary(cost)
    assert summary["road_basis"] == "per_km"
    assert summary["crew_yuan"] == 0.0
    assert summary["table"]["road_yuan_per_km"] == 2.0


def test_plan_without_sorties_has_no_per_parcel_figures(tutorial_scenario: Scenario) -> None:
    """An empty plan costs nothing and says so instead of dividing by zero."""
    empty = Plan(scenario="x", altitude_frame="relative", sorties=(), unserved=())
    summary = cost_summary(plan_cost(empty, tutorial_scenario))
    assert summary["cost_yuan"] == 0 and summary["parcels"] == 0
    assert summary["cost_per_parcel_yuan"] is None
    assert summary["cost_per_kg_yuan"] is None
    assert format_cost(summary) == ["cost: no parcel delivered"]


def test_default_prices_are_the_documented_ones() -> None:
    """The defaults the README documents."""
    table = CostTable()
    assert (table.electricity_yuan_per_kwh, table.charger_efficiency,
            table.battery_yuan_per_kwh, table.battery_cycle_life,
            table.depreciation_yuan_per_flight_h, table.crew_yuan_per_h,
            table.road_yuan_per_parcel, table.road_yuan_per_km,
            table.road_detour_factor) == (0.8, 0.9, 1500.0, 500.0, 25.0, 40.0, 5.0, None, 1.3)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("crew_yuan_per_h", -1.0, "Expected crew_yuan_per_h >= 0, got -1"),
    ("electricity_yuan_per_kwh", math.nan, "Expected electricity_yuan_per_kwh to be a finite"),
    ("charger_efficiency", 0.0, "Expected charger_efficiency > 0, got 0"),
    ("charger_efficiency", 1.5, "Expected charger_efficiency <= 1, got 1.5"),
    ("battery_cycle_life", 0.0, "Expected battery_cycle_life > 0, got 0"),
    ("road_detour_factor", 0.5, "Expected road_detour_factor >= 1, got 0.5"),
    ("road_yuan_per_km", -2.0, "Expected road_yuan_per_km >= 0, got -2"),
    ("road_yuan_per_parcel", 2e6, "Expected road_yuan_per_parcel <= 1e+06"),
])
def test_bad_prices_are_refused(field: str, value: float, reason: str) -> None:
    """Each price is checked with a message saying what was expected."""
    with pytest.raises(ValueError, match=re.escape(reason)):
        CostTable(**{field: value})


def _flown(energy_used_wh: float | None, duration_flown_s: float | None,
           released: dict[str, float | None]) -> FlownFigures:
    return FlownFigures(cross_track_max_m=None, cross_track_p95_m=None, agl_min_m=None,
                        agl_max_m=None, agl_min_planned_m=None, agl_max_planned_m=None,
                        agl_reference="dem", alt_max_amsl_m=None, incursions=(),
                        drop_errors_m=released, duration_flown_s=duration_flown_s,
                        energy_used_wh=energy_used_wh, final_state="completed")


def test_flown_cost_prices_what_was_measured(tutorial_result: PlanResult,
                                             tutorial_scenario: Scenario) -> None:
    """Measured energy and time replace the predictions; only released parcels are delivered."""
    plan = tutorial_result.plan
    first, second = plan.sorties[0], plan.sorties[1]
    flown = {
        first.id: _flown(450.0, 1800.0, {i: 2.0 for i in first.drop_ids}),
        second.id: _flown(None, None, {second.drop_ids[0]: 1.0,
                                       **{i: None for i in second.drop_ids[1:]}}),
    }
    cost = flown_cost(plan, tutorial_scenario, flown)
    # The first sortie as measured: 450 Wh, half an hour; the second as predicted.
    first_yuan = 0.45 / 0.9 * 0.8 + 450 / 900 * 2.7 + 0.5 * 25 + 300 / 3600 * 40
    m = second.metrics
    second_yuan = (m.energy_wh / 1000 / 0.9 * 0.8 + m.energy_wh / 900 * 2.7
                   + m.duration_s / 3600 * 25 + 300 / 3600 * 40)
    assert [s.sortie_id for s in cost.sorties] == [first.id, second.id]
    assert cost.cost_yuan == pytest.approx(first_yuan + second_yuan)
    assert [d.drop_id for d in cost.drops] == [*first.drop_ids, second.drop_ids[0]]
    lone = cost.drops[-1]
    assert lone.share == 1.0 and lone.drone_yuan == pytest.approx(second_yuan)
    summary = cost_summary(cost)
    parcels = len(first.drop_ids) + 1
    assert summary["parcels"] == parcels
    assert summary["cost_per_parcel_yuan"] == pytest.approx((first_yuan + second_yuan) / parcels,
                                                            abs=0.005)
