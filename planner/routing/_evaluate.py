"""Exact float evaluation of routes: schedule, distances, loads and every violated constraint.

This is the check every answer of the routing core passes before it is returned; it works on the
problem's float matrices only and knows nothing of any solver.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from planner.routing.model import RoutingProblem, Solution, Trip, VehicleRoute, VehicleType

#: Relative and absolute slack of every comparison against a limit.
REL_TOL = 1e-9
ABS_TOL = 1e-9

RawRoute = tuple[int, int, Sequence[Sequence[int]]]


def _over(value: float, limit: float) -> bool:
    return value > limit + ABS_TOL + REL_TOL * abs(limit)


def peak_load(problem: RoutingProblem, clients: Sequence[int]) -> float:
    """Most load on board along depot -> ``clients`` -> depot: every delivery at take-off,
    falling at each delivery and rising at each pickup."""
    load = float(sum(problem.clients[c].demand for c in clients))
    peak = load
    for c in clients:
        client = problem.clients[c]
        if client.pickup:
            load += client.pickup - client.demand
            peak = max(peak, load)
        else:
            load -= client.demand
    return peak


def _forward(problem: RoutingProblem, depot: int, clients: Sequence[int],
             depart_s: float) -> tuple[list[float], list[float], float]:
    """Arrivals, service starts and return time of a trip leaving at ``depart_s``."""
    dur = problem.duration_s
    t = depart_s
    at = depot
    arrive: list[float] = []
    start: list[float] = []
    for c in clients:
        node = problem.node(c)
        t += float(dur[at, node])
        arrive.append(t)
        t = max(t, problem.clients[c].earliest_s)
        start.append(t)
        t += problem.clients[c].service_s
        at = node
    return arrive, start, t + float(dur[at, depot])


def schedule_trip(problem: RoutingProblem, depot: int, clients: Sequence[int],
                  ready_s: float) -> Trip:
    """Schedule one trip that may leave the depot from ``ready_s`` on.

    The trip leaves as late as it can without landing later or serving any client after its
    window, so that it waits in the air as little as possible.
    """
    arrive, start, ret = _forward(problem, depot, clients, ready_s)
    waited = 0.0
    delay = math.inf
    for c, a, s in zip(clients, arrive, start, strict=True):
        waited += s - a
        delay = min(delay, waited + problem.clients[c].latest_s - s)
    delay = max(0.0, min(delay, waited)) if clients else 0.0
    if delay > 0.0:
        _, late_start, late_ret = _forward(problem, depot, clients, ready_s + delay)
        if late_ret <= ret + ABS_TOL + REL_TOL * abs(ret) and all(
                s <= problem.clients[c].latest_s or s <= s0
                for c, s, s0 in zip(clients, late_start, start, strict=True)):
            start, ret, ready_s = late_start, late_ret, ready_s + delay
    dist = problem.distance_m
    nodes = [depot, *(problem.node(c) for c in clients), depot]
    distance = float(sum(float(dist[a, b]) for a, b in itertools.pairwise(nodes)))
    load = peak_load(problem, clients)
    return Trip(clients=tuple(clients), depart_s=ready_s, service_start_s=tuple(start),
                return_s=ret, distance_m=distance, load=load)


def schedule_route(problem: RoutingProblem, vt: VehicleType,
                   trips: Sequence[Sequence[int]]) -> list[Trip]:
    """Schedule a vehicle's trips in order: the first may leave at 0, each next one after the
    previous landing plus the turnaround."""
    out: list[Trip] = []
    ready = 0.0
    for clients in trips:
        trip = schedule_trip(problem, vt.depot, clients, ready)
        out.append(trip)
        ready = trip.return_s + vt.turnaround_s
    return out


def trip_violations(problem: RoutingProblem, vt: VehicleType, trip: Trip) -> list[str]:
    """Every per-trip limit ``trip`` breaks (capacity, parcels, distance, duration, windows)."""
    out: list[str] = []
    if not trip.clients:
        out.append("empty trip")
    if _over(trip.load, vt.capacity):
        out.append(f"load {trip.load:g} over capacity {vt.capacity:g}")
    if vt.max_parcels is not None and len(trip.clients) > vt.max_parcels:
        out.append(f"{len(trip.clients)} parcels over max_parcels {vt.max_parcels}")
    if not math.isfinite(trip.distance_m) or not math.isfinite(trip.return_s):
        out.append("uses an arc that cannot be flown")
    elif _over(trip.distance_m, vt.max_trip_distance_m):
        out.append(f"distance {trip.distance_m:.6f} over {vt.max_trip_distance_m:g}")
    if _over(trip.duration_s, vt.max_trip_duration_s):
        out.append(f"duration {trip.duration_s:.6f} s over {vt.max_trip_duration_s:g} s")
    for c, s in zip(trip.clients, trip.service_start_s, strict=True):
        if _over(s, problem.clients[c].latest_s):
            out.append(f"client {c} served at {s:.6f} s after latest_s "
                       f"{problem.clients[c].latest_s:g}")
    return out


def evaluate(problem: RoutingProblem, raw: Sequence[RawRoute]) -> Solution:
    """Schedule ``raw`` routes ``(vehicle_type, vehicle, trips)`` and check every constraint.

    Parameters
    ----------
    problem
        The routing problem.
    raw
        One entry per vehicle used: its type, its number within the type (0-based) and its trips
        as lists of client indexes, in flying order.

    Returns
    -------
    Solution
        The scheduled answer with exact figures; ``violations`` lists every broken constraint.
    """
    violations: list[str] = []
    routes: list[VehicleRoute] = []
    seen: dict[int, int] = {}
    used: set[tuple[int, int]] = set()
    for vt_i, vehicle, trip_lists in raw:
        if not 0 <= vt_i < len(problem.vehicle_types):
            violations.append(f"vehicle type {vt_i} does not exist")
            continue
        vt = problem.vehicle_types[vt_i]
        where = f"vehicle {vt_i}/{vehicle}"
        if not 0 <= vehicle < vt.count or (vt_i, vehicle) in used:
            violations.append(f"{where}: not an available vehicle (count {vt.count}) or used twice")
        used.add((vt_i, vehicle))
        bad = sorted({c for t in trip_lists for c in t if not 0 <= c < len(problem.clients)})
        violations += [f"{where}: client {c} does not exist" for c in bad]
        trips = schedule_route(problem, vt, [[c for c in t if c not in bad] for t in trip_lists])
        if len(trips) > vt.max_trips:
            violations.append(f"{where}: {len(trips)} trips over max_trips {vt.max_trips}")
        if trips and _over(trips[-1].return_s, vt.shift_end_s):
            violations.append(f"{where}: lands at {trips[-1].return_s:.6f} s after shift_end_s "
                              f"{vt.shift_end_s:g}")
        for k, trip in enumerate(trips):
            violations += [f"{where} trip {k}: {v}" for v in trip_violations(problem, vt, trip)]
            for c in trip.clients:
                seen[c] = seen.get(c, 0) + 1
        if trips:
            routes.append(VehicleRoute(vehicle_type=vt_i, vehicle=vehicle, trips=tuple(trips)))
    unserved = []
    for c, client in enumerate(problem.clients):
        n = seen.get(c, 0)
        if n > 1:
            violations.append(f"client {c} served {n} times")
        if n == 0:
            unserved.append(c)
            if client.required:
                violations.append(f"required client {c} not served")
    all_trips = [t for r in routes for t in r.trips]
    ends = [s + problem.clients[c].service_s
            for t in all_trips for c, s in zip(t.clients, t.service_start_s, strict=True)]
    prize = sum(problem.clients[c].prize for c in seen)
    return Solution(routes=tuple(routes), unserved=tuple(unserved),
                    distance_m=float(sum(t.distance_m for t in all_trips)),
                    makespan_s=max(ends, default=0.0), num_trips=len(all_trips), prize=prize,
                    violations=tuple(violations))
