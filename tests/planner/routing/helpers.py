"""Independent brute force and re-check of small routing problems, for the routing tests.

Nothing here comes from ``planner.routing`` except the data classes: the schedule, the limits
and the enumeration are written again from the model's documented meaning.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from planner.routing import RoutingProblem, Solution

TOL = 1e-6

Plan = list[tuple[int, list[list[int]]]]  # (vehicle slot, trips)


def vehicles(problem: RoutingProblem) -> list[int]:
    """One entry per physical vehicle: its type index."""
    return [k for k, vt in enumerate(problem.vehicle_types) for _ in range(vt.count)]


def trip_figures(problem: RoutingProblem, depot: int, clients: list[int],
                 depart_s: float) -> tuple[float, float, list[float], float]:
    """Distance, return time, service starts and total waiting of a trip leaving at depart_s."""
    n_dep = len(problem.depots)
    dist, dur = problem.distance_m, problem.duration_s
    at, t, d, waited = depot, depart_s, 0.0, 0.0
    starts = []
    for c in clients:
        node = n_dep + c
        d += float(dist[at, node])
        t += float(dur[at, node])
        start = max(t, problem.clients[c].earliest_s)
        waited += start - t
        starts.append(start)
        t = start + problem.clients[c].service_s
        at = node
    return d + float(dist[at, depot]), t + float(dur[at, depot]), starts, waited


def plan_cost(problem: RoutingProblem, plan: Plan,
              departs: list[list[float]] | None = None) -> tuple[float, float, int] | None:
    """(makespan, distance, trips) of a plan if it keeps every constraint, else None.

    Trips leave as early as possible unless ``departs`` gives their departure times, which must
    then respect the previous landing plus the turnaround.
    """
    types = vehicles(problem)
    seen: list[int] = []
    total = makespan = 0.0
    n_trips = 0
    for slot, (v, trips) in enumerate(plan):
        vt = problem.vehicle_types[types[v]]
        if len(trips) > vt.max_trips:
            return None
        ready = 0.0
        for k, trip in enumerate(trips):
            if not trip:
                return None
            depart = ready if departs is None else departs[slot][k]
            if depart < ready - TOL:
                return None
            d, ret, starts, _ = trip_figures(problem, vt.depot, trip, depart)
            load = sum(problem.clients[c].demand for c in trip)
            if (load > vt.capacity + TOL or d > vt.max_trip_distance_m + TOL
                    or ret - depart > vt.max_trip_duration_s + TOL
                    or (vt.max_parcels is not None and len(trip) > vt.max_parcels)
                    or not math.isfinite(d)):
                return None
            for c, s in zip(trip, starts, strict=True):
                if s > problem.clients[c].latest_s + TOL:
                    return None
                makespan = max(makespan, s + problem.clients[c].service_s)
            total += d
            n_trips += 1
            seen += trip
            ready = ret + vt.turnaround_s
        if trips and ready - vt.turnaround_s > vt.shift_end_s + TOL:
            return None
    if sorted(seen) != sorted(set(seen)):
        return None
    if {c for c, cl in enumerate(problem.clients) if cl.required} - set(seen):
        return None
    return makespan, total, n_trips


def key(problem: RoutingProblem, cost: tuple[float, float, int]) -> tuple[float, ...]:
    """The objective's lexicographic key of a (makespan, distance, trips) triple."""
    makespan, distance, trips = cost
    if problem.objective == "distance":
        return (distance,)
    if problem.objective == "sorties":
        return (float(trips), distance)
    return (makespan, distance)


def _plans(clients: list[int], n_vehicles: int) -> Iterator[Plan]:
    """Every way to fly ``clients`` (all of them) on the vehicles: ordered trips per vehicle."""

    def grow(plan: Plan, rest: tuple[int, ...]) -> Iterator[Plan]:
        if not rest:
            yield plan
            return
        for i, c in enumerate(rest):
            left = rest[:i] + rest[i + 1:]
            v, trips = plan[-1]
            yield from grow([*plan[:-1], (v, [*trips[:-1], [*trips[-1], c]])], left)
            yield from grow([*plan[:-1], (v, [*trips, [c]])], left)
            for w in range(v + 1, n_vehicles):
                yield from grow([*plan, (w, [[c]])], left)

    for first in range(n_vehicles):
        for i, c in enumerate(clients):
            yield from grow([(first, [[c]])], tuple(clients[:i] + clients[i + 1:]))


def brute_force(problem: RoutingProblem) -> tuple[tuple[float, ...], Plan] | None:
    """The optimal key and plan over every plan serving all clients (all must be required)."""
    best: tuple[tuple[float, ...], Plan] | None = None
    for plan in _plans(list(range(len(problem.clients))), len(vehicles(problem))):
        cost = plan_cost(problem, plan)
        if cost is not None and (best is None or key(problem, cost) < best[0]):
            best = (key(problem, cost), plan)
    return best


def recheck(problem: RoutingProblem, solution: Solution) -> tuple[float, float, int] | None:
    """Independent re-check of a solver answer at its own departure times."""
    offsets = list(itertools.accumulate(vt.count for vt in problem.vehicle_types))
    plan: Plan = []
    departs: list[list[float]] = []
    for r in solution.routes:
        if not 0 <= r.vehicle < problem.vehicle_types[r.vehicle_type].count:
            return None
        slot = offsets[r.vehicle_type] - problem.vehicle_types[r.vehicle_type].count + r.vehicle
        plan.append((slot, [list(t.clients) for t in r.trips]))
        departs.append([t.depart_s for t in r.trips])
    if len({slot for slot, _ in plan}) != len(plan):
        return None
    return plan_cost(problem, plan, departs)
