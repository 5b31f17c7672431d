"""Plans from the fleet's state: a vehicle whose measured battery does not cover its first
sortie swaps first (one turnaround), one whose battery does takes off when ready; the plan
records the starts, plan.json keeps them, and the verifier refuses a first sortie flown on a
battery that does not cover it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.fleet_state import VehicleStart
from planner.io.planfile import plan_to_json, read_plan_json, write_plan_json
from planner.pipeline import PlanResult, make_plan, plan_summary
from planner.plan_model import Plan
from planner.scenario import Depot, Drop, PlannerParams, Scenario, TerrainConfig
from planner.terrain import Dem
from planner.verify.verifier import verify_plan
from tests.planner.helpers import LAT0, LON0, drone_type, hills_dem

TURN_S = 300.0
LOW = "hub/quad/1"
FULL = "hub/quad/2"


@pytest.fixture(scope="module")
def flat() -> Dem:
    """Flat ground at 200 m AMSL."""
    return hills_dem(0, 0.0)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """Six drops 2-3 km around one depot with two quads carrying one parcel a sortie."""
    offsets = [(0.02, 0.0), (0.0, 0.03), (-0.02, 0.0), (0.0, -0.03), (0.015, 0.02),
               (-0.015, -0.02)]
    drops = tuple(Drop(id=f"d{k}", lat_deg=LAT0 + a, lon_deg=LON0 + b, weight_kg=1.0)
                  for k, (a, b) in enumerate(offsets))
    return Scenario(name="t", root=Path("."),
                    terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)), nofly=(),
                    buffer_m=50.0,
                    depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0, drones={"quad": 2}),),
                    drone_types={"quad": drone_type(turnaround_s=TURN_S, max_parcels=1)},
                    drops=drops, params=PlannerParams(time_limit_s=2.0))


def _firsts(plan: Plan) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in plan.sorties:
        out[s.vehicle] = min(out.get(s.vehicle, s.start_s), s.start_s)
    return out


def _starts(low_pct: float) -> list[VehicleStart]:
    return [VehicleStart(vehicle=LOW, ready_s=120.0, battery_pct=low_pct),
            VehicleStart(vehicle=FULL, ready_s=60.0, battery_pct=90.0)]


@pytest.fixture(scope="module")
def result(scenario: Scenario, flat: Dem) -> PlanResult:
    """The plan with vehicle 1 on 22 % (its reserve is 20 %) and vehicle 2 on 90 %."""
    return make_plan(scenario, flat, starts=_starts(22.0))


@pytest.fixture(scope="module")
def swapped(result: PlanResult) -> Plan:
    """That plan alone."""
    return result.plan


def test_a_low_battery_swaps_first_and_a_full_one_does_not(scenario: Scenario, flat: Dem,
                                                           result: PlanResult) -> None:
    """Vehicle 1's first take-off is its ready time plus the turnaround, vehicle 2's its ready
    time; with enough battery each of vehicle 1's sorties takes off exactly one turnaround
    earlier. The summary shows the starts and which vehicle swaps first."""
    swapped = result.plan
    firsts = _firsts(swapped)
    assert firsts == {LOW: 120.0 + TURN_S, FULL: 60.0}
    assert sum(s.vehicle == LOW for s in swapped.sorties) >= 2
    enough = make_plan(scenario, flat, starts=_starts(90.0)).plan
    assert sorted(s.start_s + TURN_S for s in enough.sorties if s.vehicle == LOW) == \
        sorted(s.start_s for s in swapped.sorties if s.vehicle == LOW)
    assert swapped.vehicle_starts == tuple(_starts(22.0))
    rows = {r["vehicle"]: r for r in plan_summary(result, scenario)["vehicle_starts"]}
    assert rows[LOW] == {"vehicle": LOW, "ready_s": 120.0, "battery_pct": 22.0,
                         "first_takeoff_s": 420.0, "swap_first": True}
    assert rows[FULL]["swap_first"] is False and rows[FULL]["first_takeoff_s"] == 60.0
    assert "vehicle_starts" not in plan_summary(make_plan(scenario, flat), scenario)


def test_the_verifier_refuses_a_first_sortie_the_measured_battery_does_not_cover(
        scenario: Scenario, flat: Dem, swapped: Plan) -> None:
    """Vehicle 1's sorties moved a turnaround earlier (no time to swap its 22 % battery) is an
    energy violation naming the vehicle; before its ready time a structure violation; the
    planned plan, and the moved one without recorded starts, verify."""
    assert verify_plan(swapped, scenario, flat) == []

    def moved(by_s: float, plan: Plan = swapped) -> Plan:
        return dataclasses.replace(plan, sorties=tuple(
            dataclasses.replace(s, start_s=s.start_s - by_s) if s.vehicle == LOW else s
            for s in plan.sorties))

    early = verify_plan(moved(TURN_S), scenario, flat)
    assert [v.kind for v in early] == ["energy"]
    assert LOW in early[0].message and "22 %" in early[0].message
    assert "measured battery" in early[0].message
    too_early = verify_plan(moved(TURN_S + 1.0), scenario, flat)
    assert [v.kind for v in too_early] == ["structure"] and "before it is ready" in \
        too_early[0].message
    assert verify_plan(dataclasses.replace(moved(TURN_S), vehicle_starts=()), scenario,
                       flat) == []


def test_plan_json_keeps_the_starts(tmp_path: Path, swapped: Plan) -> None:
    """plan.json writes the starts and reads them back equal; a plan without starts has no
    such key."""
    write_plan_json(tmp_path / "plan.json", swapped)
    assert read_plan_json(tmp_path / "plan.json") == swapped
    assert "vehicle_starts" not in json.loads(plan_to_json(
        dataclasses.replace(swapped, vehicle_starts=())))


@pytest.mark.parametrize(("starts", "words"), [
    ([VehicleStart(vehicle="hub/quad/3")], "is not a vehicle"),
    ([VehicleStart(vehicle="elsewhere/quad/1")], "is not a vehicle"),
    ([VehicleStart(vehicle=LOW, ready_s=1.0), VehicleStart(vehicle=LOW, ready_s=2.0)],
     "two starts"),
])
def test_starts_of_unknown_vehicles_are_refused(scenario: Scenario, flat: Dem,
                                                starts: list[VehicleStart], words: str) -> None:
    """A start for a vehicle the depots do not have, or two for one, is an input error."""
    with pytest.raises(InputError, match=words):
        make_plan(scenario, flat, starts=starts)


@pytest.mark.parametrize("bad", [
    {"vehicle": "hub/quad"}, {"vehicle": "hub/quad/0"}, {"vehicle": LOW, "ready_s": -1.0},
    {"vehicle": LOW, "battery_pct": 101.0}, {"vehicle": LOW, "battery_pct": float("nan")},
])
def test_vehicle_start_values_are_checked(bad: dict[str, object]) -> None:
    """A start's vehicle name, ready time and percentage are checked when it is made."""
    with pytest.raises(ValueError, match="Expected"):
        VehicleStart(**bad)  # type: ignore[arg-type]
