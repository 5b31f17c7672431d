"""Solve a :class:`RoutingProblem` with PyVRP's iterated local search.

Multi-depot, heterogeneous vehicle types, time windows, service times, capacity and parcel
count per trip, per-trip distance and flight-time limits, multiple trips per vehicle with a
turnaround between them (PyVRP reload depots), optional clients with prizes. Every answer is
re-scheduled and re-checked on the float matrices (:func:`planner.routing.check`) before it is
returned; the cost is computed there, not taken from PyVRP's integer objective.

PyVRP bounds distance and duration per route, not per trip: for multi-trip vehicles with
per-trip limits see :meth:`_Runner.search` (exact single-trip vehicles when no time constraint
ties a vehicle's trips, else a relaxed model with repair, or a conservative surrogate).

Objectives: ``distance`` and ``sorties`` (a trip weighs more than any distance) are one search;
``makespan_then_energy`` searches the shortest makespan by bisection over a bound on every
client's service end (each probe a short search that stops at its first feasible answer), then
spends the rest of the time minimising the distance under the best bound found.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence

import pyvrp
import pyvrp.search
from pyvrp.exceptions import PenaltyBoundWarning

from planner.errors import RoutingInfeasibleError
from planner.routing._budget import Budget, Clock, Progress
from planner.routing._evaluate import RawRoute, evaluate, schedule_trip, trip_violations
from planner.routing._polish import last_trip_first
from planner.routing._pyvrp_model import (
    PyvrpModel,
    Scales,
    Variant,
    build_model,
    choose_scales,
    decode,
    encode,
)
from planner.routing._split import group_virtual, repair_trips
from planner.routing.model import RoutingProblem, Solution

log = logging.getLogger(__name__)

#: Share of the budget the makespan objective spends on its first, unbounded search.
FIRST_SHARE = 0.3
#: The bisection stops when the makespan is known within this fraction.
MAKESPAN_REL_TOL = 1e-3
MAX_PROBES = 10
#: Late-acceptance history of PyVRP's iterated local search (PyVRP's default 300) and size of
#: its granular neighbourhoods (default 50): chosen on CMT7, 9, 10, 13 and 14 at 10 s over
#: 3 seeds, where both lowered the mean gap (benchmarks/README.md).
ILS_HISTORY_LENGTH = 1000
NUM_NEIGHBOURS = 20
#: The history holds whole solutions (a few hundred bytes per client each): on large problems
#: it is shortened so that it holds at most this many client visits in all (1,000 solutions
#: up to 1,000 clients, 212 at 4,700; measured 0.8 MB per solution at 4,700 clients), and
#: never below ``MIN_HISTORY_LENGTH``.
HISTORY_CLIENT_VISITS = 1_000_000
MIN_HISTORY_LENGTH = 100


def solve(problem: RoutingProblem, *, seed: int, time_limit_s: float,
          progress: Progress | None = None, max_iterations: int | None = None,
          clock: Clock | None = None) -> Solution:
    """Route every client of ``problem`` with PyVRP.

    Parameters
    ----------
    problem
        The routing problem; its ``objective`` selects what is minimised.
    seed
        Seed of every random choice; the same seed gives the same answer whenever the search is
        ended by ``max_iterations`` rather than by the time limit.
    time_limit_s
        Wall-clock budget of the whole solve.
    progress
        Called as ``progress(done_s, total_s, best_cost)`` on every new best answer of the search
        (``best_cost`` in distance units, trip weights included for ``sorties``).
    max_iterations
        Total iteration budget over all phases (None: only the time limit).
    clock
        Monotonic clock in seconds; without one PyVRP's own timer enforces the limit.

    Returns
    -------
    Solution
        The best answer found; it keeps every constraint (``violations`` is empty).

    Raises
    ------
    RoutingInfeasibleError
        If a required client cannot be served by any vehicle even alone, or no answer keeping
        every constraint was found within the budget.

    Examples
    --------
    One vehicle carrying two parcels per trip serves three clients 5 m from the depot:

    >>> import numpy as np
    >>> from planner.routing import Client, DepotNode, RoutingProblem, VehicleType
    >>> xy = np.array([[0.0, 0.0], [3.0, 4.0], [-3.0, 4.0], [0.0, -5.0]])
    >>> dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    >>> problem = RoutingProblem(
    ...     depots=(DepotNode(),), clients=(Client(demand=1.0),) * 3,
    ...     vehicle_types=(VehicleType(depot=0, count=1, capacity=2.0, max_trips=2),),
    ...     distance_m=dist, duration_s=dist / 10.0, objective="distance")
    >>> answer = solve(problem, seed=1, time_limit_s=5.0, max_iterations=300)
    >>> answer.num_trips, round(answer.distance_m, 6)
    (2, 26.0)
    >>> sorted(sorted(t.clients) for t in answer.routes[0].trips)
    [[0, 1], [2]]
    """
    lonely = unservable_clients(problem)
    if lonely:
        raise RoutingInfeasibleError(
            f"{len(lonely)} required client(s) cannot be served by any vehicle type even alone",
            clients=tuple(lonely))
    budget = Budget(time_limit_s=time_limit_s, max_iterations=max_iterations, clock=clock,
                    progress=progress)
    runner = _Runner(problem, choose_scales(problem), seed, budget)
    if problem.objective == "makespan_then_energy":
        _makespan_search(runner)
    else:
        base = Variant(weigh_trips=problem.objective == "sorties")
        runner.search(base, 1.0)
        if runner.best is None and not budget.exhausted():
            runner.search(base, 1.0)
    if runner.best is None:
        raise RoutingInfeasibleError(
            "no answer keeping every constraint was found within the time limit",
            violations=runner.last_violations)
    return runner.best


def unservable_clients(problem: RoutingProblem) -> list[int]:
    """Required clients that no vehicle type can serve even in a trip of their own."""
    out = []
    for c, client in enumerate(problem.clients):
        if client.required and not any(_serves_alone(problem, k, c)
                                       for k in range(len(problem.vehicle_types))):
            out.append(c)
    return out


def _serves_alone(problem: RoutingProblem, k: int, c: int) -> bool:
    vt = problem.vehicle_types[k]
    trip = schedule_trip(problem, vt.depot, [c], 0.0)
    return not trip_violations(problem, vt, trip) and trip.return_s <= vt.shift_end_s * (
        1 + 1e-9) + 1e-9


class _Runner:
    """Runs PyVRP phases against the shared budget and keeps the best exact answer."""

    def __init__(self, problem: RoutingProblem, scales: Scales, seed: int,
                 budget: Budget) -> None:
        self.problem = problem
        self.scales = scales
        self.seed = seed
        self.budget = budget
        self.best: Solution | None = None
        self.best_raw: list[RawRoute] | None = None
        self.last_violations: tuple[str, ...] = ()
        self._phase = 0
        limited = [v for v in problem.vehicle_types if v.max_trips > 1 and v.has_trip_limits]
        self._two_modes = bool(limited)
        self._virtual = bool(limited) and problem.objective != "makespan_then_energy" and all(
            math.isinf(c.latest_s) for c in problem.clients) and all(
            math.isinf(v.shift_end_s) for v in limited)

    def search(self, variant: Variant, share: float, *, first_feasible: bool = False,
               init: Sequence[RawRoute] | None = None) -> Solution | None:
        """Search ``variant`` with ``share`` of what is left; the best exact answer found.

        With per-trip limits on multi-trip vehicles and nothing that ties a vehicle's trips in
        time (no latest times, no shift end, no makespan), each trip is a vehicle of its own
        (exact). Otherwise the search first runs the relaxed model (repaired afterwards); if
        that gives a valid answer the rest continues from it, else the rest goes to the
        surrogate model, whose answers keep the limits by construction.
        """
        if not self._two_modes:
            return self._phase_run(variant, share, first_feasible, init)
        if self._virtual:
            virtual = Variant(makespan_bound_s=variant.makespan_bound_s, trip_mode="virtual",
                              weigh_trips=variant.weigh_trips)
            return self._phase_run(virtual, share, first_feasible, init)
        relaxed = Variant(makespan_bound_s=variant.makespan_bound_s, trip_mode="relaxed",
                          weigh_trips=variant.weigh_trips)
        found = self._phase_run(relaxed, share / 2, first_feasible, init)
        if found is not None and first_feasible:
            return found
        if found is not None:
            again = self._phase_run(relaxed, share, first_feasible, self.best_raw)
            return self._better(found, again)
        surrogate = Variant(makespan_bound_s=variant.makespan_bound_s, trip_mode="surrogate",
                            weigh_trips=variant.weigh_trips)
        other = self._phase_run(surrogate, share, first_feasible, init or self.best_raw)
        return self._better(found, other)

    def _better(self, a: Solution | None, b: Solution | None) -> Solution | None:
        if a is None or b is None:
            return a or b
        key = self.problem.objective
        return a if a.objective_key(key) <= b.objective_key(key) else b

    def _phase_run(self, variant: Variant, share: float, first_feasible: bool,
                   init: Sequence[RawRoute] | None) -> Solution | None:
        if self.budget.exhausted():
            return None
        model = build_model(self.problem, self.scales, variant)
        stop = self.budget.stop(share, scale=self.scales.distance, first_feasible=first_feasible)
        start = _warm_start(model, init)
        self._phase += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            result = pyvrp.solve(model.data, stop, seed=self.seed + 7919 * self._phase,
                                 collect_stats=False, display=False, initial_solution=start,
                                 params=_params(len(self.problem.clients)))
        self.budget.charge(result.runtime, result.num_iterations)
        raw = decode(model, result.best)
        if variant.trip_mode == "relaxed" and self._two_modes:
            raw = repair_trips(self.problem, raw)
        if variant.trip_mode == "virtual":
            raw = group_virtual(self.problem, raw)
        if self.problem.objective == "makespan_then_energy":
            raw = last_trip_first(self.problem, raw)
        answer = evaluate(self.problem, raw)
        log.debug("phase %d %s: pyvrp feasible %s, exact violations %d, distance %.6f",
                  self._phase, variant, result.is_feasible(), len(answer.violations),
                  answer.distance_m)
        if answer.violations:
            log.debug("first violations: %s", answer.violations[:3])
        if not answer.feasible:
            self.last_violations = answer.violations
            return None
        if self._better(self.best, answer) is answer:
            self.best, self.best_raw = answer, raw
        if variant.makespan_bound_s is not None and answer.makespan_s > _bound_tol(
                variant.makespan_bound_s):
            return None
        return answer


def history_length(n_clients: int) -> int:
    """Late-acceptance history of the search on ``n_clients`` clients.

    Examples
    --------
    >>> history_length(1000), history_length(4700), history_length(20000)
    (1000, 212, 100)
    """
    cap = HISTORY_CLIENT_VISITS // max(n_clients, 1)
    return max(MIN_HISTORY_LENGTH, min(ILS_HISTORY_LENGTH, cap))


def _params(n_clients: int) -> pyvrp.SolveParams:
    return pyvrp.SolveParams(
        ils=pyvrp.IteratedLocalSearchParams(history_length=history_length(n_clients)),
        neighbourhood=pyvrp.search.NeighbourhoodParams(num_neighbours=NUM_NEIGHBOURS))


def _bound_tol(bound: float) -> float:
    return bound * (1 + 1e-9) + 1e-6


def _warm_start(model: PyvrpModel, init: Sequence[RawRoute] | None) -> pyvrp.Solution | None:
    if not init:
        return None
    try:
        return encode(model, init)
    except (ValueError, IndexError, RuntimeError):
        return None


def makespan_lower_bound(problem: RoutingProblem) -> float:
    """No answer serves every required client before this time."""
    lb = 0.0
    for c, client in enumerate(problem.clients):
        if not client.required:
            continue
        node = problem.node(c)
        reach = min(float(problem.duration_s[v.depot, node]) for v in problem.vehicle_types)
        lb = max(lb, max(reach, client.earliest_s) + client.service_s)
    return lb


def _makespan_search(runner: _Runner) -> None:
    first = runner.search(Variant(), FIRST_SHARE)
    if first is None:
        first = runner.search(Variant(), 1.0)
    if first is None or runner.best is None:
        return
    lo = makespan_lower_bound(runner.problem)
    hi = runner.best.makespan_s
    probes = 0
    while (hi - lo > MAKESPAN_REL_TOL * max(hi, 1e-9) and probes < MAX_PROBES
           and not runner.budget.exhausted()):
        expected = max(1, math.ceil(math.log2(max(hi - lo, 1e-12)
                                              / (MAKESPAN_REL_TOL * max(hi, 1e-9)))))
        share = 0.5 / (min(expected, MAX_PROBES - probes) + 1)
        bound = (lo + hi) / 2
        probes += 1
        found = runner.search(Variant(makespan_bound_s=bound), share, first_feasible=True,
                              init=runner.best_raw)
        if found is not None:
            hi = min(hi, found.makespan_s)
        else:
            lo = bound
    runner.search(Variant(makespan_bound_s=hi), 1.0, init=runner.best_raw)
