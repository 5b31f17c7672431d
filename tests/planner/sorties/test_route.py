"""Routed sorties: the proven optimum on tiny plans, exact feasibility, the floor, determinism."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any

import pytest

import planner.sorties.route as route_plan
from planner.legs.energy import DorlingModel
from planner.pipeline import ENERGY_MARGIN_FRACTION, PlanResult, make_plan, route_input
from planner.plan_model import Plan
from planner.routing import Objective
from planner.scenario import (
    Depot,
    DroneType,
    Drop,
    PlannerParams,
    Scenario,
    TerrainConfig,
    Wind,
)
from planner.sorties._trips import solve_small
from planner.sorties.evaluate import SortieEval, evaluate_sortie
from planner.sorties.route import (
    Construction,
    RouteInput,
    best_construction,
    iteration_budget,
    route_sorties,
    simple_construction,
)
from planner.sorties.schedule import Scheduled, last_release_s, schedule_assigned, schedule_balanced
from planner.terrain import Dem
from planner.verify.verifier import verify_plan
from tests.planner.helpers import LAT0, LON0, drone_type, hills_dem
from tests.planner.sorties.helpers import Brute

REL = 1e-6
#: plan.json rounds distances to 0.1 m, energies to 0.01 Wh and ETAs to 0.1 s per sortie.
ROUND_M = 0.05
ROUND_WH = 0.005


@pytest.fixture(scope="module")
def flat() -> Dem:
    """Flat ground at 200 m AMSL."""
    return hills_dem(0, 0.0)


def lifter(**over: Any) -> DroneType:
    """A slower two-parcel type that carries up to 5 kg."""
    return drone_type(**{"id": "lifter", "empty_mass_kg": 12.0, "battery_mass_kg": 6.0,
                         "battery_wh": 1400.0, "max_payload_kg": 5.0, "max_parcels": 2,
                         "cruise_speed_m_s": 12.0, "turnaround_s": 400.0, **over})


def drop(i: int, dlat: float, dlon: float, kg: float, **kw: Any) -> Drop:
    """Drop ``d<i>`` at an offset in degrees from (LAT0, LON0)."""
    return Drop(id=f"d{i}", lat_deg=LAT0 + dlat, lon_deg=LON0 + dlon, weight_kg=kg, **kw)


def scenario(drops: list[Drop], depots: list[tuple[str, float, dict[str, int]]],
             types: list[DroneType], *, seed: int = 0, time_limit_s: float = 10.0) -> Scenario:
    """Depots at (LAT0, LON0 + offset) on the flat test tile."""
    return Scenario(
        name="t", root=Path("."), terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)),
        nofly=(), buffer_m=50.0,
        depots=tuple(Depot(id=name, lat_deg=LAT0, lon_deg=LON0 + dlon, drones=drones)
                     for name, dlon, drones in depots),
        drone_types={t.id: t for t in types}, drops=tuple(drops),
        params=PlannerParams(seed=seed, time_limit_s=time_limit_s))


FIVE = [drop(0, 0.05, 0.01, 1.4), drop(1, 0.045, -0.02, 1.2), drop(2, -0.03, 0.04, 0.9),
        drop(3, -0.04, 0.035, 1.6), drop(4, 0.01, -0.06, 0.8)]
SIX = [drop(0, 0.03, -0.05, 1.0), drop(1, 0.035, -0.04, 1.5), drop(2, -0.02, -0.06, 0.7),
       drop(3, 0.02, 0.07, 1.1), drop(4, -0.03, 0.06, 1.3), drop(5, 0.04, 0.0, 0.6)]
TWO_TYPES = [drop(0, 0.04, 0.02, 3.8), drop(1, 0.035, 0.03, 1.0), drop(2, -0.03, -0.02, 1.2),
             drop(3, -0.035, -0.03, 0.5), drop(4, 0.0, 0.06, 2.2)]
WINDOWS = [drop(0, 0.04, 0.0, 1.0, earliest_s=1500.0), drop(1, 0.04, 0.01, 1.0),
           drop(2, -0.03, 0.02, 1.2, latest_s=500.0), drop(3, -0.025, 0.03, 0.8)]

CASES: dict[str, Scenario] = {
    "one_depot_capacity": scenario(FIVE, [("hub", 0.0, {"quad": 2})],
                                   [drone_type(max_parcels=2, max_payload_kg=2.6)]),
    "two_depots": scenario(SIX, [("west", -0.05, {"quad": 1}), ("east", 0.05, {"quad": 1})],
                           [drone_type(max_payload_kg=2.6)]),
    "two_types": scenario(TWO_TYPES, [("hub", 0.0, {"quad": 1, "lifter": 1})],
                          [drone_type(), lifter()]),
    "time_window": scenario(WINDOWS, [("hub", 0.0, {"quad": 2})],
                            [drone_type(max_parcels=2)]),
}


def figures(plan: Plan) -> dict[str, float]:
    """Served drops, sorties, distance, energy and makespan (last release) of a plan."""
    etas = [t for s in plan.sorties for t in s.metrics.drop_etas_s.values()]
    return {"served": len(plan.served_drop_ids), "sorties": len(plan.sorties),
            "distance_m": sum(s.metrics.distance_m for s in plan.sorties),
            "energy_wh": sum(s.metrics.energy_wh for s in plan.sorties),
            "makespan_s": max(etas, default=0.0)}


def assert_optimal(result: PlanResult, brute: Brute, objective: Objective) -> None:
    """The plan serves every drop and reaches the brute-force optimum of ``objective``."""
    f = figures(result.plan)
    n = len(result.plan.sorties)
    assert f["served"] == len(brute.drops)
    if objective == "distance":
        (best,) = brute.best_distance()
        assert f["distance_m"] == pytest.approx(best, rel=REL, abs=ROUND_M * n)
    elif objective == "sorties":
        fewest, best = brute.best_distance(count_sorties=True)
        assert f["sorties"] == fewest
        assert f["distance_m"] == pytest.approx(best, rel=REL, abs=ROUND_M * n)
    else:
        makespan, energy = brute.best_makespan()
        assert f["makespan_s"] == pytest.approx(makespan, abs=0.1)
        assert f["energy_wh"] <= energy * (1 + 1e-3) + ROUND_WH * n


OPTIMUM_CASES = [(case, objective) for case in sorted(CASES)
                 for objective in ("distance", "sorties", "makespan_then_energy")
                 if objective != "makespan_then_energy" or len(CASES[case].drops) <= 5]


@pytest.mark.parametrize(("case", "objective"), OPTIMUM_CASES)
def test_small_plans_reach_the_brute_force_optimum(flat: Dem, case: str,
                                                   objective: Objective) -> None:
    """On 4-6 drops (one or two depots, two types, windows) the plan is the proven optimum."""
    # A limit well above the second or so the proofs take, so that they end on a busy machine.
    sc = dataclasses.replace(CASES[case], params=PlannerParams(time_limit_s=60.0))
    result = make_plan(sc, flat, objective=objective)
    assert verify_plan(result.plan, sc, flat) == []
    trips = next(c for c in result.candidates if c.method == "trips")
    assert trips.notes["optimal"] == 1.0
    assert_optimal(result, Brute(sc, flat), objective)


def _linear_energy_wh(catalog: Any, drone: DroneType, order: tuple[int, ...],
                      weights: dict[int, float]) -> float:
    """Energy of ``order`` with power linear in the payload (tangent at empty): a lower bound."""
    def at(scale: float) -> float:
        ev = evaluate_sortie(catalog, drone, 0, order, {p: w * scale for p, w in weights.items()},
                             math.inf)
        assert isinstance(ev, SortieEval)
        return ev.energy_wh
    eps = 1e-4
    return at(0.0) + (at(eps) - at(0.0)) / eps


def tight_battery_case(flat: Dem) -> tuple[Scenario, tuple[int, ...]]:
    """A heavy far drop and a light one beside it, with a battery between the linear bound and
    the exact energy of flying both in one sortie (in either order)."""
    drops = [drop(0, 0.075, 0.0, 2.7), drop(1, 0.07, 0.004, 0.25)]
    probe = scenario(drops, [("hub", 0.0, {"quad": 1})], [drone_type()])
    brute = Brute(probe, flat)
    drone = probe.drone_types["quad"]
    weights = {p: d.weight_kg for p, d in brute.drops.items()}
    orders = [(1, 2), (2, 1)]
    exact = []
    for o in orders:
        ev = evaluate_sortie(brute.catalog, drone, 0, o, weights, math.inf)
        assert isinstance(ev, SortieEval)
        exact.append(ev.energy_wh)
    linear = min(_linear_energy_wh(brute.catalog, drone, o, weights) for o in orders)
    assert linear < min(exact)
    budget = (linear + min(exact)) / 2
    battery = budget / (1 - drone.reserve_fraction - ENERGY_MARGIN_FRACTION)
    tight = dataclasses.replace(probe, drone_types={"quad": drone_type(battery_wh=battery)})
    model = DorlingModel.of(drone)
    assert model.power_w(2.95) > model.power_w(0) * (1 + 1.5 * 2.95 / model.base_mass_kg)
    return tight, (1, 2)


@pytest.mark.parametrize("objective", ["distance", "sorties"])
def test_tight_battery_splits_what_a_linear_bound_would_join(flat: Dem,
                                                             objective: Objective) -> None:
    """The linear energy bound accepts both drops in one sortie; the plan never flies that."""
    sc, _ = tight_battery_case(flat)
    result = make_plan(sc, flat, objective=objective)
    assert verify_plan(result.plan, sc, flat) == []
    brute = Brute(sc, flat)
    assert frozenset((2, 3)) not in brute.options and frozenset((2,)) in brute.options
    assert all(len(s.drop_ids) == 1 for s in result.plan.sorties)
    assert_optimal(result, brute, objective)


def test_tight_battery_routed_by_pyvrp_is_repaired(flat: Dem,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Through PyVRP's linear proxy too, the joined sortie is found over budget and split."""
    monkeypatch.setattr(route_plan, "is_small", lambda *_: False)
    sc, _ = tight_battery_case(flat)
    result = make_plan(sc, flat, objective="sorties")
    assert verify_plan(result.plan, sc, flat) == []
    assert sorted(result.plan.served_drop_ids) == ["d0", "d1"]
    assert all(len(s.drop_ids) == 1 for s in result.plan.sorties)
    for s in result.plan.sorties:
        drone = sc.drone_types[s.drone_type_id]
        assert s.metrics.energy_wh <= drone.usable_wh - ENERGY_MARGIN_FRACTION * drone.battery_wh
    routed = [c for c in result.candidates if c.method == "routing"]
    assert routed and all(c.notes["repaired_trips"] >= 1 for c in routed)


def assert_construction_feasible(inp: RouteInput, c: Construction) -> None:
    """Every sortie of ``c`` re-evaluates within its battery budget and windows, drones fly one
    sortie at a time with their turnaround, and each servable drop is served or reported."""
    counts = {(g.depot, g.drone.id): g.count for g in inp.groups}
    types = {g.drone.id: g.drone for g in inp.groups}
    weights = {p: d.weight_kg for p, d in inp.drops.items()}
    busy: dict[tuple[int, str, int], list[tuple[float, float]]] = {}
    served: list[int] = []
    for s in c.scheduled:
        ev = s.sortie
        drone = types[ev.drone_type_id]
        budget = drone.usable_wh - ENERGY_MARGIN_FRACTION * drone.battery_wh
        again = evaluate_sortie(inp.catalog, drone, ev.depot, ev.drops, weights, budget)
        assert isinstance(again, SortieEval), again
        assert again.energy_wh == pytest.approx(ev.energy_wh, rel=1e-12)
        assert 1 <= s.drone_number <= counts[(ev.depot, ev.drone_type_id)]
        for p, t in zip(ev.drops, ev.release_offsets_s, strict=True):
            d = inp.drops[p]
            assert d.earliest_s is None or s.start_s + t >= d.earliest_s - 1e-6
            assert d.latest_s is None or s.start_s + t <= d.latest_s + 1e-6
        busy.setdefault((ev.depot, ev.drone_type_id, s.drone_number), []).append(
            (s.start_s, s.start_s + ev.duration_s + drone.turnaround_s))
        served += ev.drops
    for spans in busy.values():
        spans.sort()
        assert all(b[0] >= a[1] - 1e-6 for a, b in itertools.pairwise(spans))
    assert len(served) == len(set(served))
    assert set(served) | set(c.unserved) == {p for p, o in inp.options.items() if o}


@pytest.mark.parametrize("objective", ["distance", "sorties", "makespan_then_energy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_candidate_keeps_every_constraint(flat: Dem, case: str, objective: Objective,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Each construction compared (trip selection, PyVRP rounds, polished, simple) is feasible."""
    inp, _ = route_input(CASES[case], flat, objective=objective)
    found = route_sorties(inp, seed=3, time_limit_s=2.0)
    monkeypatch.setattr(route_plan, "is_small", lambda *_: False)
    found += route_sorties(inp, seed=3, time_limit_s=2.0)
    found.append(simple_construction(inp))
    assert {c.method for c in found} == {"trips", "routing", "simple"}
    for c in found:
        assert_construction_feasible(inp, c)


@pytest.mark.parametrize("objective", ["distance", "sorties", "makespan_then_energy"])
@pytest.mark.parametrize("case", ["one_depot_capacity", "two_types", "time_window"])
def test_pyvrp_route_is_feasible_and_at_least_the_floor(flat: Dem, case: str,
                                                        objective: Objective,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Forced through PyVRP, every plan verifies, serves what the simple construction serves
    and is no worse on the objective."""
    monkeypatch.setattr(route_plan, "is_small", lambda *_: False)
    sc = dataclasses.replace(CASES[case], params=PlannerParams(time_limit_s=4.0))
    result = make_plan(sc, flat, objective=objective)
    assert verify_plan(result.plan, sc, flat) == []
    methods = {c.method for c in result.candidates}
    assert "routing" in methods and "simple" in methods
    simple = next(c for c in result.candidates if c.method == "simple")
    f = figures(result.plan)
    assert f["served"] >= simple.served
    if f["served"] == simple.served:
        mine = {"distance": f["distance_m"], "sorties": f["sorties"],
                "makespan_then_energy": f["makespan_s"]}[objective]
        floor = {"distance": simple.distance_m, "sorties": simple.sorties,
                 "makespan_then_energy": simple.makespan_s}[objective]
        assert mine <= floor * (1 + REL) + ROUND_M * len(result.plan.sorties)


@pytest.mark.parametrize("small", [True, False])
def test_same_seed_same_plan(flat: Dem, small: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs with one seed give the same sorties, drones and take-off times."""
    if not small:
        monkeypatch.setattr(route_plan, "is_small", lambda *_: False)
    sc = dataclasses.replace(CASES["two_depots"], params=PlannerParams(seed=7, time_limit_s=30))

    def run() -> list[tuple[str, tuple[str, ...], float]]:
        plan = make_plan(sc, flat, objective="distance").plan
        return [(s.vehicle, s.drop_ids, round(s.start_s, 9)) for s in plan.sorties]

    assert run() == run()


@pytest.mark.parametrize(("relief", "wind_m_s", "method"), [(0.0, 0.0, "gripper"),
                                                             (400.0, 6.0, "winch"),
                                                             (300.0, 3.0, "land")])
def test_trip_arcs_add_up_to_the_exact_sortie(relief: float, wind_m_s: float,
                                              method: str) -> None:
    """The trip solver's per-arc times and energies sum to evaluate_sortie's, over hills and
    wind, for every trip it flies."""
    dem = hills_dem(5, relief)
    sc = dataclasses.replace(
        CASES["one_depot_capacity"], wind=Wind(speed_m_s=wind_m_s, from_deg=230.0),
        drone_types={"quad": drone_type(max_parcels=2, max_payload_kg=2.6, drop_method=method)})
    inp, _ = route_input(sc, dem, objective="distance")
    points = tuple(sorted(p for p, o in inp.options.items() if o))
    plan = solve_small(inp, points, seed=0, time_limit_s=10.0, clock=None)
    assert plan is not None and plan.trips
    drone = sc.drone_types["quad"]
    for trip in plan.trips:
        order = tuple(points[c] for c in trip.customers)
        ev = evaluate_sortie(inp.catalog, drone, 0, order, inp.weights_kg, math.inf)
        assert isinstance(ev, SortieEval)
        assert trip.energy_wh == pytest.approx(ev.energy_wh, rel=1e-9)
        assert trip.return_s - trip.depart_s == pytest.approx(ev.duration_s, rel=1e-9)
        released = [t - trip.depart_s for t in trip.service_start_s]
        assert released == pytest.approx(list(ev.release_offsets_s), rel=1e-9)


def test_iteration_budget_follows_time_and_size() -> None:
    """The deterministic iteration budget grows with the time limit and falls with size."""
    assert iteration_budget(20.0, 100) == 2 * iteration_budget(10.0, 100)
    assert iteration_budget(10.0, 1000) < iteration_budget(10.0, 100)
    assert iteration_budget(1e-6, 10**6) == 100


def _ev(drops: tuple[int, ...], duration_s: float, offsets: tuple[float, ...]) -> SortieEval:
    return SortieEval(depot=0, drone_type_id="quad", drops=drops, legs=(), payload_kg=1.0,
                      energy_wh=100.0, duration_s=duration_s, release_offsets_s=offsets)


def _never(ev: SortieEval, keep: tuple[int, ...]) -> SortieEval | str:
    raise AssertionError("no re-evaluation expected")


def test_assigned_schedule_keeps_drones_and_order() -> None:
    """Each drone flies its own sorties in the given order, a turnaround apart."""
    drone = drone_type(turnaround_s=100.0)
    drops = {i: Drop(id=f"d{i}", lat_deg=LAT0, lon_deg=LON0, weight_kg=1.0) for i in (1, 2, 3)}
    per_drone = [[_ev((1,), 500, (200,)), _ev((2,), 300, (100,))], [_ev((3,), 800, (400,))]]
    done, dropped = schedule_assigned(per_drone, drone, drops, _never)
    assert not dropped
    got = {s.sortie.drops: (s.drone_number, s.start_s) for s in done}
    assert got == {(1,): (1, 0.0), (2,): (1, 600.0), (3,): (2, 0.0)}


def test_assigned_schedule_moves_a_late_sortie() -> None:
    """A sortie that would be late behind its drone's others goes to a drone free in time."""
    drone = drone_type(turnaround_s=100.0)
    drops = {1: Drop(id="d1", lat_deg=LAT0, lon_deg=LON0, weight_kg=1.0),
             2: Drop(id="d2", lat_deg=LAT0, lon_deg=LON0, weight_kg=1.0, latest_s=300.0)}
    per_drone = [[_ev((1,), 900, (400,)), _ev((2,), 500, (200,))], []]
    done, dropped = schedule_assigned(per_drone, drone, drops, _never)
    assert not dropped
    got = {s.sortie.drops: (s.drone_number, s.start_s) for s in done}
    assert got[(2,)] == (2, 0.0)


def test_balanced_schedule_beats_lpt_where_lpt_is_known_to_fail() -> None:
    """Sorties of 3, 3, 2, 2, 2 units on two drones: LPT ends at 7, the balance finds 6."""
    drone = drone_type(turnaround_s=0.0)
    evs = [_ev((i,), 100.0 * d, (100.0 * d,)) for i, d in enumerate([3, 3, 2, 2, 2])]
    done = schedule_balanced(evs, drone, 2)
    assert sorted(s.sortie.drops for s in done) == [(i,) for i in range(5)]
    assert last_release_s(done) == pytest.approx(600.0)
    by_drone: dict[int, list[Scheduled]] = {}
    for s in done:
        by_drone.setdefault(s.drone_number, []).append(s)
    for mine in by_drone.values():
        mine.sort(key=lambda s: s.start_s)
        for a, b in itertools.pairwise(mine):
            assert b.start_s >= a.start_s + a.sortie.duration_s - 1e-9


def test_balanced_schedule_flies_last_what_ends_its_releases_soonest() -> None:
    """Each drone's last sortie is the one with the longest way home after its last release."""
    drone = drone_type(turnaround_s=50.0)
    evs = [_ev((1,), 1000.0, (900.0,)), _ev((2,), 1000.0, (200.0,))]
    done = schedule_balanced(evs, drone, 1)
    assert [s.sortie.drops for s in sorted(done, key=lambda s: s.start_s)] == [(1,), (2,)]
    assert last_release_s(done) == pytest.approx(1050.0 + 200.0)


def _construction(method: str, served: int, duration_s: float) -> Construction:
    evs = [_ev((i,), duration_s, (duration_s / 2,)) for i in range(served)]
    return Construction(method=method, scheduled=tuple(
        Scheduled(sortie=e, drone_number=1, start_s=0.0) for e in evs), unserved={})


def test_more_served_wins_then_the_objective() -> None:
    """The construction serving more drops wins even if slower; then the objective decides."""
    slow_more = _construction("routing", 3, 900.0)
    fast_fewer = _construction("simple", 2, 100.0)
    assert best_construction([fast_fewer, slow_more], "makespan_then_energy") is slow_more
    quick = _construction("trips", 3, 500.0)
    assert best_construction([slow_more, quick], "makespan_then_energy") is quick
    with pytest.raises(ValueError, match="at least one"):
        best_construction([], "distance")


def test_unknown_objective_is_refused(flat: Dem) -> None:
    """make_plan names the objectives it knows."""
    with pytest.raises(ValueError, match="objective"):
        make_plan(CASES["two_types"], flat, objective="fastest")  # type: ignore[arg-type]
