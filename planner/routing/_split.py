"""Repair of trips that break a per-trip limit, for the relaxed multi-trip PyVRP model.

A PyVRP model can only bound distance and duration per route; for multi-trip vehicles with
per-trip limits its trips are repaired here: each offending trip's client sequence is split
optimally into the fewest, then shortest, consecutive trips within capacity, parcels, distance
and flight time (waiting not counted); clients the vehicle type cannot serve even alone move to
another vehicle; vehicles over ``max_trips`` hand trips to others of their type. The whole
answer is re-checked exactly afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from planner.routing._evaluate import ABS_TOL, REL_TOL, RawRoute, schedule_route, trip_violations
from planner.routing.model import RoutingProblem, VehicleType


def _within(value: float, limit: float) -> bool:
    return value <= limit + ABS_TOL + REL_TOL * abs(limit)


def split_sequence(problem: RoutingProblem, vt: VehicleType,
                   clients: Sequence[int]) -> list[list[int]] | None:
    """Fewest, then shortest, consecutive trips covering ``clients`` within the per-trip limits
    (waiting not counted), or None if one client alone breaks them."""
    dist, dur = problem.distance_m, problem.duration_s
    p = vt.depot
    nodes = [problem.node(c) for c in clients]
    n = len(nodes)
    best: list[tuple[float, float]] = [(0.0, 0.0)] + [(math.inf, math.inf)] * n
    cut = [0] * (n + 1)
    for i in range(n):
        if not math.isfinite(best[i][0]):
            continue
        d_in = t_in = load = final = 0.0
        for j in range(i, n):
            c = clients[j]
            if j == i:
                d_in, t_in = float(dist[p, nodes[j]]), float(dur[p, nodes[j]])
            else:
                d_in += float(dist[nodes[j - 1], nodes[j]])
                t_in += float(dur[nodes[j - 1], nodes[j]])
            t_in += problem.clients[c].service_s
            # a later client's delivery rides every earlier arc; its pickup only the arcs after it
            cl = problem.clients[c]
            if cl.pickup:
                load, final = max(load + cl.demand, final + cl.pickup), final + cl.pickup
            else:
                load += cl.demand
            d_total = d_in + float(dist[nodes[j], p])
            t_total = t_in + float(dur[nodes[j], p])
            if not (_within(load, vt.capacity) and (vt.max_parcels is None
                                                   or j - i + 1 <= vt.max_parcels)):
                break
            if not (_within(d_total, vt.max_trip_distance_m)
                    and _within(t_total, vt.max_trip_duration_s)):
                continue
            cand = (best[i][0] + 1, best[i][1] + d_total)
            if cand < best[j + 1]:
                best[j + 1] = cand
                cut[j + 1] = i
    if not math.isfinite(best[n][0]):
        return None
    pieces: list[list[int]] = []
    j = n
    while j > 0:
        pieces.append(list(clients[cut[j]:j]))
        j = cut[j]
    return pieces[::-1]


def _alone_ok(problem: RoutingProblem, vt: VehicleType, c: int) -> bool:
    trip = schedule_route(problem, vt, [[c]])[0]
    return not trip_violations(problem, vt, trip)


def repair_trips(problem: RoutingProblem, raw: Sequence[RawRoute]) -> list[RawRoute]:
    """Make ``raw`` keep the per-trip limits where a simple repair can.

    Every trip that breaks a limit is split; a client its vehicle type cannot serve even alone
    moves to a trip of its own on the vehicle (of any type) that can serve it at the least
    out-and-back distance and still has a trip to spare; vehicles over ``max_trips`` hand
    trips to idle vehicles of their type. The caller re-checks everything exactly.
    """
    types = problem.vehicle_types
    fleet: dict[tuple[int, int], list[list[int]]] = {
        (k, v): [] for k, vt in enumerate(types) for v in range(vt.count)}
    orphans: list[int] = []
    for k, vehicle, trips in raw:
        vt = types[k]
        fixed = fleet.setdefault((k, vehicle), [])
        for trip in schedule_route(problem, vt, [list(t) for t in trips]):
            if not trip_violations(problem, vt, trip):
                fixed.append(list(trip.clients))
                continue
            keep = [c for c in trip.clients if _alone_ok(problem, vt, c)]
            orphans += [c for c in trip.clients if c not in keep]
            pieces = split_sequence(problem, vt, keep) if keep else []
            fixed += pieces if pieces is not None else [keep]
    for k, vt in enumerate(types):
        slots = [fleet[(k, v)] for v in range(vt.count)]
        extra = [t for trips in slots for t in trips[vt.max_trips:]]
        for trips in slots:
            del trips[vt.max_trips:]
        for moved in extra:
            min(slots, key=len).append(moved)
    for c in orphans:
        options = [(float(problem.distance_m[types[k].depot, problem.node(c)]
                          + problem.distance_m[problem.node(c), types[k].depot]), len(trips), k, v)
                   for (k, v), trips in fleet.items()
                   if len(trips) < types[k].max_trips and _alone_ok(problem, types[k], c)]
        if options:
            _, _, k, v = min(options)
            fleet[(k, v)].append([c])
        else:
            fleet[next(iter(fleet))].append([c])
    return [(k, v, trips) for (k, v), trips in fleet.items() if trips]


def group_virtual(problem: RoutingProblem, raw: Sequence[RawRoute]) -> list[RawRoute]:
    """Give the single-trip routes of the virtual model back to the real vehicles.

    For each multi-trip type with per-trip limits, its trips go to its vehicles longest first,
    each to the least busy vehicle with a trip to spare (no time constraint binds in this model).
    """
    out: list[RawRoute] = []
    pooled: dict[int, list[list[int]]] = {}
    for k, vehicle, trips in raw:
        vt = problem.vehicle_types[k]
        if vt.max_trips > 1 and vt.has_trip_limits:
            pooled.setdefault(k, []).extend(list(t) for t in trips)
        else:
            out.append((k, vehicle, trips))
    for k, trips in sorted(pooled.items()):
        vt = problem.vehicle_types[k]
        busy = [0.0] * vt.count
        given: list[list[list[int]]] = [[] for _ in range(vt.count)]
        timed = [(schedule_route(problem, vt, [t])[0].duration_s, t) for t in trips]
        for duration, trip in sorted(timed, key=lambda x: -x[0]):
            free = [v for v in range(vt.count) if len(given[v]) < vt.max_trips] or [0]
            v = min(free, key=lambda i: busy[i])
            given[v].append(trip)
            busy[v] += duration + vt.turnaround_s
        out += [(k, v, g) for v, g in enumerate(given) if g]
    return out
