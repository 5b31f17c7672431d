"""Independent feasibility and cost check of a CVRP answer against a VRPLIB instance file.

It reads the instance itself (``NODE_COORD_SECTION`` with ``EUC_2D``, ``DEMAND_SECTION``,
``DEPOT_SECTION``, ``CAPACITY``, and the optional ``DISTANCE``, ``SERVICE_TIME`` and
``VEHICLES``), recomputes every arc, and checks that every customer is visited exactly once, the
capacity of every route, the route limit (travel plus service time) and the number of routes. It
imports nothing from the solver. Routes use the ``.sol`` convention: customer ids are the node's
0-based position in the file (the depot is node 0), the depot itself left out.

Arc costs: Augerat A/B/P and Christofides-Eilon E round each Euclidean arc to the nearest
integer (TSPLIB ``nint``); CMT and Golden are unrounded.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

COST_TOL = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class CvrpInstance:
    """The parts of a VRPLIB CVRP file the check needs."""

    name: str
    coords: list[tuple[float, float]]
    demand: list[float]
    depot: int
    capacity: float
    route_limit: float | None
    service_time: float
    vehicles: int | None
    edge_weight_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CvrpCheck:
    """Outcome of a check: the recomputed cost and every violation found."""

    cost: float
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        """Whether no violation was found."""
        return not self.violations


def read_instance(path: str | Path) -> CvrpInstance:
    """Parse the fields of a VRPLIB CVRP instance that the check needs."""
    spec: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for line in Path(path).read_text().splitlines():
        text = line.strip()
        if not text or text == "EOF":
            continue
        head = text.split()[0].rstrip(":")
        if head.endswith("_SECTION"):
            current = head
            sections[current] = []
        elif ":" in text and not text[0].isdigit() and text[0] != "-":
            key, _, value = text.partition(":")
            spec[key.strip().upper()] = value.strip()
            current = None
        elif current is not None:
            sections[current].append(text.split())
    ewt = spec.get("EDGE_WEIGHT_TYPE", "")
    if ewt != "EUC_2D":
        raise ValueError(f"{path}: only EDGE_WEIGHT_TYPE EUC_2D is supported, got {ewt!r}")
    n = int(spec["DIMENSION"])
    coords = [(0.0, 0.0)] * n
    for row in sections["NODE_COORD_SECTION"]:
        coords[int(row[0]) - 1] = (float(row[1]), float(row[2]))
    demand = [0.0] * n
    for row in sections["DEMAND_SECTION"]:
        demand[int(row[0]) - 1] = float(row[1])
    depots = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"]]) if int(r[0]) > 0]
    return CvrpInstance(
        name=spec.get("NAME", Path(path).stem), coords=coords, demand=demand,
        depot=depots[0] - 1, capacity=float(spec["CAPACITY"]),
        route_limit=float(spec["DISTANCE"]) if "DISTANCE" in spec else None,
        service_time=float(spec.get("SERVICE_TIME", 0.0)),
        vehicles=int(spec["VEHICLES"]) if "VEHICLES" in spec else None, edge_weight_type=ewt)


def rounds_arcs(instance: CvrpInstance) -> bool:
    """Whether the family's convention rounds each arc to the nearest integer."""
    unrounded = instance.name.upper().startswith(("CMT", "GOLDEN"))
    return not unrounded and instance.route_limit is None and instance.service_time == 0


def arc(instance: CvrpInstance, i: int, j: int, rounded: bool) -> float:
    """Cost of the arc from node ``i`` to node ``j``."""
    (xi, yi), (xj, yj) = instance.coords[i], instance.coords[j]
    d = math.hypot(xi - xj, yi - yj)
    return float(math.floor(d + 0.5)) if rounded else d


def check_cvrp(instance: CvrpInstance, routes: list[list[int]], *,
               rounded: bool | None = None, claimed_cost: float | None = None) -> CvrpCheck:
    """Recompute the cost of ``routes`` and list every violated constraint.

    Parameters
    ----------
    instance
        The parsed instance.
    routes
        Customer ids per route in the ``.sol`` convention (0-based node position, depot left
        out).
    rounded
        Round each arc to the nearest integer; None follows the family's convention.
    claimed_cost
        If given, a cost that must match the recomputed one within ``COST_TOL`` (relative).

    Returns
    -------
    CvrpCheck
        The recomputed cost and the violations.
    """
    rnd = rounds_arcs(instance) if rounded is None else rounded
    n = len(instance.coords)
    dep = instance.depot
    customers = [i for i in range(n) if i != dep]
    violations: list[str] = []
    seen: dict[int, int] = {}
    total = 0.0
    for k, route in enumerate(routes):
        if not route:
            violations.append(f"route {k + 1} is empty")
            continue
        bad = [c for c in route if not (0 <= c < n) or c == dep]
        if bad:
            violations.append(f"route {k + 1} visits non-customers {bad}")
            continue
        path = [dep, *route, dep]
        length = sum(arc(instance, a, b, rnd) for a, b in itertools.pairwise(path))
        total += length
        load = sum(instance.demand[c] for c in route)
        if load > instance.capacity + 1e-9:
            violations.append(f"route {k + 1} load {load:g} over capacity {instance.capacity:g}")
        if instance.route_limit is not None:
            busy = length + instance.service_time * len(route)
            if busy > instance.route_limit * (1 + 1e-12) + 1e-9:
                violations.append(f"route {k + 1} travel + service {busy:.6f} over limit "
                                  f"{instance.route_limit:g}")
        for c in route:
            seen[c] = seen.get(c, 0) + 1
    for c in customers:
        if seen.get(c, 0) != 1:
            violations.append(f"customer {c} visited {seen.get(c, 0)} times")
    if instance.vehicles is not None and len(routes) > instance.vehicles:
        violations.append(f"{len(routes)} routes over the {instance.vehicles} vehicles")
    if claimed_cost is not None and abs(claimed_cost - total) > COST_TOL * max(1.0, abs(total)):
        violations.append(f"claimed cost {claimed_cost:.9f} differs from recomputed {total:.9f}")
    return CvrpCheck(cost=total, violations=violations)
