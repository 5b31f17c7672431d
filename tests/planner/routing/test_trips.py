"""Trip-selection router: exact energy, time windows, optimality against brute force."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pytest

from planner.errors import InputError, RoutingInfeasibleError
from planner.routing.trips import _search as _trips_search
from planner.routing.trips.cheng import (
    ENERGY_LIMIT_KWH,
    arc_energy_kwh,
    cheng_k,
    parse_cheng,
)
from planner.routing.trips.solve import (
    DroneClass,
    TripCustomer,
    TripParams,
    TripPlan,
    TripProblem,
    solve_trips,
)

LIMIT_WH = ENERGY_LIMIT_KWH * 1000.0
TOL = 1e-6


# ---------------------------------------------------------------- small problems
def exact_energy(xy: np.ndarray) -> object:
    """Cheng's energy per arc in Wh over the points ``xy``, flying at 1 m/s."""
    def energy(i: int, j: int, load_kg: float) -> float:
        d = float(np.hypot(*(xy[i] - xy[j])))
        return cheng_k() * (3.0 + load_kg) ** 1.5 * d / 3600.0
    return energy


def make_problem(seed: int, n: int, *, drones: int = 2, wait: bool = True,
                 objective: str = "distance", turnaround_s: float = 0.0,
                 two_classes: bool = False) -> TripProblem:
    """A random instance with Cheng's energy: depot(s) then customers, 1 m/s."""
    rng = np.random.default_rng(seed)
    n_depots = 2 if two_classes else 1
    xy = rng.uniform(-350, 350, size=(n_depots + n, 2))
    xy[0] = (0.0, 0.0)

    def dist(i: int, j: int) -> float:
        return float(np.hypot(*(xy[i] - xy[j])))

    energy = exact_energy(xy)
    customers = []
    for c in range(n):
        ready = float(rng.uniform(0, 1500))
        customers.append(TripCustomer(node=n_depots + c, demand_kg=float(rng.uniform(0.1, 1.0)),
                                      ready_s=ready, due_s=ready + float(rng.uniform(300, 1500)),
                                      service_s=float(rng.choice([0.0, 30.0]))))
    fleet = [DroneClass(id="a", count=drones, depot_node=0, capacity_kg=1.5,
                        energy_limit_wh=LIMIT_WH, arc_time_s=dist, arc_distance_m=dist,
                        arc_energy_wh=energy, turnaround_s=turnaround_s, return_by_s=4000.0)]
    if two_classes:
        fleet.append(DroneClass(id="b", count=1, depot_node=1, capacity_kg=1.0,
                                energy_limit_wh=0.7 * LIMIT_WH, arc_time_s=dist,
                                arc_distance_m=dist, arc_energy_wh=energy, max_stops=2,
                                available_from_s=200.0, return_by_s=3500.0))
    return TripProblem(customers=tuple(customers), fleet=tuple(fleet),
                       objective=objective, wait_allowed=wait)  # type: ignore[arg-type]


# ---------------------------------------------------------------- brute force
@dataclass(frozen=True)
class Flight:
    """A feasible ordered trip of one class: its fixed figures and how it may be scheduled."""

    klass: int
    order: tuple[int, ...]
    distance_m: float
    energy_wh: float


def simulate(problem: TripProblem, klass: int, order: tuple[int, ...],
             depart_s: float) -> tuple[float, float] | None:
    """Fly ``order`` from ``depart_s``: (landing, end of last service) or None if infeasible."""
    dc = problem.fleet[klass]
    node, now, last_end = dc.depot_node, depart_s, depart_s
    for c in order:
        cust = problem.customers[c]
        now += dc.arc_time_s(node, cust.node)
        if now < cust.ready_s - TOL:
            if not problem.wait_allowed:
                return None
            now = cust.ready_s
        if now > cust.due_s + TOL:
            return None
        now += cust.service_s
        last_end = now
        node = cust.node
    now += dc.arc_time_s(node, dc.depot_node)
    if now > dc.return_by_s + TOL or depart_s < dc.available_from_s - TOL:
        return None
    return now, last_end


def earliest_departure(problem: TripProblem, f: Flight, free_s: float) -> float | None:
    """The earliest feasible departure at or after ``free_s`` (None if there is none)."""
    dc = problem.fleet[f.klass]
    s = max(free_s, dc.available_from_s)
    if not problem.wait_allowed:
        # Departure must put every arrival inside its window: s >= ready_i - offset_i.
        node, off = dc.depot_node, 0.0
        for c in f.order:
            cust = problem.customers[c]
            off += dc.arc_time_s(node, cust.node)
            s = max(s, cust.ready_s - off)
            off += cust.service_s
            node = cust.node
    return s if simulate(problem, f.klass, f.order, s) is not None else None


def fly(problem: TripProblem, klass: int, order: tuple[int, ...]) -> Flight | None:
    """The ordered trip if it keeps capacity, stops and energy, else None."""
    dc = problem.fleet[klass]
    load = sum(problem.customers[c].demand_kg for c in order)
    if load > dc.capacity_kg or (dc.max_stops and len(order) > dc.max_stops):
        return None
    node, energy, dist = dc.depot_node, 0.0, 0.0
    for c in (*order, None):
        nxt = dc.depot_node if c is None else problem.customers[c].node
        energy += dc.arc_energy_wh(node, nxt, load)
        dist += dc.arc_distance_m(node, nxt)
        if c is not None:
            load -= problem.customers[c].demand_kg
        node = nxt
    return Flight(klass, order, dist, energy) if energy <= dc.energy_limit_wh else None


def flights(problem: TripProblem) -> list[Flight]:
    """Every ordered trip that keeps capacity, stops, energy and can be flown at some time."""
    out = []
    n = len(problem.customers)
    for klass in range(len(problem.fleet)):
        for size in range(1, n + 1):
            for order in itertools.permutations(range(n), size):
                f = fly(problem, klass, order)
                if f is not None and earliest_departure(problem, f, 0.0) is not None:
                    out.append(f)
    return out


def partitions(items: list[int]) -> Iterator[list[list[int]]]:
    """Every partition of ``items`` into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in partitions(rest):
        for k in range(len(part)):
            yield [*part[:k], [first, *part[k]], *part[k + 1:]]
        yield [[first], *part]


def best_makespan(problem: TripProblem, chosen: tuple[Flight, ...]) -> float | None:
    """Least end of the last service over every way to fly ``chosen`` (None: no way)."""
    counts = [dc.count for dc in problem.fleet]

    @cache
    def go(left: frozenset[int], frees: tuple[tuple[float, ...], ...]) -> float | None:
        if not left:
            return 0.0
        best: float | None = None
        for k in left:
            f = chosen[k]
            for d, free in enumerate(frees[f.klass]):
                if free in frees[f.klass][:d]:
                    continue  # identical drones: try one of each free time
                s = earliest_departure(problem, f, free)
                if s is None:
                    continue
                sim = simulate(problem, f.klass, f.order, s)
                assert sim is not None
                land, last_end = sim
                turn = problem.fleet[f.klass].turnaround_s
                new = list(frees[f.klass])
                new[d] = land + turn
                rest = list(frees)
                rest[f.klass] = tuple(sorted(new))
                sub = go(left - {k}, tuple(rest))
                if sub is not None:
                    val = max(last_end, sub)
                    best = val if best is None else min(best, val)
        return best

    return go(frozenset(range(len(chosen))), tuple((0.0,) * c for c in counts))


def brute_force(problem: TripProblem) -> tuple[float, ...] | None:
    """Lexicographic optimum of the objective over every answer (None: infeasible)."""
    by_set: dict[frozenset[int], list[Flight]] = {}
    for f in flights(problem):
        by_set.setdefault(frozenset(f.order), []).append(f)
    best: tuple[float, ...] | None = None
    for part in partitions(list(range(len(problem.customers)))):
        options = [by_set.get(frozenset(block), []) for block in part]
        if not all(options):
            continue
        for chosen in itertools.product(*options):
            dist = sum(f.distance_m for f in chosen)
            energy = sum(f.energy_wh for f in chosen)
            key_wo = {"distance": (dist,), "energy": (energy,),
                      "sorties": (len(chosen), dist)}.get(problem.objective)
            if key_wo is not None and best is not None and key_wo >= best:
                continue
            mk = best_makespan(problem, tuple(chosen))
            if mk is None:
                continue
            key = key_wo if key_wo is not None else (mk, energy)
            if best is None or key < best:
                best = key
    return best


def plan_key(plan: TripPlan) -> tuple[float, ...]:
    """The plan's objective key, as ``brute_force`` computes it."""
    return {"distance": (plan.distance_m,), "energy": (plan.energy_wh,),
            "sorties": (float(plan.num_trips), plan.distance_m)}.get(
        plan.objective, (plan.makespan_s, plan.energy_wh))


def assert_plan_valid(problem: TripProblem, plan: TripPlan) -> None:
    """Every constraint re-checked with this file's own arithmetic."""
    served = sorted(c for t in plan.trips for c in t.customers)
    assert served == list(range(len(problem.customers)))
    last_land: dict[tuple[int, int], float] = {}
    for t in sorted(plan.trips, key=lambda t: t.depart_s):
        dc = problem.fleet[t.drone_class]
        assert 0 <= t.drone < dc.count
        f = fly(problem, t.drone_class, t.customers)  # capacity, stops and exact energy
        assert f is not None, t
        assert t.energy_wh == pytest.approx(f.energy_wh, rel=1e-12)
        assert t.distance_m == pytest.approx(f.distance_m, rel=1e-12)
        sim = simulate(problem, t.drone_class, t.customers, t.depart_s)
        assert sim is not None, t
        key = (t.drone_class, t.drone)
        assert t.depart_s >= last_land.get(key, -math.inf) - TOL
        last_land[key] = sim[0] + dc.turnaround_s


CASES = [
    pytest.param(dict(seed=s, n=5), id=f"wait-{s}") for s in range(6)
] + [
    pytest.param(dict(seed=s, n=5, wait=False), id=f"nowait-{s}") for s in range(3)
] + [
    pytest.param(dict(seed=s, n=4, drones=1, turnaround_s=t), id=f"turnaround-{s}")
    for s, t in ((14, 60.0), (23, 120.0), (38, 120.0))  # the turnaround changes the optimum
] + [
    pytest.param(dict(seed=s, n=5, two_classes=True), id=f"two-classes-{s}") for s in range(3)
] + [
    pytest.param(dict(seed=s, n=6), id=f"six-{s}") for s in range(2)
]


@pytest.mark.parametrize("kw", CASES)
def test_distance_optimum_matches_brute_force(kw: dict[str, object]) -> None:
    """The proven optimum equals the brute-force minimum distance, and the plan is valid."""
    problem = make_problem(**kw)  # type: ignore[arg-type]
    expected = brute_force(problem)
    if expected is None:
        with pytest.raises(RoutingInfeasibleError):
            solve_trips(problem, TripParams(time_limit_s=10, seed=1))
        return
    plan = solve_trips(problem, TripParams(time_limit_s=10, seed=1))
    assert plan.optimal
    assert plan.distance_m == pytest.approx(expected[0], abs=1e-3)
    assert_plan_valid(problem, plan)


@pytest.mark.parametrize("objective", ["energy", "sorties", "makespan_then_energy"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_other_objectives_match_brute_force(objective: str, seed: int) -> None:
    """Energy, sorties-then-distance and makespan-then-energy optima match brute force."""
    problem = make_problem(seed, 4, objective=objective, turnaround_s=60.0)
    expected = brute_force(problem)
    assert expected is not None
    plan = solve_trips(problem, TripParams(time_limit_s=10, seed=1))
    got = plan_key(plan)
    assert_plan_valid(problem, plan)
    assert plan.optimal
    if objective == "makespan_then_energy":
        # Departures sit on a 0.01 s grid, each trip of a chain may start one tick late.
        assert got[0] == pytest.approx(expected[0], abs=0.01 * (plan.num_trips + 1))
        if got[0] == pytest.approx(expected[0], abs=1e-9):
            assert got[1] == pytest.approx(expected[1], abs=1e-3)
    else:
        assert got == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(("seed", "n", "drones"), [(2, 16, 3), (1, 20, 5)])
def test_reduced_cost_fixing_keeps_the_optimum(seed: int, n: int, drones: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounding and fixing by reduced cost proves the same optimum as the full model."""
    problem = make_problem(seed, n, drones=drones)
    fast = solve_trips(problem, TripParams(time_limit_s=30, seed=1))
    assert fast.columns > _trips_search.SMALL  # the relaxation path ran
    monkeypatch.setattr(_trips_search, "SMALL", 10**9)
    full = solve_trips(problem, TripParams(time_limit_s=30, seed=1))
    assert fast.optimal and full.optimal
    assert fast.distance_m == pytest.approx(full.distance_m, abs=1e-3)
    assert fast.lower_bound <= fast.distance_m + 1e-6
    assert_plan_valid(problem, fast)


def test_neighbour_restriction_is_not_called_optimal() -> None:
    """Restricting trips to near neighbours marks the answer restricted and unproven."""
    plan = solve_trips(make_problem(1, 6), TripParams(time_limit_s=10, neighbours=1))
    assert plan.restricted and not plan.optimal


@pytest.mark.parametrize("seed", [2, 4])
def test_twenty_customers_on_three_drones(seed: int) -> None:
    """A fleet with little slack: a full answer is found and proven, and it is valid."""
    problem = make_problem(seed, 20, drones=3)
    # a proof takes a few seconds alone; the limit leaves room for a loaded machine
    plan = solve_trips(problem, TripParams(time_limit_s=60, seed=1))
    assert_plan_valid(problem, plan)
    assert plan.optimal and plan.lower_bound == pytest.approx(plan.distance_m, abs=1e-3)


def test_solution_is_deterministic_for_a_seed() -> None:
    """The same problem and seed give the same trips and departures."""
    problem = make_problem(7, 6)
    a = solve_trips(problem, TripParams(time_limit_s=10, seed=3))
    b = solve_trips(problem, TripParams(time_limit_s=10, seed=3))
    assert [(t.customers, t.drone, t.depart_s) for t in a.trips] == \
        [(t.customers, t.drone, t.depart_s) for t in b.trips]


def test_progress_reports_stages() -> None:
    """Progress is reported for enumeration and for each improving answer."""
    seen = []
    solve_trips(make_problem(3, 5), TripParams(time_limit_s=10), progress=seen.append)
    assert seen[0].stage == "enumerate" and seen[0].candidates > 0
    assert any(p.objective is not None for p in seen)


# ---------------------------------------------------------------- energy function
def test_cheng_constant_and_arc_energy_by_hand() -> None:
    """k = sqrt(9.81^3 / (2 * 1.204 * 0.0064 * 6)) = 101.04 and E = k (3 + q)^1.5 t / 3.6e6."""
    assert cheng_k() == pytest.approx(101.04, abs=0.005)
    # 9.81^3 = 944.076141; 2 * 1.204 * 0.0064 * 6 = 0.0924672; sqrt(10209.85) = 101.0438
    assert cheng_k() == pytest.approx(math.sqrt(944.076141 / 0.0924672), rel=1e-9)
    assert cheng_k() == pytest.approx(101.0438, abs=1e-4)
    # Empty: 3^1.5 = 5.196152; 101.0438 * 5.196152 = 525.039 W; 1000 s -> 0.145844 kWh.
    assert arc_energy_kwh(1000.0, 0.0) == pytest.approx(0.145844, abs=1e-6)
    # Full: 4.5^1.5 = 9.545942; 964.56 W; 500 s -> 0.133967 kWh.
    assert arc_energy_kwh(500.0, 1.5) == pytest.approx(0.133967, abs=1e-6)
    # The battery lasts 0.27 kWh / 525.04 W = 1851 s empty but only 1008 s fully loaded.
    assert arc_energy_kwh(1851.0, 0.0) < 0.27 < arc_energy_kwh(1852.0, 0.0)
    assert arc_energy_kwh(1007.0, 1.5) < 0.27 < arc_energy_kwh(1008.0, 1.5)


def _two_drop_problem(energy_of: object) -> TripProblem:
    """Depot and two customers 0.7 kg each, 620 m out and 100 m apart.

    Together: 620 m with 1.4 kg, 100 m with 0.7 kg, 628 m empty: 272.2 Wh exact, over the
    270 Wh battery; apart: 214 Wh each.
    """
    xy = np.array([(0.0, 0.0), (620.0, 0.0), (620.0, 100.0)])

    def dist(i: int, j: int) -> float:
        return float(np.hypot(*(xy[i] - xy[j])))

    drone = DroneClass(id="cheng", count=1, depot_node=0, capacity_kg=1.5,
                       energy_limit_wh=LIMIT_WH, arc_time_s=dist, arc_distance_m=dist,
                       arc_energy_wh=energy_of(xy, dist))  # type: ignore[operator]
    customers = (TripCustomer(node=1, demand_kg=0.7), TripCustomer(node=2, demand_kg=0.7))
    return TripProblem(customers=customers, fleet=(drone,))


def test_linear_energy_accepts_a_trip_the_exact_function_rejects() -> None:
    """A trip within the battery under the tangent linearisation is over it in truth."""
    k = cheng_k()

    def linear(xy: np.ndarray, dist: object) -> object:
        # Tangent of k (3 + q)^1.5 at half the capacity: below the convex curve elsewhere.
        q0 = 0.75
        p0, slope = k * (3 + q0) ** 1.5, 1.5 * k * (3 + q0) ** 0.5

        def energy(i: int, j: int, q: float) -> float:
            return (p0 + slope * (q - q0)) * dist(i, j) / 3600.0  # type: ignore[operator]
        return energy

    def exact(xy: np.ndarray, dist: object) -> object:
        def energy(i: int, j: int, q: float) -> float:
            return arc_energy_kwh(dist(i, j), q) * 1000.0  # type: ignore[operator]
        return energy

    lin_plan = solve_trips(_two_drop_problem(linear), TripParams(time_limit_s=5))
    assert lin_plan.num_trips == 1
    trip = lin_plan.trips[0]
    legs = [620.0, 100.0, math.hypot(620.0, 100.0)] if trip.customers == (0, 1) else \
        [math.hypot(620.0, 100.0), 100.0, 620.0]
    true_wh = sum(arc_energy_kwh(d, q) * 1000 for d, q in zip(legs, (1.4, 0.7, 0.0), strict=True))
    assert trip.energy_wh <= LIMIT_WH < true_wh
    plan = solve_trips(_two_drop_problem(exact), TripParams(time_limit_s=5))
    assert plan.num_trips == 2 and all(t.energy_wh <= LIMIT_WH for t in plan.trips)


def test_energy_counts_the_payload_left_on_each_arc() -> None:
    """The trip's energy uses the full load out, the remainder after each drop, then empty."""
    problem = make_problem(12, 3, drones=1)
    plan = solve_trips(problem, TripParams(time_limit_s=5))
    dc = problem.fleet[0]
    for t in plan.trips:
        nodes = [dc.depot_node, *(problem.customers[c].node for c in t.customers),
                 dc.depot_node]
        loads = [sum(problem.customers[c].demand_kg for c in t.customers[k:])
                 for k in range(len(t.customers) + 1)]
        hand = sum(101.0438 * (3 + q) ** 1.5 * dc.arc_time_s(a, b) / 3600
                   for (a, b), q in zip(itertools.pairwise(nodes), loads, strict=True))
        assert t.energy_wh == pytest.approx(hand, rel=1e-5)


# ---------------------------------------------------------------- errors
def test_unservable_customer_is_named() -> None:
    """A customer too heavy for every drone is reported by index."""
    problem = make_problem(2, 4)
    heavy = replace(problem.customers[2], demand_kg=2.0)
    problem = replace(problem, customers=(*problem.customers[:2], heavy,
                                          *problem.customers[3:]))
    with pytest.raises(RoutingInfeasibleError) as err:
        solve_trips(problem, TripParams(time_limit_s=5))
    assert err.value.clients == (2,)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("demand_kg", -1.0, "demand_kg"),
    ("due_s", -5.0, "due_s"),
    ("node", -1, "node"),
])
def test_customer_validation(field: str, value: float, message: str) -> None:
    """Bad customer values raise ValueError naming the field."""
    kw = {"node": 1, "demand_kg": 1.0, "ready_s": 0.0, "due_s": 10.0, field: value}
    with pytest.raises(ValueError, match=message):
        TripCustomer(**kw)  # type: ignore[arg-type]


CHENG_TEXT = """CustNum\t2
DroneNum\t1
#Node\tX\tY\tDemand\tReady\tDue
0\t0\t0\t0.0\t0\t1000
1\t100\t0\t0.5\t0\t500
2\t0\t100\t0.5\t100\t600
3\t0\t0\t0.0\t0\t1000
"""


def test_parse_cheng_instance() -> None:
    """The parser keeps nodes 0..n and the horizon, drops the end depot."""
    inst = parse_cheng(CHENG_TEXT, name="tiny")
    assert inst.n_customers == 2 and inst.n_drones == 1 and inst.horizon_s == 1000
    assert inst.distance_m(1, 2) == pytest.approx(math.sqrt(2) * 100)
    plan = solve_trips(inst.problem(), TripParams(time_limit_s=5))
    assert plan.optimal and plan.distance_m == pytest.approx(200 + 100 * math.sqrt(2))


@pytest.mark.parametrize(("text", "line"), [
    (CHENG_TEXT.replace("1\t100\t0\t0.5", "1\t100\tx\t0.5"), 5),
    (CHENG_TEXT.replace("2\t0\t100\t0.5\t100\t600", "2\t0\t100\t0.5\t700\t600"), 6),
    (CHENG_TEXT.replace("3\t0\t0\t0.0", "3\t5\t0\t0.0"), 7),
])
def test_parse_cheng_errors_name_the_line(text: str, line: int) -> None:
    """Malformed rows raise InputError with their line number."""
    with pytest.raises(InputError) as err:
        parse_cheng(text, path="x.txt")
    assert err.value.line == line


def test_parse_cheng_requires_every_node_row() -> None:
    """A missing node row is an InputError."""
    with pytest.raises(InputError, match="node rows"):
        parse_cheng(CHENG_TEXT.replace("2\t0\t100\t0.5\t100\t600\n", ""))
