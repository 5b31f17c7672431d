"""Turn selected trips and their start ticks into a :class:`TripPlan` with exact figures.

Trips of a class are given to its drones greedily in order of departure (the lowest-numbered
drone free by then), which always succeeds when no more than ``count`` trips overlap. Every
figure is recomputed in floating point from the problem's arc functions and every constraint is
re-checked; a broken one is a bug and raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from planner.errors import RoutingInfeasibleError
from planner.routing.trips._cpsat import Column
from planner.routing.trips._enum import Candidate
from planner.routing.trips.types import PlannedTrip, TripPlan, TripProblem

TOL = 1e-6


def build_plan(problem: TripProblem, cands: Sequence[Candidate], cols: Sequence[Column],
               starts: Sequence[int], *, scale: int, optimal: bool, lower_bound: float,
               candidates: int, columns: int, restricted: bool, status: str) -> TripPlan:
    """Assign drones, schedule every trip in floats and check it."""
    drones = _assign(cols, starts, [dc.count for dc in problem.fleet])
    trips: list[PlannedTrip] = []
    violations: list[str] = []
    for cand, start, drone in zip(cands, starts, drones, strict=True):
        trip, bad = _schedule(problem, cand, drone, start / scale)
        trips.append(trip)
        violations.extend(bad)
    trips.sort(key=lambda t: (t.drone_class, t.drone, t.depart_s))
    violations.extend(_overlaps(problem, trips))
    served = sorted(c for t in trips for c in t.customers)
    if served != list(range(len(problem.customers))):
        violations.append("customers not served exactly once")
    if violations:
        raise RoutingInfeasibleError("internal error: the selected trips break constraints",
                                     violations=tuple(violations))
    ends = [s + problem.customers[c].service_s for t in trips
            for c, s in zip(t.customers, t.service_start_s, strict=True)]
    return TripPlan(trips=tuple(trips), objective=problem.objective,
                    distance_m=sum(t.distance_m for t in trips),
                    energy_wh=sum(t.energy_wh for t in trips),
                    makespan_s=max(ends, default=0.0), optimal=optimal,
                    lower_bound=lower_bound, candidates=candidates, columns=columns,
                    restricted=restricted, status=status)


def _assign(cols: Sequence[Column], starts: Sequence[int], counts: Sequence[int]) -> list[int]:
    """Drone index of every trip: interval colouring by departure."""
    free_at: list[list[int]] = [[-(2**62)] * n for n in counts]
    out = [0] * len(cols)
    for k in sorted(range(len(cols)), key=lambda k: (starts[k], k)):
        col = cols[k]
        frees = free_at[col.klass]
        drone = next((d for d, f in enumerate(frees) if f <= starts[k]), None)
        if drone is None:
            raise RoutingInfeasibleError("internal error: more trips at once than drones")
        frees[drone] = starts[k] + col.size
        out[k] = drone
    return out


def _schedule(problem: TripProblem, cand: Candidate, drone: int,
              depart_s: float) -> tuple[PlannedTrip, list[str]]:
    """Fly ``cand`` from ``depart_s``: ETAs, landing, distance, energy, and what it breaks."""
    dc = problem.fleet[cand.klass]
    custs = problem.customers
    where = f"trip {list(cand.customers)} of class {dc.id!r}"
    bad: list[str] = []
    load = sum(custs[c].demand_kg for c in cand.customers)
    payload = load
    node = dc.depot_node
    now = depart_s
    dist = energy = 0.0
    etas: list[float] = []
    for c in cand.customers:
        cust = custs[c]
        dist += dc.arc_distance_m(node, cust.node)
        energy += dc.arc_energy_wh(node, cust.node, load)
        now += dc.arc_time_s(node, cust.node)
        if now < cust.ready_s - TOL and not problem.wait_allowed:
            bad.append(f"{where}: arrives at customer {c} at {now:.3f} s before {cust.ready_s}")
        now = max(now, cust.ready_s)
        if now > cust.due_s + TOL:
            bad.append(f"{where}: serves customer {c} at {now:.3f} s after {cust.due_s}")
        etas.append(now)
        now += cust.service_s
        load -= cust.demand_kg
        if cust.pickup_kg:
            load += cust.pickup_kg
            payload = max(payload, load)
        node = cust.node
    dist += dc.arc_distance_m(node, dc.depot_node)
    energy += dc.arc_energy_wh(node, dc.depot_node, max(0.0, load))
    now += dc.arc_time_s(node, dc.depot_node)
    if payload > dc.capacity_kg + TOL:
        bad.append(f"{where}: payload {payload} kg over {dc.capacity_kg}")
    if energy > dc.energy_limit_wh * (1 + 1e-9):
        bad.append(f"{where}: energy {energy:.6f} Wh over {dc.energy_limit_wh}")
    if dc.max_stops is not None and len(cand.customers) > dc.max_stops:
        bad.append(f"{where}: {len(cand.customers)} stops over {dc.max_stops}")
    if depart_s < dc.available_from_s - TOL or now > dc.return_by_s + TOL:
        bad.append(f"{where}: flies {depart_s:.3f}-{now:.3f} s outside the class's hours")
    if not math.isclose(energy, cand.energy_wh, rel_tol=1e-9, abs_tol=1e-9):
        bad.append(f"{where}: energy {energy} differs from the enumerated {cand.energy_wh}")
    return PlannedTrip(drone_class=cand.klass, drone=drone, customers=cand.customers,
                       depart_s=depart_s, service_start_s=tuple(etas), return_s=now,
                       distance_m=dist, energy_wh=energy, load_kg=payload), bad


def _overlaps(problem: TripProblem, trips: Sequence[PlannedTrip]) -> list[str]:
    """Trips of one drone that overlap, turnaround included."""
    bad: list[str] = []
    for prev, nxt in pairwise(trips):
        if (prev.drone_class, prev.drone) != (nxt.drone_class, nxt.drone):
            continue
        turn = problem.fleet[prev.drone_class].turnaround_s
        if nxt.depart_s < prev.return_s + turn - TOL:
            bad.append(f"drone {prev.drone} of class {prev.drone_class}: trip leaving at "
                       f"{nxt.depart_s:.3f} s overlaps the one landing at {prev.return_s:.3f} s")
    return bad
