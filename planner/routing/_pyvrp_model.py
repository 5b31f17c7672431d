"""Translation of a :class:`RoutingProblem` to PyVRP's integer ``ProblemData`` and back.

PyVRP works in integers. Distances and times are scaled and rounded up (so an answer PyVRP finds
feasible keeps the float limits too, up to the exact re-check that follows); loads (deliveries
and pickups, which PyVRP carries natively: the load falls at a delivery and rises at a pickup)
are rounded up and capacities down. The scales are chosen so that rounding changes a cost by
less than 1e-6 of it, and so that distances, times and loads have similar magnitudes (PyVRP's
penalty weights are bounded).

Each vehicle type gets its own PyVRP depot at its depot's node, whose service duration is the
type's turnaround: PyVRP spends it at the start of every trip. Internal time is shifted by the
largest turnaround so that every first trip leaves at real time 0 at the earliest.

PyVRP bounds distance and duration per route, not per trip. For a single-trip type the two are
the same; for a multi-trip type with per-trip limits the model is either ``relaxed`` (route
limits of ``max_trips`` times the trip limit; the caller re-splits and re-checks the trips) or
``surrogate``: an extra load dimension per depot, reset at every reload, in which a client
weighs its out-and-back distance (or time) from the depot. By the triangle inequality a trip
within that budget is within the limit. When nothing ties a vehicle's trips in time, the model
may be ``virtual`` instead: every trip is a single-trip PyVRP vehicle (``count * max_trips`` of
them) with the exact per-trip limits, and the trips are handed back to the vehicles afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyvrp

from planner.routing._evaluate import RawRoute
from planner.routing.model import RoutingProblem

INT_MAX = int(np.iinfo(np.int64).max)
#: Stand-in for an unbounded capacity in a load dimension.
BIG_LOAD = 2**52
#: Target bound on the scaled value of any route, to stay far from int64 overflow in penalties.
MAX_SCALED = 1e13
#: Rounding may change a cost by at most this fraction of it.
PRECISION = 1e-6

TripMode = Literal["relaxed", "surrogate", "virtual"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scales:
    """Integer units per float unit: distance, time, load, and per parcel."""

    distance: float
    time: float
    load: float
    parcel: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """What a PyVRP model asks: an optional makespan bound, the multi-trip limit mode, and
    whether each trip carries a weight larger than any distance (objective ``sorties``)."""

    makespan_bound_s: float | None = None
    trip_mode: TripMode = "relaxed"
    weigh_trips: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PyvrpModel:
    """A PyVRP instance for a problem variant, with the scales used."""

    problem: RoutingProblem
    variant: Variant
    scales: Scales
    data: pyvrp.ProblemData
    trip_weight: int


def _finite_min_in(m: np.ndarray, cols: Sequence[int]) -> float:
    total = 0.0
    for j in cols:
        col = np.delete(m[:, j], j)
        col = col[np.isfinite(col)]
        total += float(col.min()) if col.size else 0.0
    return total


def _lower_bound(problem: RoutingProblem, m: np.ndarray) -> float:
    """A positive lower bound-like magnitude of a solution's cost in matrix ``m``."""
    req = [problem.node(c) for c, cl in enumerate(problem.clients) if cl.required]
    lb = _finite_min_in(m, req)
    if lb <= 0:
        pos = m[np.isfinite(m) & (m > 0)]
        lb = float(np.median(pos)) if pos.size else 1.0
    return lb


def _pow10_at_least(x: float) -> float:
    return float(10.0 ** math.ceil(math.log10(max(x, 1e-300))))


def choose_scales(problem: RoutingProblem) -> Scales:
    """Scales such that rounding changes a solution's cost by less than ``PRECISION`` of it."""
    n_arcs = 2 * len(problem.clients) + 2
    dist = problem.distance_m
    lb_d = _lower_bound(problem, dist)
    s_d = _pow10_at_least(n_arcs / (PRECISION * lb_d))
    top_d = _finite_max(dist)
    worst = top_d * n_arcs if top_d is not None else 1.0
    while s_d > 1 and worst * s_d > MAX_SCALED:
        s_d /= 10
    dur = problem.duration_s
    lb_t = _lower_bound(problem, dur)
    s_t = _pow10_at_least(max(n_arcs / (PRECISION * lb_t), s_d * lb_d / lb_t))
    horizon = [c.latest_s for c in problem.clients if math.isfinite(c.latest_s)]
    horizon += [v.shift_end_s for v in problem.vehicle_types if math.isfinite(v.shift_end_s)]
    top_t = _finite_max(dur)
    span = max([top_t * n_arcs if top_t is not None else 1.0, *horizon])
    while s_t > 1 and span * s_t > MAX_SCALED:
        s_t /= 10
    demands = [c.demand + c.pickup for c in problem.clients]
    caps = [v.capacity for v in problem.vehicle_types if math.isfinite(v.capacity)]
    integral = all(float(q).is_integer() for q in demands + caps)
    total_q = sum(demands) or 1.0
    s_q = max(1.0, round(s_d * lb_d / total_q)) if integral else max(
        s_d * lb_d / total_q, 1.0 / (PRECISION * max([*caps, max(demands, default=1.0), 1e-12])))
    s_p = max(1, round(s_d * lb_d / max(1, len(problem.clients))))
    return Scales(distance=s_d, time=s_t, load=s_q, parcel=min(s_p, 2**40))


def _distance_bound(problem: RoutingProblem, s_d: float) -> int:
    """More than the scaled distance of any solution that flies only finite arcs."""
    m = np.where(np.isfinite(problem.distance_m), problem.distance_m, 0.0)
    n_dep = len(problem.depots)
    rows = m.max(axis=1)
    total = float(rows[n_dep:].sum()) + len(problem.clients) * float(rows[:n_dep].max())
    return math.ceil(total * s_d) + problem.n_nodes


def _up(x: float, s: float, inf: int = INT_MAX) -> int:
    return inf if not math.isfinite(x) else math.ceil(x * s - 1e-9)


def _down(x: float, s: float, inf: int = INT_MAX) -> int:
    return inf if not math.isfinite(x) else math.floor(x * s + 1e-9)


_ROW_CHUNK = 1 << 20
"""Largest number of matrix entries converted in one vectorised step."""


def _row_blocks(m: np.ndarray) -> list[slice]:
    """Blocks of rows of ``m`` converted one at a time."""
    step = max(1, _ROW_CHUNK // max(m.shape[1], 1))
    return [slice(r0, r0 + step) for r0 in range(0, m.shape[0], step)]


def _finite_max(m: np.ndarray) -> float | None:
    """The largest finite entry of ``m`` (None if it has none), without a copy of ``m``."""
    tops = [float(f.max()) for rows in _row_blocks(m)
            if (f := m[rows][np.isfinite(m[rows])]).size]
    return max(tops) if tops else None


def _matrix(m: np.ndarray, s: float) -> np.ndarray:
    """``ceil(m * s - 1e-9)`` as int64, infinite entries far above every finite route (one
    block of rows at a time: no float copy of the whole matrix)."""
    big = _finite_max(m)
    fill = (1.0 if big is None else big) * 100 * max(2, m.shape[0])
    out = np.empty(m.shape, dtype=np.int64)
    for rows in _row_blocks(m):
        block = np.where(np.isfinite(m[rows]), m[rows], fill)
        np.multiply(block, s, out=block)
        np.subtract(block, 1e-9, out=block)
        np.ceil(block, out=block)
        out[rows] = block
    return out


def build_model(problem: RoutingProblem, scales: Scales, variant: Variant) -> PyvrpModel:
    """PyVRP data for ``problem`` under ``variant``."""
    s_d, s_t = scales.distance, scales.time
    n_dep = len(problem.depots)
    dist = _matrix(problem.distance_m, s_d)
    dur = _matrix(problem.duration_s, s_t)
    weight = 0
    if variant.weigh_trips:
        weight = min(_distance_bound(problem, s_d) + 1, int(MAX_SCALED))
        dist[:n_dep, :] += weight
        dist[range(n_dep), range(n_dep)] = 0
    t0 = max(v.turnaround_s for v in problem.vehicle_types)
    t0_s = _up(t0, s_t)

    limited = [v.max_trips > 1 and v.has_trip_limits for v in problem.vehicle_types]
    dims: list[tuple[str, int]] = []
    if variant.trip_mode == "surrogate":
        for k, v in enumerate(problem.vehicle_types):
            if limited[k] and math.isfinite(v.max_trip_distance_m):
                dims.append(("dist", v.depot))
            if limited[k] and math.isfinite(v.max_trip_duration_s):
                dims.append(("time", v.depot))
        dims = sorted(set(dims))
    with_parcels = any(v.max_parcels is not None for v in problem.vehicle_types)
    dim_caps = [max(_down(v.max_trip_distance_m if kind == "dist" else v.max_trip_duration_s,
                          s_d if kind == "dist" else s_t, 0)
                    for k, v in enumerate(problem.vehicle_types) if limited[k] and v.depot == p)
                for kind, p in dims]

    clients = []
    for c, cl in enumerate(problem.clients):
        node = problem.node(c)
        late = cl.latest_s
        if variant.makespan_bound_s is not None:
            late = min(late, variant.makespan_bound_s - cl.service_s)
        early_i = _up(cl.earliest_s + t0, s_t)
        late_i = max(early_i, _down(late + t0, s_t)) if math.isfinite(late) else INT_MAX
        delivery = [_up(cl.demand, scales.load)]
        pickup = [_up(cl.pickup, scales.load)]
        if with_parcels:
            delivery.append(scales.parcel)
            pickup.append(0)
        for (kind, p), top in zip(dims, dim_caps, strict=True):
            if kind == "dist":
                w = int(dist[p, node]) + int(dist[node, p]) - weight
            else:
                w = int(dur[p, node]) + int(dur[node, p]) + _up(cl.service_s, s_t)
            delivery.append(min(w, 2 * top + 1))
            pickup.append(0)
        clients.append(pyvrp.Client(
            location=node, delivery=delivery, pickup=pickup,
            service_duration=_up(cl.service_s, s_t),
            tw_early=early_i, tw_late=late_i, prize=_down(cl.prize, s_d, 0),
            required=cl.required, name=cl.name or f"c{c}"))

    depots = []
    vtypes = []
    for k, v in enumerate(problem.vehicle_types):
        tau = _up(v.turnaround_s, s_t)
        depots.append(pyvrp.Depot(location=v.depot, service_duration=tau, name=f"d{k}"))
        trips = v.max_trips
        count = v.count
        if variant.trip_mode == "virtual" and limited[k]:
            trips, count = 1, min(v.count * v.max_trips, max(1, len(problem.clients)))
        cap = [_down(v.capacity, scales.load, BIG_LOAD)]
        if with_parcels:
            cap.append(BIG_LOAD if v.max_parcels is None else v.max_parcels * scales.parcel)
        for kind, p in dims:
            lim = v.max_trip_distance_m if kind == "dist" else v.max_trip_duration_s
            own = limited[k] and v.depot == p
            cap.append(_down(lim, s_d if kind == "dist" else s_t, BIG_LOAD) if own else BIG_LOAD)
        max_dist = INT_MAX
        if math.isfinite(v.max_trip_distance_m):
            max_dist = min(INT_MAX, trips * (_down(v.max_trip_distance_m, s_d) + weight))
        shift = INT_MAX
        if math.isfinite(v.max_trip_duration_s):
            shift = min(INT_MAX, trips * (_down(v.max_trip_duration_s, s_t) + tau))
        multi = trips > 1
        vtypes.append(pyvrp.VehicleType(
            num_available=count, capacity=cap, start_depot=k, end_depot=k,
            tw_early=t0_s - tau, tw_late=_down(v.shift_end_s + t0, s_t),
            shift_duration=shift, max_distance=max_dist,
            reload_depots=[k] if multi else [], max_reloads=trips - 1 if multi else 0,
            name=v.name or f"v{k}"))
    locations = [pyvrp.Location(x=0.0, y=0.0) for _ in range(problem.n_nodes)]
    dists: list[Any] = [dist]
    durs: list[Any] = [dur]
    data = pyvrp.ProblemData(locations=locations, clients=clients, depots=depots,
                             vehicle_types=vtypes, distance_matrices=dists,
                             duration_matrices=durs)
    return PyvrpModel(problem=problem, variant=variant, scales=scales, data=data,
                      trip_weight=weight)


def decode(model: PyvrpModel, solution: pyvrp.Solution) -> list[RawRoute]:
    """PyVRP routes as ``(vehicle_type, vehicle, trips)``."""
    counters: dict[int, int] = {}
    out: list[RawRoute] = []
    for route in solution.routes():
        k = route.vehicle_type()
        trips: list[list[int]] = []
        current: list[int] = []
        for act in route.schedule():
            if act.is_depot():
                if current:
                    trips.append(current)
                current = []
            elif act.is_client():
                current.append(act.idx)
        if current:
            trips.append(current)
        if trips:
            out.append((k, counters.get(k, 0), trips))
            counters[k] = counters.get(k, 0) + 1
    return out


def encode(model: PyvrpModel, raw: Sequence[RawRoute]) -> pyvrp.Solution:
    """A PyVRP solution of ``model`` holding the routes ``raw`` (a warm start)."""
    routes = []
    for k, _, trips in raw:
        vt = model.problem.vehicle_types[k]
        virtual = model.variant.trip_mode == "virtual" and vt.max_trips > 1 and vt.has_trip_limits
        for group in ([[t] for t in trips] if virtual else [list(trips)]):
            acts: list[pyvrp.Activity] = []
            for n, trip in enumerate(group):
                if n:
                    acts.append(pyvrp.Activity(pyvrp.ActivityType.DEPOT, k))
                acts += [pyvrp.Activity(pyvrp.ActivityType.CLIENT, c) for c in trip]
            routes.append(pyvrp.Route(model.data, acts, k))
    return pyvrp.Solution(model.data, routes)
