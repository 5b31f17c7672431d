"""Plans mixing deliveries and pickups: served, verified, compiled with a gripper grab at each
pickup, and checked by the independent verifier for the load on board at every point."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import planner.pipeline
import planner.sorties.route
from planner.io import load_scenario_with_dem, read_plan_json, write_plan_json
from planner.io.geojson_out import routes_feature_collection
from planner.items import GRIPPER_GRAB, GRIPPER_RELEASE, Cmd, is_grab, is_release
from planner.mission_plan import release_positions, stop_positions
from planner.pipeline import PlanResult, make_plan
from planner.plan_model import Plan, Sortie
from planner.routing import Objective
from planner.scenario import Depot, Drop, Scenario, TerrainConfig
from planner.sorties.route import Construction
from planner.terrain import Dem
from planner.verify.verifier import sortie_energy_wh, verify_plan
from tests.planner.helpers import LAT0, LON0, drone_type, hills_dem

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "pickups"


@pytest.fixture(scope="module")
def sample() -> tuple[Scenario, Dem]:
    """The pickups sample scenario and its DEM."""
    loaded = load_scenario_with_dem(SAMPLE)
    return loaded.scenario, loaded.dem


@pytest.fixture(scope="module")
def sample_plan(sample: tuple[Scenario, Dem]) -> PlanResult:
    """The sample's verified plan."""
    return make_plan(*sample)


@pytest.fixture(scope="module")
def flat() -> Dem:
    """Flat ground at 200 m AMSL."""
    return hills_dem(0, 0.0)


def _peaks(sortie: Sortie, scenario: Scenario) -> list[float]:
    """Payload on board on each leg of the sortie, from the scenario's drops."""
    drops = {d.id: d for d in scenario.drops}
    load = sum(drops[d].weight_kg for d in sortie.drop_ids if not drops[d].is_pickup)
    out = [load]
    for d in sortie.drop_ids:
        load += drops[d].weight_kg if drops[d].is_pickup else -drops[d].weight_kg
        out.append(load)
    return out


def _check_served_and_loaded(plan: Plan, scenario: Scenario, dem: Dem) -> None:
    """Every drop served once; pickups named; the load within the payload at every point."""
    assert not plan.unserved
    assert sorted(plan.served_drop_ids) == sorted(d.id for d in scenario.drops)
    drops = {d.id: d for d in scenario.drops}
    weights = {d.id: d.weight_kg for d in scenario.drops}
    for s in plan.sorties:
        assert s.pickup_ids == tuple(d for d in s.drop_ids if drops[d].is_pickup)
        loads = _peaks(s, scenario)
        assert max(loads) <= scenario.drone_types[s.drone_type_id].max_payload_kg + 1e-9
        assert s.metrics.payload_kg == pytest.approx(max(loads), abs=1e-3)
        assert s.metrics.energy_wh == pytest.approx(
            sortie_energy_wh(s, scenario, dem, payload_kg_by_drop=weights), rel=2e-3)
    assert verify_plan(plan, scenario, dem) == []


def test_sample_plans_every_stop_and_verifies(sample: tuple[Scenario, Dem],
                                              sample_plan: PlanResult) -> None:
    """Deliveries and pickups are all served; a sortie mixes both; the verifier agrees."""
    scenario, dem = sample
    plan = sample_plan.plan
    _check_served_and_loaded(plan, scenario, dem)
    assert {p for s in plan.sorties for p in s.pickup_ids} == {"U1", "U2"}
    assert any(s.pickup_ids and len(s.pickup_ids) < len(s.drop_ids) for s in plan.sorties)


def _only(method: str) -> Any:
    """A stand-in for best_construction that keeps only ``method``'s candidates."""
    real = planner.sorties.route.best_construction

    def pick(candidates: Sequence[Construction], objective: Objective) -> Construction:
        return real([c for c in candidates if c.method == method], objective)
    return pick


@pytest.mark.parametrize("method", ["trips", "routing"])
def test_each_routing_path_gives_a_feasible_plan_with_pickups(
        sample: tuple[Scenario, Dem], method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact trip solver and the PyVRP path each plan the sample, re-checked and verified."""
    scenario, dem = sample
    if method == "routing":  # skip the trip solver so that PyVRP routes the small sample
        monkeypatch.setattr(planner.sorties.route, "is_small", lambda inp, points: False)
    monkeypatch.setattr(planner.pipeline, "best_construction", _only(method))
    result = make_plan(scenario, dem)
    assert result.construction == method
    _check_served_and_loaded(result.plan, scenario, dem)


def _two_stop(method: str, *, pickup_kg: float = 1.0, cap: float = 3.0) -> Scenario:
    drops = (Drop(id="d", lat_deg=LAT0 + 0.02, lon_deg=LON0, weight_kg=1.5),
             Drop(id="p", lat_deg=LAT0 + 0.02, lon_deg=LON0 + 0.02, weight_kg=pickup_kg,
                  kind="pickup"))
    return Scenario(name="t", root=Path("."),
                    terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)), nofly=(),
                    buffer_m=50.0, depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0,
                                                 drones={"quad": 1}),),
                    drone_types={"quad": drone_type(drop_method=method, max_payload_kg=cap)},
                    drops=drops)


STOP_ITEMS = {
    "gripper": [Cmd.NAV_WAYPOINT, Cmd.DO_GRIPPER, Cmd.NAV_DELAY],
    "winch": [Cmd.NAV_WAYPOINT, Cmd.DO_GRIPPER, Cmd.NAV_DELAY],
    "land": [Cmd.NAV_LAND, Cmd.DO_GRIPPER, Cmd.NAV_DELAY, Cmd.NAV_TAKEOFF],
}


@pytest.mark.parametrize("method", ["gripper", "winch", "land"])
def test_compiled_mission_grabs_at_pickups_and_releases_at_deliveries(flat: Dem,
                                                                       method: str) -> None:
    """A pickup's items are a drop's with DO_GRIPPER grab (param2 = 1) for the release."""
    scenario = _two_stop(method)
    plan = make_plan(scenario, flat).plan
    [sortie] = plan.sorties
    assert set(sortie.drop_ids) == {"d", "p"} and sortie.pickup_ids == ("p",)
    mission = sortie.mission
    grabs = [i for i, m in enumerate(mission) if is_grab(m)]
    releases = [i for i, m in enumerate(mission) if is_release(m)]
    assert len(grabs) == 1 and len(releases) == 1
    grab = mission[grabs[0]]
    assert (grab.command, grab.param1, grab.param2) == (Cmd.DO_GRIPPER, 1, GRIPPER_GRAB)
    rel = mission[releases[0]]
    if method == "winch":
        assert rel.command == Cmd.DO_WINCH
    else:
        assert (rel.command, rel.param2) == (Cmd.DO_GRIPPER, GRIPPER_RELEASE)
    for k in (grabs[0], releases[0]):
        around = [m.command for m in mission[k - 1:k - 1 + len(STOP_ITEMS[method])]]
        assert around[:1] + around[2:] == STOP_ITEMS[method][:1] + STOP_ITEMS[method][2:]
    # the stops happen where their drops are, in the order of drop_ids, and only d is released
    drops = {d.id: d for d in scenario.drops}
    stops = stop_positions(mission)
    assert [(round(la, 5), round(lo, 5), g) for la, lo, g in stops] == [
        (round(drops[d].lat_deg, 5), round(drops[d].lon_deg, 5), d == "p")
        for d in sortie.drop_ids]
    assert len(release_positions(mission)) == 1
    # same number of items as the same two stops both delivered
    both = dataclasses.replace(scenario, drops=tuple(dataclasses.replace(d, kind="delivery")
                                                     for d in scenario.drops))
    twice = make_plan(both, flat).plan
    if len(twice.sorties) == 1 and twice.sorties[0].drop_ids == sortie.drop_ids:
        assert len(twice.sorties[0].mission) == len(mission)


def test_verifier_rejects_a_load_over_capacity_after_a_pickup(flat: Dem) -> None:
    """Take-off load fits, but the parcel collected on the way pushes it over the payload."""
    scenario = _two_stop("gripper", pickup_kg=2.5, cap=3.0)
    plan = make_plan(scenario, flat).plan
    [sortie] = plan.sorties
    assert sortie.drop_ids == ("d", "p")  # 1.5 kg out, 0 after d, 2.5 kg after p
    heavier = dataclasses.replace(scenario, drops=(
        scenario.drops[0], dataclasses.replace(scenario.drops[1], weight_kg=3.2)))
    found = verify_plan(plan, heavier, flat)
    payload = [v for v in found if v.kind == "payload"]
    assert len(payload) == 1
    assert "payload 3.200 kg on board after the pickup at p" in payload[0].message
    assert "above the 3.000 kg limit" in payload[0].message


def test_verifier_rejects_a_grab_at_a_delivery_and_a_release_at_a_pickup(flat: Dem) -> None:
    """Swapping the grab and the release gives structure and missing-drop violations."""
    scenario = _two_stop("gripper")
    plan = make_plan(scenario, flat).plan
    [sortie] = plan.sorties
    mission = list(sortie.mission)
    for k, item in enumerate(mission):
        if item.command == Cmd.DO_GRIPPER:
            flipped = GRIPPER_RELEASE if is_grab(item) else GRIPPER_GRAB
            mission[k] = dataclasses.replace(item, param2=float(flipped))
    bad = dataclasses.replace(plan, sorties=(dataclasses.replace(sortie,
                                                                  mission=tuple(mission)),))
    found = verify_plan(bad, scenario, flat)
    messages = [v.message for v in found]
    assert {v.kind for v in found} == {"structure", "drop_missing"}
    assert any("grabs a parcel but drop d is a delivery" in m for m in messages)
    assert any("releases a parcel but drop p is a pickup" in m for m in messages)
    assert any("drop d is never released" in m for m in messages)
    assert any("drop p is never collected" in m for m in messages)


def test_verifier_rejects_pickup_ids_that_disagree_with_the_scenario(flat: Dem) -> None:
    """A plan that calls a delivery a pickup (or forgets a pickup) is refused."""
    scenario = _two_stop("gripper")
    plan = make_plan(scenario, flat).plan
    [sortie] = plan.sorties
    for wrong in [(), ("d", "p"), ("x",)]:
        bad = dataclasses.replace(plan, sorties=(dataclasses.replace(sortie, pickup_ids=wrong),))
        found = verify_plan(bad, scenario, flat)
        assert found and all(v.kind == "structure" for v in found), wrong


def test_plan_json_carries_pickup_ids_and_old_files_still_load(sample_plan: PlanResult,
                                                               tmp_path: Path) -> None:
    """pickup_ids round-trip; a plan.json written without them reads as having none."""
    plan = sample_plan.plan
    path = tmp_path / "plan.json"
    write_plan_json(path, plan)
    assert read_plan_json(path) == plan
    doc = json.loads(path.read_text())
    with_pickups = [s for s in doc["sorties"] if s.get("pickup_ids")]
    assert with_pickups and all(set(s["pickup_ids"]) <= set(s["drop_ids"])
                                for s in with_pickups)
    for s in doc["sorties"]:
        s.pop("pickup_ids", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    assert all(s.pickup_ids == () for s in read_plan_json(old).sorties)


def test_routes_geojson_marks_pickups(sample: tuple[Scenario, Dem],
                                      sample_plan: PlanResult) -> None:
    """Pickup drops carry ``pickup: true`` and their routes ``pickup_ids``; deliveries neither."""
    scenario, _ = sample
    fc = routes_feature_collection(sample_plan.plan, scenario)
    features: list[dict[str, Any]] = fc["features"]  # type: ignore[assignment]
    drops = {f["properties"]["drop_id"]: f["properties"] for f in features
             if f["properties"]["kind"] == "drop"}
    assert {d for d, p in drops.items() if p.get("pickup")} == {"U1", "U2"}
    assert all("pickup" not in p for d, p in drops.items() if d not in ("U1", "U2"))
    routes = [f["properties"] for f in features if f["properties"]["kind"] == "route"]
    assert sorted(p for r in routes for p in r.get("pickup_ids", [])) == ["U1", "U2"]
