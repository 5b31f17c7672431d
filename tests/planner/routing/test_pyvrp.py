"""The PyVRP routing core: optimal on small instances, never an answer that breaks a constraint."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import RoutingInfeasibleError
from planner.routing import (
    Client,
    DepotNode,
    Objective,
    RoutingProblem,
    Solution,
    VehicleType,
    check,
    from_trips,
    solve,
)
from planner.routing._pyvrp_model import PRECISION, choose_scales
from tests.planner.routing.helpers import brute_force, key, recheck

ITERS = 3000


def _problem(points: list[tuple[float, float]], n_depots: int, clients: list[Client],
             types: list[VehicleType], objective: Objective = "distance",
             speed_m_s: float = 1.0) -> RoutingProblem:
    xy = np.asarray(points, dtype=np.float64)
    dist = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    return RoutingProblem(depots=tuple(DepotNode(name=f"D{i}") for i in range(n_depots)),
                          clients=tuple(clients), vehicle_types=tuple(types), distance_m=dist,
                          duration_s=dist / speed_m_s, objective=objective)


def _solve(problem: RoutingProblem, seed: int = 1, **kw: Any) -> Solution:
    return solve(problem, seed=seed, time_limit_s=20.0, max_iterations=ITERS, **kw)


PTS5 = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (-7.0, 3.0), (4.0, -9.0)]

CASES: dict[str, RoutingProblem] = {
    # windows force serving the far corner first, then coming back
    "time_windows": _problem(
        PTS5, 1,
        [Client(earliest_s=25.0, latest_s=40.0), Client(latest_s=16.0),
         Client(earliest_s=60.0), Client(latest_s=95.0), Client(earliest_s=5.0, latest_s=12.0)],
        [VehicleType(depot=0, count=2)]),
    "capacity": _problem(
        PTS5, 1, [Client(demand=q) for q in (4.0, 3.0, 4.0, 2.0, 5.0)],
        [VehicleType(depot=0, count=3, capacity=8.0)]),
    "route_distance_limit": _problem(
        PTS5, 1, [Client() for _ in range(5)],
        [VehicleType(depot=0, count=3, max_trip_distance_m=34.0)]),
    "multi_trip_turnaround": _problem(
        PTS5, 1, [Client(service_s=2.0) for _ in range(5)],
        [VehicleType(depot=0, count=1, capacity=2.0, max_trips=3, turnaround_s=30.0)],
        objective="makespan_then_energy"),
    "multi_trip_trip_limit": _problem(
        PTS5, 1, [Client() for _ in range(5)],
        [VehicleType(depot=0, count=1, max_trips=4, turnaround_s=5.0,
                     max_trip_distance_m=34.0)]),
    "multi_trip_two_depots_trip_limit": _problem(
        [(0.0, 0.0), (30.0, 0.0), (5.0, 0.0), (0.0, 6.0), (12.0, 0.0), (18.0, 0.0), (25.0, 0.0),
         (30.0, 7.0)],
        2, [Client() for _ in range(6)],
        [VehicleType(depot=0, count=1, max_trips=3, turnaround_s=5.0, max_trip_distance_m=26.0),
         VehicleType(depot=1, count=1, max_trips=3, turnaround_s=5.0,
                     max_trip_distance_m=26.0)]),
    "two_depots": _problem(
        [(0.0, 0.0), (20.0, 0.0), (2.0, 3.0), (18.0, -2.0), (9.0, 1.0), (11.0, 1.0), (3.0, -4.0)],
        2, [Client(demand=1.0) for _ in range(5)],
        [VehicleType(depot=0, count=1, capacity=3.0), VehicleType(depot=1, count=1, capacity=3.0)]),
    "two_vehicle_types": _problem(
        PTS5, 1, [Client(demand=q) for q in (1.0, 1.0, 2.0, 1.0, 3.0)],
        [VehicleType(depot=0, count=1, capacity=3.0, max_parcels=2, max_trips=2),
         VehicleType(depot=0, count=1, capacity=6.0, max_trip_distance_m=30.0)],
        objective="sorties"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_finds_brute_force_optimum(name: str) -> None:
    """Each small case: the solver's answer is feasible and as good as the brute-force optimum."""
    problem = CASES[name]
    best = brute_force(problem)
    assert best is not None
    answer = _solve(problem)
    assert check(problem, answer) == []
    again = recheck(problem, answer)
    assert again is not None
    assert key(problem, again) == pytest.approx(answer.objective_key(problem.objective))
    assert answer.objective_key(problem.objective) == pytest.approx(best[0], rel=1e-9)


@pytest.mark.parametrize("objective", ["distance", "sorties", "makespan_then_energy"])
@pytest.mark.parametrize("name", ["capacity", "two_depots", "multi_trip_turnaround",
                                  "time_windows", "multi_trip_trip_limit",
                                  "multi_trip_two_depots_trip_limit"])
def test_objectives_reach_their_own_optimum(name: str, objective: Objective) -> None:
    """Each objective reaches the brute-force optimum of its own key on the same instance."""
    base = CASES[name]
    problem = RoutingProblem(depots=base.depots, clients=base.clients,
                             vehicle_types=base.vehicle_types, distance_m=base.distance_m,
                             duration_s=base.duration_s, objective=objective)
    best = brute_force(problem)
    assert best is not None
    answer = _solve(problem)
    assert answer.objective_key(objective) == pytest.approx(best[0], rel=1e-9)


def test_same_seed_same_answer() -> None:
    """An iteration-bounded run depends on the seed only."""
    problem = CASES["two_depots"]
    a, b = _solve(problem, seed=5), _solve(problem, seed=5)
    assert [(r.vehicle_type, [t.clients for t in r.trips]) for r in a.routes] == \
           [(r.vehicle_type, [t.clients for t in r.trips]) for r in b.routes]


def test_progress_reports_within_the_budget() -> None:
    """Progress comes with done <= total and a best cost that never increases within a phase."""
    calls: list[tuple[float, float, float]] = []
    ticks = iter(range(10**9))
    _solve(CASES["capacity"], progress=lambda d, t, c: calls.append((d, t, c)),
           clock=lambda: next(ticks) * 1e-4)
    assert calls
    assert all(0.0 <= d <= t == 20.0 for d, t, _ in calls)
    assert all(math.isfinite(c) for _, _, c in calls)


def test_unservable_client_is_named() -> None:
    """A client beyond every vehicle's trip limit raises with that client's index."""
    problem = _problem(PTS5, 1, [Client() for _ in range(5)],
                       [VehicleType(depot=0, count=3, max_trip_distance_m=25.0)])
    with pytest.raises(RoutingInfeasibleError) as info:
        _solve(problem)
    far = [c for c in range(5) if 2 * problem.distance_m[0, c + 1] > 25.0]
    assert list(info.value.clients) == far


@pytest.mark.parametrize("unit", [1e-3, 1.0, 1e5])
def test_cost_is_exact_at_any_scale(unit: float) -> None:
    """Tiny or huge float distances: same optimum, cost recomputed from the float matrix."""
    base = CASES["capacity"]
    problem = RoutingProblem(depots=base.depots, clients=base.clients,
                             vehicle_types=base.vehicle_types, distance_m=base.distance_m * unit,
                             duration_s=base.duration_s * unit, objective="distance")
    answer = _solve(problem)
    best = brute_force(problem)
    assert best is not None
    assert answer.distance_m == pytest.approx(best[0][0], rel=1e-12)
    scales = choose_scales(problem)
    n_arcs = 2 * len(problem.clients) + 2
    assert n_arcs / scales.distance <= PRECISION * answer.distance_m


def _valid() -> tuple[RoutingProblem, list[tuple[int, int, list[list[int]]]]]:
    problem = _problem(PTS5, 1, [Client(demand=1.0, latest_s=100.0) for _ in range(5)],
                       [VehicleType(depot=0, count=2, capacity=3.0, max_trips=2,
                                    max_trip_distance_m=36.0, shift_end_s=200.0,
                                    turnaround_s=10.0)])
    raw = [(0, 0, [[0, 1], [2]]), (0, 1, [[3, 4]])]
    return problem, raw


@pytest.mark.parametrize(("mutate", "expect"), [
    (lambda r: [(0, 0, [[0, 1], [2, 0]]), (0, 1, [[3, 4]])], "served 2 times"),
    (lambda r: [(0, 0, [[0, 1], [2]]), (0, 1, [[3]])], "not served"),
    (lambda r: [(0, 0, [[0, 1, 2, 3]]), (0, 1, [[4]])], "over capacity"),
    (lambda r: [(0, 0, [[1, 4], [2]]), (0, 1, [[3, 0]])], "distance"),
    (lambda r: [(0, 0, [[0], [1], [2]]), (0, 1, [[3, 4]])], "max_trips"),
    (lambda r: [(0, 0, [[0, 1]]), (0, 2, [[2], [3, 4]])], "not an available vehicle"),
    (lambda r: [(0, 0, [[0, 1], [2]]), (0, 1, [[3, 4], []])], "empty trip"),
])
def test_check_catches_broken_answers(mutate: Any, expect: str) -> None:
    """Each kind of broken answer is reported by the exact check."""
    problem, raw = _valid()
    assert from_trips(problem, raw).violations == ()
    broken = from_trips(problem, mutate(raw))
    assert any(expect in v for v in broken.violations), broken.violations


def test_check_catches_late_service_and_shift_end() -> None:
    """A time window missed and a landing after the shift end are both reported."""
    problem, _ = _valid()
    tight = RoutingProblem(
        depots=problem.depots,
        clients=(Client(demand=1.0, latest_s=5.0), *problem.clients[1:]),
        vehicle_types=(VehicleType(depot=0, count=2, capacity=3.0, max_trips=2,
                                   max_trip_distance_m=36.0, shift_end_s=40.0,
                                   turnaround_s=10.0),),
        distance_m=problem.distance_m, duration_s=problem.duration_s)
    broken = from_trips(tight, [(0, 0, [[0, 1], [2]]), (0, 1, [[3, 4]])])
    assert any("after latest_s" in v for v in broken.violations)
    assert any("shift_end_s" in v for v in broken.violations)


@st.composite
def _random_problem(draw: st.DrawFn) -> RoutingProblem:
    n = draw(st.integers(3, 6))
    n_dep = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    pts = [tuple(p) for p in rng.uniform(0, 100, (n_dep + n, 2))]
    clients = []
    for _ in range(n):
        early = float(draw(st.sampled_from([0.0, 50.0, 150.0])))
        width = float(draw(st.sampled_from([math.inf, 80.0, 200.0])))
        clients.append(Client(demand=float(draw(st.integers(0, 3))), earliest_s=early,
                              latest_s=early + width, service_s=float(draw(st.integers(0, 10)))))
    types = []
    for _ in range(draw(st.integers(1, 2))):
        types.append(VehicleType(
            depot=draw(st.integers(0, n_dep - 1)), count=draw(st.integers(1, 2)),
            capacity=float(draw(st.sampled_from([3, 5, math.inf]))),
            max_parcels=draw(st.sampled_from([None, 2])),
            max_trip_distance_m=float(draw(st.sampled_from([math.inf, 180.0, 260.0]))),
            max_trip_duration_s=float(draw(st.sampled_from([math.inf, 150.0]))),
            turnaround_s=float(draw(st.sampled_from([0, 20]))),
            shift_end_s=float(draw(st.sampled_from([math.inf, 600.0]))),
            max_trips=draw(st.integers(1, 3))))
    objective = draw(st.sampled_from(["distance", "sorties", "makespan_then_energy"]))
    return _problem(pts, n_dep, clients, types, objective=objective, speed_m_s=2.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_problem())
def test_never_returns_a_broken_answer(problem: RoutingProblem) -> None:
    """Random small problems: an answer, when there is one, passes an independent re-check."""
    try:
        answer = solve(problem, seed=0, time_limit_s=20.0, max_iterations=400)
    except RoutingInfeasibleError:
        return
    assert check(problem, answer) == []
    again = recheck(problem, answer)
    assert again is not None
    makespan, distance, trips = again
    assert distance == pytest.approx(answer.distance_m, rel=1e-12)
    assert makespan == pytest.approx(answer.makespan_s, rel=1e-12)
    assert trips == answer.num_trips
