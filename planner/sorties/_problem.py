"""The routing problem of a scenario: drops as clients, (depot, drone type) groups as vehicles.

Times: arcs take their no-fly distance at the slowest cruise speed of the fleet with the wind
along the chord (the worst head wind for paths bent around zones), plus take-off and landing at
depots; a client's service is the descent to drop height, the hover and the climb back, as its
solo sorties measured them. Release time windows become service windows shifted by the descent.

The battery depends on the payload on board, which falls at each release and rises at each
pickup; the routing core cannot follow that. It gets an energy-like dimension instead: the arc
into a delivery costs the reference drone type's power with that drop's parcel on board times
the arc's time, the arc out of a pickup the power with the collected parcel on board (both on an
arc from a pickup to a delivery), other arcs the power empty, and each drop the energy of its
descent, hover and climb. This
is exact for solo sorties up to the time estimate and misses only the other parcels still on
board on the way to a drop; a group's limit is its battery budget divided by the median ratio
of exact to proxy energy over its solo sorties, times a factor the caller tightens when exact
checks fail. Drops that no group serves alone within the proxy are left out of the routing and
fly solo sorties.

Two layouts place it: ``time`` (durations are times, so windows and makespan hold; the energy
proxy is the distance dimension, and the distance objective becomes an energy one) and
``energy`` (no time windows: the duration dimension carries the energy, the distance dimension
the cost - true distance; for the sorties objective true distance plus a large cost per trip; for
the makespan objective with many sorties per drone the drones' busy time, turnarounds included,
whose sum the exact scheduler then spreads over the drones).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from planner.geo import FloatArray
from planner.legs.catalogue import LegCatalog
from planner.legs.energy import DorlingModel
from planner.routing import Client, DepotNode, Objective, RoutingProblem, VehicleType
from planner.routing.pyvrp_solver import unservable_clients
from planner.scenario import DroneType, Drop
from planner.sorties._timing import Timing as Timing
from planner.sorties.build import Option, budget_wh
from planner.sorties.schedule import DroneStart

#: With more servable drops than this many per drone, the makespan is routed as busy time.
SORTIES_PER_DRONE_FOR_WORK = 3.0

#: Under the sorties objective each trip costs this many times the longest depot-drop
#: distance on top of its distance (the routing core's own trip weight, larger than any
#: distance, leaves its search stuck over capacity on large problems).
SORTIE_WEIGHT = 2.0

Layout = Literal["time", "energy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """``count`` drones of type ``drone`` based at depot point ``depot``; ``starts`` says when
    each is first free (none: all at 0 on a full battery)."""

    depot: int
    drone: DroneType
    count: int
    starts: tuple[DroneStart, ...] = ()

    @property
    def key(self) -> tuple[int, str]:
        """(depot point, drone type id)."""
        return (self.depot, self.drone.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteInput:
    """What the router works from (points numbered as in the scene: depots, then drops)."""

    catalog: LegCatalog
    dist_m: FloatArray
    options: Mapping[int, Sequence[Option]]
    drops: Mapping[int, Drop]
    groups: tuple[Group, ...]
    wind_en_m_s: tuple[float, float]
    margin_fraction: float
    objective: Objective

    @property
    def weights_kg(self) -> dict[int, float]:
        """Parcel weight of each drop point."""
        return {p: d.weight_kg for p, d in self.drops.items()}

    @property
    def pickups(self) -> frozenset[int]:
        """Drop points where a parcel is collected (brought to the depot) instead of delivered."""
        return frozenset(p for p, d in self.drops.items() if d.is_pickup)

    def option(self, point: int, group: Group) -> Option | None:
        """The solo option of ``point`` in ``group``, if it has one."""
        for o in self.options.get(point, ()):
            if o.depot == group.depot and o.drone.id == group.drone.id:
                return o
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """A routing problem and how its clients map back to drop points.

    ``client_points[c]`` is the drop point of client ``c``; vehicle type ``k`` is group ``k``;
    ``left_out`` are servable drops no group serves alone within the proxy (they fly solo).
    """

    problem: RoutingProblem
    client_points: tuple[int, ...]
    layout: Layout
    left_out: tuple[int, ...]


def timing(inp: RouteInput) -> Timing:
    """Arc times and powers, service and descent times and stop energies of the servable
    drops (:class:`planner.sorties._timing.Timing`)."""
    depots = tuple(sorted({g.depot for g in inp.groups}))
    drops = tuple(sorted(p for p in inp.options if inp.options[p]))
    nodes = np.array(depots + drops, dtype=np.intp)
    service: dict[int, float] = {}
    descent: dict[int, float] = {}
    up = dict.fromkeys(depots, 0.0)
    down = dict.fromkeys(depots, 0.0)
    for p in drops:
        for o in inp.options[p]:
            d, s, t_up, t_down = _solo_vertical(inp.catalog, o)
            descent[p] = max(descent.get(p, 0.0), d)
            service[p] = max(service.get(p, 0.0), s)
            up[o.depot] = max(up[o.depot], t_up)
            down[o.depot] = max(down[o.depot], t_down)
    n_dep = len(depots)
    ref = DorlingModel.of(reference_drone(inp))
    pickups = inp.pickups
    power_in = np.array([ref.power_w(0.0)] * n_dep
                        + [ref.power_w(0.0 if p in pickups else inp.drops[p].weight_kg)
                           for p in drops])
    pickup_power: dict[int, FloatArray] = {}
    if pickups:
        w_in = np.array([0.0] * n_dep + [0.0 if p in pickups else inp.drops[p].weight_kg
                                         for p in drops])
        for i, p in enumerate(drops, start=n_dep):
            if p in pickups:
                mass = ref.base_mass_kg + inp.drops[p].weight_kg + w_in
                pickup_power[i] = ref.k_w_per_kg15 * mass**1.5 / ref.efficiency
    stop = {p: ref.power_w(inp.drops[p].weight_kg / 2) * service[p] / 3600.0 for p in drops}
    return Timing(depot_points=depots, drop_points=drops,
                  xy_m=np.asarray(inp.catalog.points_xy_m[nodes], dtype=np.float64),
                  point_dist_m=inp.dist_m,
                  speed_m_s=min(g.drone.cruise_speed_m_s for g in inp.groups),
                  wind_en_m_s=inp.wind_en_m_s, up_s=np.array([up[d] for d in depots]),
                  down_s=np.array([down[d] for d in depots]), power_in_w=power_in,
                  pickup_power_w=pickup_power, service_s=service, descent_s=descent,
                  stop_wh=stop)


def reference_drone(inp: RouteInput) -> DroneType:
    """The drone type with the most drones (first on ties): the energy proxy's unit."""
    count: dict[str, int] = {}
    types: dict[str, DroneType] = {}
    for g in inp.groups:
        count[g.drone.id] = count.get(g.drone.id, 0) + g.count
        types[g.drone.id] = g.drone
    return types[max(count, key=lambda t: count[t])]


def _solo_vertical(catalog: LegCatalog, o: Option) -> tuple[float, float, float, float]:
    """Descent to release, whole service, take-off and landing times of a solo sortie."""
    drone = o.drone
    legs = o.solo.legs
    point = o.solo.drops[0]
    ground = catalog.ground_amsl_m(point)
    low = ground if drone.drop_method == "land" else ground + drone.drop_alt_agl_m
    descent = max(0.0, legs[0].end_alt_amsl_m - low) / drone.descent_rate_m_s
    climb = max(0.0, legs[1].start_alt_amsl_m - low) / drone.climb_rate_m_s
    base = catalog.ground_amsl_m(o.depot)
    t_up = max(0.0, legs[0].start_alt_amsl_m - base) / drone.climb_rate_m_s
    t_down = max(0.0, legs[-1].end_alt_amsl_m - base) / drone.descent_rate_m_s
    return descent, descent + drone.drop_hover_s + climb, t_up, t_down


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Per-group proxy energy limits, calibrated on the exact solo sorties."""

    calibrated: tuple[float, ...]

    def scaled(self, factors: Sequence[float]) -> tuple[float, ...]:
        """Each group's limit times its factor (drops beyond it alone fly solo sorties)."""
        return tuple(c * f for c, f in zip(self.calibrated, factors, strict=True))


def proxy_limits(inp: RouteInput, tm: Timing) -> Limits:
    """Per-group limits of the energy proxy, calibrated on the exact solo sorties."""
    calibrated: list[float] = []
    for g in inp.groups:
        budget = budget_wh(g.drone, inp.margin_fraction)
        dep = tm.node(g.depot)
        served = [(p, o) for p in tm.drop_points if (o := inp.option(p, g)) is not None]
        cs = np.array([tm.node(p) for p, _ in served], dtype=np.intp)
        out, back = tm.energy_wh(dep, cs).tolist(), tm.energy_wh(cs, dep).tolist()
        ratios = [o.solo.energy_wh / (e_out + tm.stop_wh[p] + e_back)
                  for (p, o), e_out, e_back in zip(served, out, back, strict=True)]
        ratio = float(np.median(ratios)) if ratios else 1.0
        calibrated.append(budget / ratio)
    return Limits(calibrated=tuple(calibrated))


def choose_layout(inp: RouteInput) -> tuple[Layout, Objective, str]:
    """The layout, the routing objective and what the distance dimension carries."""
    windows = any(d.earliest_s is not None or d.latest_s is not None
                  for p, d in inp.drops.items() if inp.options.get(p))
    if windows:
        return "time", inp.objective, "energy"
    if inp.objective == "makespan_then_energy":
        drones = sum(g.count for g in inp.groups)
        servable = sum(1 for p in inp.options if inp.options[p])
        if servable > SORTIES_PER_DRONE_FOR_WORK * drones:
            return "energy", "distance", "work"
        return "time", inp.objective, "energy"
    if inp.objective == "sorties":
        return "energy", "distance", "sorties"
    return "energy", inp.objective, "distance"


def build_problem(inp: RouteInput, tm: Timing, limits: Sequence[float]) -> Built:
    """The routing problem over the drops some group serves alone within ``limits``."""
    built = _build(inp, tm, limits, tm.drop_points)
    lonely = set(unservable_clients(built.problem))
    if not lonely:
        return built
    keep = tuple(p for c, p in enumerate(built.client_points) if c not in lonely)
    left = tuple(sorted(built.client_points[c] for c in lonely))
    matrices = None
    if choose_layout(inp)[2] != "sorties":  # else the trip weight depends on the drops kept
        n_dep = len(tm.depot_points)
        kept = [*range(n_dep), *(n_dep + c for c in range(len(built.client_points))
                                 if c not in lonely)]
        sub = np.ix_(kept, kept)
        matrices = (built.problem.distance_m[sub], built.problem.duration_s[sub])
    del built  # its matrices go before the smaller problem is built
    again = _build(inp, tm, limits, keep, matrices)
    return Built(problem=again.problem, client_points=again.client_points,
                 layout=again.layout, left_out=left)


def _build(inp: RouteInput, tm: Timing, limits: Sequence[float], points: Sequence[int],
           matrices: tuple[FloatArray, FloatArray] | None = None) -> Built:
    """The problem over ``points``; ``matrices`` its distance and duration when known."""
    layout, objective, carried = choose_layout(inp)
    if matrices is None:
        matrices = _matrices(inp, tm, points, layout, carried)
    distance, duration = matrices
    distance.setflags(write=False)
    duration.setflags(write=False)
    clients = []
    for p in points:
        d = inp.drops[p]
        desc = tm.descent_s[p]
        early = max(0.0, (d.earliest_s or 0.0) - desc)
        late = math.inf if d.latest_s is None else max(early, d.latest_s - desc)
        service_s = tm.service_s[p] if layout == "time" else tm.stop_wh[p]
        clients.append(Client(demand=0.0 if d.is_pickup else d.weight_kg,
                              pickup=d.weight_kg if d.is_pickup else 0.0, service_s=service_s,
                              earliest_s=early, latest_s=late, name=d.id))
    depot_of = {p: i for i, p in enumerate(tm.depot_points)}
    types = []
    for k, g in enumerate(inp.groups):
        timed = layout == "time"
        types.append(VehicleType(
            depot=depot_of[g.depot], count=g.count, capacity=g.drone.max_payload_kg,
            max_parcels=g.drone.max_parcels,
            max_trip_distance_m=limits[k] if timed else math.inf,
            max_trip_duration_s=math.inf if timed else limits[k],
            turnaround_s=g.drone.turnaround_s if timed else 0.0,
            max_trips=max(1, len(points)), name=f"{g.depot}/{g.drone.id}"))
    problem = RoutingProblem(depots=tuple(DepotNode(name=str(p)) for p in tm.depot_points),
                             clients=tuple(clients), vehicle_types=tuple(types),
                             distance_m=distance, duration_s=duration, objective=objective)
    return Built(problem=problem, client_points=tuple(points), layout=layout, left_out=())


def _matrices(inp: RouteInput, tm: Timing, points: Sequence[int], layout: Layout,
              carried: str) -> tuple[FloatArray, FloatArray]:
    """The routing problem's distance and duration matrices over the depots and ``points``,
    block by block; read-only, so that the problem keeps them without a copy of its own."""
    n_dep = len(tm.depot_points)
    nodes = list(range(n_dep)) + [tm.node(p) for p in points]
    n = len(nodes)
    idx = np.asarray(nodes, dtype=np.intp)
    if carried in ("sorties", "distance"):
        distance = tm.distance_m(nodes)
        if carried == "sorties":
            out = distance[:n_dep, n_dep:]
            finite = out[np.isfinite(out)]
            distance[:n_dep, n_dep:] += SORTIE_WEIGHT * (float(finite.max()) if finite.size
                                                         else 0.0)
    else:
        distance = np.empty((n, n))
    duration = np.empty((n, n))
    add = np.array([0.0] * n_dep + [tm.stop_wh[p] if layout == "time" else tm.service_s[p]
                                    for p in points])
    r0 = 0
    for rows in tm.blocks(nodes):
        block = slice(r0, r0 + rows.size)
        r0 += rows.size
        dur = tm.duration_s(rows[:, None], idx[None, :])
        energy = tm.energy_wh(rows[:, None], idx[None, :], dur)
        if layout == "time":
            distance[block] = energy + add[None, :]
            duration[block] = dur
        else:
            duration[block] = energy
            if carried == "work":
                distance[block] = dur + add[None, :]
    if layout == "energy" and carried == "work":
        for i, dep in enumerate(tm.depot_points):
            turn = min(g.drone.turnaround_s for g in inp.groups if g.depot == dep)
            distance[i, n_dep:] += turn
    np.fill_diagonal(distance, 0.0)
    np.fill_diagonal(duration, 0.0)
    distance.setflags(write=False)
    duration.setflags(write=False)
    return distance, duration
