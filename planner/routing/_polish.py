"""Last-trip choice for the makespan: fly the trip that ends its drops soonest last.

A vehicle's makespan is the end of the last service of its last trip; which of its trips comes
last, and in which direction it is flown, changes it when the PyVRP model's trip order was lost
(re-split or re-grouped trips). Each vehicle keeps its trips and only takes a better order that
keeps every per-vehicle constraint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from planner.routing._evaluate import RawRoute, schedule_route, trip_violations
from planner.routing.model import RoutingProblem, VehicleType


def _vehicle_end(problem: RoutingProblem, vt: VehicleType,
                 trips: list[list[int]]) -> float:
    """End of the vehicle's last service, or inf if the order breaks a constraint."""
    scheduled = schedule_route(problem, vt, trips)
    if any(trip_violations(problem, vt, t) for t in scheduled):
        return math.inf
    if scheduled and scheduled[-1].return_s > vt.shift_end_s * (1 + 1e-9) + 1e-9:
        return math.inf
    return max((s + problem.clients[c].service_s for t in scheduled
                for c, s in zip(t.clients, t.service_start_s, strict=True)), default=0.0)


def last_trip_first(problem: RoutingProblem, raw: Sequence[RawRoute]) -> list[RawRoute]:
    """Per vehicle, the order (which trip last, either direction) with the earliest end."""
    out: list[RawRoute] = []
    for k, vehicle, trip_lists in raw:
        vt = problem.vehicle_types[k]
        trips = [list(t) for t in trip_lists]
        best, best_end = trips, _vehicle_end(problem, vt, trips)
        for i, last in enumerate(trips):
            others = trips[:i] + trips[i + 1:]
            for flown in (last, last[::-1]):
                cand = [*others, flown]
                end = _vehicle_end(problem, vt, cand)
                if end < best_end - 1e-9:
                    best, best_end = cand, end
        out.append((k, vehicle, best))
    return out
