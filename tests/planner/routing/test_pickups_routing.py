"""Pickups in the routing core: PyVRP's simultaneous pickup and delivery, the float re-check of
the load profile, and the exact trip solver against brute force with the payload rising at
each pickup."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from planner.routing import (
    Client,
    DepotNode,
    RoutingProblem,
    VehicleType,
    check,
    from_trips,
    solve,
)
from planner.routing.trips.cheng import arc_energy_kwh
from planner.routing.trips.solve import (
    DroneClass,
    TripCustomer,
    TripParams,
    TripProblem,
    solve_trips,
)

TOL = 1e-6


def _line_problem(*, objective: str = "distance", max_trips: int = 2) -> RoutingProblem:
    """Depot at 0; a 2 kg delivery at (0, 100) and a 2 kg pickup at (0, 200); capacity 2 kg."""
    xy = np.array([[0.0, 0.0], [0.0, 100.0], [0.0, 200.0]])
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    return RoutingProblem(
        depots=(DepotNode(),),
        clients=(Client(demand=2.0, name="deliver"), Client(pickup=2.0, name="collect")),
        vehicle_types=(VehicleType(depot=0, count=1, capacity=2.0, max_trips=max_trips),),
        distance_m=dist, duration_s=dist / 10.0, objective=objective)  # type: ignore[arg-type]


def test_pyvrp_delivers_then_collects_in_one_trip() -> None:
    """Deliver first, then collect: one trip within 2 kg (as two deliveries it needs two)."""
    problem = _line_problem()
    answer = solve(problem, seed=1, time_limit_s=5.0, max_iterations=500)
    assert answer.feasible and answer.num_trips == 1
    [trip] = answer.routes[0].trips
    assert trip.clients == (0, 1)
    assert trip.load == pytest.approx(2.0)
    assert answer.distance_m == pytest.approx(400.0)


def test_recheck_rejects_a_load_over_capacity_mid_route() -> None:
    """Collecting before delivering carries 4 kg between the stops: the re-check says so."""
    problem = _line_problem()
    bad = from_trips(problem, [(0, 0, [[1, 0]])])
    assert not bad.feasible
    assert bad.routes[0].trips[0].load == pytest.approx(4.0)
    assert any("load 4 over capacity 2" in v for v in bad.violations)
    good = from_trips(problem, [(0, 0, [[0, 1]])])
    assert good.feasible and not check(problem, good)


@pytest.mark.parametrize("seed", [3, 4])
def test_pyvrp_answers_keep_the_load_within_capacity_everywhere(seed: int) -> None:
    """Random mixes of deliveries and pickups: every trip's load, walked by hand, fits."""
    rng = np.random.default_rng(seed)
    n = 12
    xy = rng.uniform(-500, 500, size=(n + 1, 2))
    xy[0] = 0.0
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    clients = tuple(Client(demand=float(w), name=f"d{c}") if c % 2 else
                    Client(pickup=float(w), name=f"p{c}")
                    for c, w in enumerate(rng.uniform(0.3, 1.5, size=n)))
    problem = RoutingProblem(
        depots=(DepotNode(),), clients=clients,
        vehicle_types=(VehicleType(depot=0, count=2, capacity=2.0, max_trips=6,
                                   max_trip_distance_m=2500.0),),
        distance_m=dist, duration_s=dist / 10.0, objective="distance")
    answer = solve(problem, seed=seed, time_limit_s=10.0, max_iterations=2000)
    assert answer.feasible
    assert sorted(c for r in answer.routes for t in r.trips for c in t.clients) == list(range(n))
    for r in answer.routes:
        for t in r.trips:
            load = sum(clients[c].demand for c in t.clients)
            peak = load
            for c in t.clients:
                load += clients[c].pickup - clients[c].demand
                peak = max(peak, load)
            assert peak <= 2.0 + TOL
            assert t.load == pytest.approx(peak)


# ---------------------------------------------------------------- exact trip solver
def _k() -> float:
    return arc_energy_kwh(3600.0, 0.0) * 1000.0 / 3.0**1.5


def _trip_problem(seed: int, n: int) -> tuple[TripProblem, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-300, 300, size=(n + 1, 2))
    xy[0] = 0.0

    def dist(i: int, j: int) -> float:
        return float(np.hypot(*(xy[i] - xy[j])))

    def energy(i: int, j: int, load_kg: float) -> float:
        return _k() * (3.0 + load_kg) ** 1.5 * dist(i, j) / 3600.0

    customers = []
    for c in range(n):
        w = float(rng.uniform(0.3, 1.2))
        pickup = c % 3 == 0
        customers.append(TripCustomer(node=c + 1, demand_kg=0.0 if pickup else w,
                                      pickup_kg=w if pickup else 0.0))
    drone = DroneClass(id="a", count=2, depot_node=0, capacity_kg=1.5, energy_limit_wh=150.0,
                       arc_time_s=dist, arc_distance_m=dist, arc_energy_wh=energy, max_stops=3)
    return TripProblem(customers=tuple(customers), fleet=(drone,), objective="distance"), xy


def _walk(problem: TripProblem, order: tuple[int, ...]) -> tuple[float, float, float]:
    """Distance, energy and peak load of depot -> order -> depot, by hand."""
    dc = problem.fleet[0]
    custs = problem.customers
    load = sum(custs[c].demand_kg for c in order)
    peak = load
    nodes = [0, *(custs[c].node for c in order), 0]
    loads = [load]
    for c in order:
        load += custs[c].pickup_kg - custs[c].demand_kg
        loads.append(load)
        peak = max(peak, load)
    d = sum(dc.arc_distance_m(a, b) for a, b in itertools.pairwise(nodes))
    e = sum(dc.arc_energy_wh(a, b, q)
            for (a, b), q in zip(itertools.pairwise(nodes), loads, strict=True))
    return d, e, peak


def _brute_distance(problem: TripProblem) -> float:
    """Least total distance over every partition into feasible trips (drones unlimited)."""
    dc = problem.fleet[0]
    n = len(problem.customers)
    best_trip: dict[frozenset[int], float] = {}
    for size in range(1, 4):
        for subset in itertools.combinations(range(n), size):
            for order in itertools.permutations(subset):
                d, e, peak = _walk(problem, order)
                if peak <= dc.capacity_kg + TOL and e <= dc.energy_limit_wh:
                    key = frozenset(subset)
                    best_trip[key] = min(best_trip.get(key, math.inf), d)

    memo: dict[frozenset[int], float] = {}

    def cover(left: frozenset[int]) -> float:
        if not left:
            return 0.0
        if left in memo:
            return memo[left]
        first = min(left)
        best = math.inf
        for trip, d in best_trip.items():
            if first in trip and trip <= left:
                best = min(best, d + cover(left - trip))
        memo[left] = best
        return best

    return cover(frozenset(range(n)))


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_trip_solver_with_pickups_matches_brute_force(seed: int) -> None:
    """Least distance with pickups equals brute force; every trip's energy and load are exact."""
    problem, _ = _trip_problem(seed, 7)
    plan = solve_trips(problem, TripParams(time_limit_s=20))
    assert not plan.optimal  # no proof is claimed with pickups
    assert plan.distance_m == pytest.approx(_brute_distance(problem), rel=1e-9)
    for t in plan.trips:
        d, e, peak = _walk(problem, t.customers)
        assert t.distance_m == pytest.approx(d, rel=1e-9)
        assert t.energy_wh == pytest.approx(e, rel=1e-9)
        assert t.load_kg == pytest.approx(peak, rel=1e-9)
        assert peak <= 1.5 + TOL and e <= 150.0 * (1 + 1e-9)
