"""Small plans by exact trip selection (:mod:`planner.routing.trips.solve`) on the real legs.

Each arc ``i -> j`` of a drone type carries exactly what :func:`planner.sorties.evaluate.
evaluate_sortie` charges between the release at ``i`` and the release at ``j``: the hover after
the release at ``i`` and the climb back to the leg (or the take-off at a depot), the leg, and the
descent to drop height at ``j`` (or the landing at a depot), all with the payload left on board
(after the grab, at a pickup).
So a trip's energy and its release times are exact, and the trip solver's optimum is the optimum
of the plan over every feasible sortie. Arcs that no sortie of the group can fly (too heavy
together, or too far for the battery even empty at the best ground speed) are left out without
building their legs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from planner.errors import RoutingInfeasibleError
from planner.legs.catalogue import Leg
from planner.legs.energy import DorlingModel
from planner.routing.trips.solve import (
    DroneClass,
    TripCustomer,
    TripParams,
    TripPlan,
    TripProblem,
    solve_trips,
)
from planner.sorties._problem import Group, RouteInput
from planner.sorties.build import budget_wh

#: Up to this many servable drops a plan counts as small...
SMALL_PLAN_DROPS = 40
#: ... if its drone types need at most this many legs between drops (about 3 ms each).
SMALL_PLAN_LEGS = 1000


class _Arcs:
    """Arc time, distance and energy of one group, from its catalogued legs."""

    def __init__(self, inp: RouteInput, group: Group) -> None:
        self.inp = inp
        self.g = group
        self.model = DorlingModel.of(group.drone)
        self.budget = budget_wh(group.drone, inp.margin_fraction)
        self.servable = {p for p in inp.options if inp.option(p, group) is not None}
        speed = group.drone.cruise_speed_m_s + math.hypot(*inp.wind_en_m_s)
        self.wh_per_m = self.model.power_w(0.0) / speed / 3600.0
        self._legs: dict[tuple[int, int], Leg | None] = {}

    def _low(self, point: int) -> float:
        ground = self.inp.catalog.ground_amsl_m(point)
        drone = self.g.drone
        return ground if drone.drop_method == "land" else ground + drone.drop_alt_agl_m

    def useful(self, i: int, j: int) -> bool:
        """Whether some feasible sortie of the group could fly from ``i`` to ``j``."""
        d, dist = self.g.depot, self.inp.dist_m
        if i == j or not all(p == d or p in self.servable for p in (i, j)):
            return False
        if i == d or j == d:
            return True
        a, b = self.inp.drops[i], self.inp.drops[j]
        # both parcels ride together unless a delivery at i comes before a pickup at j
        together = a.is_pickup or not b.is_pickup
        w = a.weight_kg + b.weight_kg if together else max(a.weight_kg, b.weight_kg)
        reach_m = float(dist[d, i] + dist[i, j] + dist[j, d])
        return (w <= self.g.drone.max_payload_kg + 1e-9 and self.g.drone.max_parcels > 1
                and reach_m * self.wh_per_m <= self.budget)

    def leg(self, i: int, j: int) -> Leg | None:
        """The leg ``i -> j`` if some feasible sortie of the group could fly it."""
        key = (i, j)
        if key in self._legs:
            return self._legs[key]
        leg: Leg | None = None
        if self.useful(i, j):
            built = self.inp.catalog.leg(self.g.drone, i, j)
            leg = None if isinstance(built, str) else built
        self._legs[key] = leg
        return leg

    def _ends(self, i: int, j: int, leg: Leg) -> tuple[float, float]:
        """Height moved before the leg (from the release or the ground) and after it."""
        d = self.g.depot
        start = self.inp.catalog.ground_amsl_m(d) if i == d else self._low(i)
        end = self.inp.catalog.ground_amsl_m(d) if j == d else self._low(j)
        return leg.start_alt_amsl_m - start, end - leg.end_alt_amsl_m

    def time_s(self, i: int, j: int) -> float:
        """Release at ``i`` (or take-off) to release at ``j`` (or touchdown)."""
        leg = self.leg(i, j)
        if leg is None:
            return math.inf
        up, down = self._ends(i, j, leg)
        hover = 0.0 if i == self.g.depot else self.g.drone.drop_hover_s
        return hover + _vertical_s(self.g, up) + leg.time_s + _vertical_s(self.g, down)

    def distance_m(self, i: int, j: int) -> float:
        """Horizontal length of the leg."""
        leg = self.leg(i, j)
        return math.inf if leg is None else leg.length_m

    def energy_wh(self, i: int, j: int, load_kg: float) -> float:
        """Energy from the release at ``i`` to the release at ``j`` with ``load_kg`` on board."""
        leg = self.leg(i, j)
        if leg is None:
            return math.inf
        up, down = self._ends(i, j, leg)
        m = self.model
        hover = 0.0 if i == self.g.depot else self.g.drone.drop_hover_s
        e = m.power_w(load_kg) * hover / 3600.0
        for dz in (up, down):
            e += m.power_w(load_kg) * _vertical_s(self.g, dz) / 3600.0
            e += m.climb_energy_wh(load_kg, dz)
        return e + leg.energy_wh(m, load_kg)


def _vertical_s(g: Group, dz_m: float) -> float:
    rate = g.drone.climb_rate_m_s if dz_m > 0 else g.drone.descent_rate_m_s
    return abs(dz_m) / rate


def is_small(inp: RouteInput, points: tuple[int, ...]) -> bool:
    """Whether exact trip selection suits the drops ``points``: few drops, few legs to build."""
    if len(points) > SMALL_PLAN_DROPS:
        return False
    needed: set[tuple[str, int, int]] = set()
    for g in inp.groups:
        arcs = _Arcs(inp, g)
        needed |= {(g.drone.id, i, j) for i in points for j in points if arcs.useful(i, j)}
    return len(needed) <= SMALL_PLAN_LEGS


def trip_problem(inp: RouteInput, points: tuple[int, ...]) -> TripProblem:
    """The trip-selection problem of the drops ``points`` over every group."""
    objective = inp.objective
    customers = []
    for p in points:
        d = inp.drops[p]
        customers.append(TripCustomer(
            node=p, demand_kg=0.0 if d.is_pickup else d.weight_kg, ready_s=d.earliest_s or 0.0,
            due_s=math.inf if d.latest_s is None else d.latest_s, name=d.id,
            pickup_kg=d.weight_kg if d.is_pickup else 0.0))
    fleet = []
    for g in inp.groups:
        arcs = _Arcs(inp, g)
        fleet.append(DroneClass(
            id=f"{g.depot}/{g.drone.id}", count=g.count, depot_node=g.depot,
            capacity_kg=g.drone.max_payload_kg, energy_limit_wh=arcs.budget,
            arc_time_s=arcs.time_s, arc_distance_m=arcs.distance_m, arc_energy_wh=arcs.energy_wh,
            max_stops=g.drone.max_parcels, turnaround_s=g.drone.turnaround_s))
    return TripProblem(customers=tuple(customers), fleet=tuple(fleet), objective=objective,
                       wait_allowed=False, triangle_inequality=False)


def solve_small(inp: RouteInput, points: tuple[int, ...], *, seed: int, time_limit_s: float,
                clock: Callable[[], float] | None,
                progress: Callable[[str], None] | None = None) -> TripPlan | None:
    """The trip solver's answer for the drops ``points``, or None if it found none."""
    problem = trip_problem(inp, points)

    def report(event: object) -> None:
        if progress is not None:
            progress(str(getattr(event, "stage", "search")))

    try:
        return solve_trips(problem, TripParams(time_limit_s=time_limit_s, seed=max(0, seed)),
                           progress=report, clock=clock)
    except RoutingInfeasibleError:
        return None
