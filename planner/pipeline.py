"""The planning pipeline: scenario + DEM in, verified plan out.

Stages: projection, no-fly zone map and distance matrix, servability (every drop's solo sorties,
or why it has none), the simple sortie construction, routing (:mod:`planner.sorties.route`: search,
exact checks and repair, scheduling; the better of the two constructions wins), mission
compilation, independent verification. Pure: the caller loads files and passes a progress
callback and a clock if it wants them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from planner._assemble import compile_checked, numbered
from planner.compile import CompileContext
from planner.errors import VerificationError
from planner.fleet_report import starts_summary
from planner.fleet_state import VehicleStart, check_starts
from planner.geo import FloatArray, LocalProjection
from planner.legs.catalogue import LegCatalog
from planner.legs.nofly import ZoneMap, build_zone_map
from planner.plan_model import Plan, Unserved
from planner.routing import OBJECTIVES, Objective
from planner.scenario import Scenario
from planner.sorties._problem import Group, RouteInput
from planner.sorties.build import Option, solo_leg_pairs, solo_options
from planner.sorties.route import (
    Construction,
    best_construction,
    route_sorties,
    simple_construction,
)
from planner.sorties.schedule import drone_starts
from planner.tasks import MapFn
from planner.terrain import Dem
from planner.verify.verifier import format_violations, verify_plan, verify_plan_wide

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

#: Share of the battery kept back on top of the reserve so that independent re-computations of
#: the same flight (the verifier's geodesics, the vehicle's own model) never find it over.
ENERGY_MARGIN_FRACTION = 0.01


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateSummary:
    """The figures of one sortie construction the pipeline compared.

    ``makespan_s`` is the last release; ``notes`` how it was made (see
    :class:`planner.sorties.route.Construction`).
    """

    method: str
    served: int
    sorties: int
    makespan_s: float
    energy_wh: float
    distance_m: float
    notes: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, c: Construction) -> CandidateSummary:
        """The summary of a construction."""
        f = c.figures()
        return cls(method=c.method, served=c.served, sorties=len(c.scheduled),
                   makespan_s=f["makespan_s"], energy_wh=f["energy_wh"],
                   distance_m=f["distance_m"], notes=dict(c.notes))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanResult:
    """A verified plan and how the pipeline got there.

    ``construction`` names the method whose sorties won (``simple``, ``routing`` or
    ``trips``) and ``candidates`` summarises every construction compared, the winner included.
    """

    plan: Plan
    added_waypoints: int
    leg_length_m: float
    stats: dict[str, float] = field(default_factory=dict)
    objective: Objective = "makespan_then_energy"
    construction: str = "simple"
    candidates: tuple[CandidateSummary, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalScene:
    """The scenario in local metres: points (depots first, then drops) and zones."""

    proj: LocalProjection
    points_xy_m: np.ndarray
    point_ids: tuple[str, ...]
    zones_xy: tuple[shapely.Polygon, ...]
    zone_map: ZoneMap
    n_depots: int


def build_scene(scenario: Scenario) -> LocalScene:
    """Project the scenario and build its buffered zone map."""
    lats = [d.lat_deg for d in scenario.depots] + [d.lat_deg for d in scenario.drops]
    lons = [d.lon_deg for d in scenario.depots] + [d.lon_deg for d in scenario.drops]
    proj = LocalProjection.around(lats, lons)
    x, y = proj.to_xy(lons, lats)
    zones: list[shapely.Polygon] = []
    names: list[str] = []
    for zone in scenario.nofly:
        for rings in zone.polygons:
            parts = []
            for ring in rings:
                rx, ry = proj.to_xy([p[0] for p in ring], [p[1] for p in ring])
                parts.append(np.column_stack([rx, ry]))
            zones.append(shapely.Polygon(parts[0], parts[1:]))
            names.append(zone.name)
    zone_map = build_zone_map(zones, scenario.buffer_m, names)
    ids = tuple(d.id for d in scenario.depots) + tuple(d.id for d in scenario.drops)
    return LocalScene(proj=proj, points_xy_m=np.column_stack([x, y]), point_ids=ids,
                      zones_xy=tuple(zones), zone_map=zone_map, n_depots=len(scenario.depots))


def make_plan(scenario: Scenario, dem: Dem, *, objective: Objective = "makespan_then_energy",
              progress: Progress | None = None, timings: dict[str, float] | None = None,
              clock: Callable[[], float] | None = None,
              map_fn: MapFn | None = None,
              starts: Sequence[VehicleStart] = ()) -> PlanResult:
    """Plan every drop of ``scenario`` into verified sorties.

    Sorties come from the routing core (PyVRP, or exact trip selection on small plans) with
    every trip checked and repaired exactly, and from the simple construction as a floor: the
    one serving more drops, then better on ``objective``, is compiled. The search is seeded by
    ``scenario.params.seed`` and bounded by ``scenario.params.time_limit_s``.

    Parameters
    ----------
    scenario
        The loaded scenario.
    dem
        Its elevation model (must cover every depot and drop).
    objective
        ``makespan_then_energy`` (last release, then total energy), ``distance`` (total
        flight distance) or ``sorties`` (number of sorties, then distance).
    progress
        Called as ``progress(stage, done, total)`` during long stages (``routing`` in percent).
    timings
        If given, filled with the seconds each stage took (needs ``clock``). With ``map_fn``
        the sorties are checked group by group on the executor while the next group
        compiles, so ``compile`` includes checks and ``verify`` is the wait for the last
        ones.
    clock
        A monotonic clock in seconds, for ``timings``; the planner has none of its own.
    map_fn
        Runs independent pieces of work (matrix rows, servability legs, sortie checks) the
        way ``concurrent.futures.Executor.map`` does, for example on a process pool; in
        order in this process when None. The plan is the same either way.
    starts
        When vehicles are ready and with what measured battery (a re-plan from the fleet's
        state); the others start at 0 on a full battery. Recorded in the plan.

    Returns
    -------
    PlanResult
        The plan, which the independent verifier accepted.

    Raises
    ------
    VerificationError
        If the verifier rejects the compiled plan; nothing flyable must then be written.
    ValueError
        If ``objective`` is not one of :data:`planner.routing.OBJECTIVES`.
    InputError
        If a start names no vehicle of the scenario's depots, or one vehicle twice.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"Expected objective in {OBJECTIVES}, got {objective!r}")
    starts = check_starts(scenario.depots, starts)
    stamp = _Stamp(timings, clock)
    scene = build_scene(scenario)
    stamp("projection_zones")
    links = scene.zone_map.point_links(scene.points_xy_m, map_fn=map_fn)
    dist = scene.zone_map.distance_matrix(scene.points_xy_m, links=links, map_fn=map_fn)
    stamp("distance_matrix")
    catalog = LegCatalog(scenario=scenario, dem=dem, proj=scene.proj, zones=scene.zone_map,
                         points_xy_m=scene.points_xy_m, links=links)
    inp, unserved = _servability(scenario, scene, dist, catalog, objective, progress, map_fn,
                                 starts)
    stamp("servability")
    simple = simple_construction(inp, progress)
    stamp("sorties")
    routed = route_sorties(inp, seed=scenario.params.seed,
                           time_limit_s=scenario.params.time_limit_s, progress=progress,
                           clock=clock)
    stamp("routing")
    chosen = best_construction([*routed, simple], objective)
    unserved.update(chosen.unserved)
    scheduled = list(chosen.scheduled)
    log.info("sorties by %s: %s", chosen.method, chosen.figures())

    ctx = CompileContext(scenario=scenario, catalog=catalog, proj=scene.proj,
                         point_ids=scene.point_ids, zones_xy=scene.zones_xy,
                         depot_points=tuple(range(scene.n_depots)))
    sorties, found = compile_checked(ctx, dem, numbered(scheduled), map_fn)
    plan = Plan(scenario=scenario.name, altitude_frame=scenario.params.altitude_frame,
                sorties=tuple(sorties),
                unserved=tuple(Unserved(drop_id=scene.point_ids[p], reason=r)
                               for p, r in sorted(unserved.items())),
                seed=scenario.params.seed, vehicle_starts=tuple(starts))
    stamp("compile")
    if found is None:
        violations = verify_plan(plan, scenario, dem)
    else:
        violations = found + verify_plan_wide(plan, scenario, dem)
    stamp("verify")
    if violations:
        log.error("verifier rejected the plan:\n%s", format_violations(violations))
        raise VerificationError([str(v.message) for v in violations])
    legs = [leg for e in (s.sortie for s in scheduled) for leg in e.legs]
    return PlanResult(plan=plan, added_waypoints=sum(leg.added for leg in legs),
                      leg_length_m=sum(leg.length_m for leg in legs), objective=objective,
                      construction=chosen.method,
                      candidates=tuple(CandidateSummary.of(c) for c in [*routed, simple]))


def plan_summary(result: PlanResult, scenario: Scenario,
                 timings: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The figures of a plan that a plan folder's ``summary.json`` holds (JSON values).

    Parameters
    ----------
    result
        What :func:`make_plan` returned.
    scenario
        The scenario planned.
    timings
        Seconds per stage (``stage_seconds``), such as those :func:`make_plan` filled.

    Returns
    -------
    dict
        Drops, served and unserved counts, sorties and drones, distance (km), energy (Wh),
        makespan (s), the lowest reserve (%) and the AGL band (m), the terrain waypoints
        added, the altitude frame, seed, objective and time limit, the sortie construction
        that won and every one compared, and the stage seconds.
    """
    plan = result.plan
    sorties = plan.sorties
    etas = [t for s in sorties for t in s.metrics.drop_etas_s.values()]
    km = result.leg_length_m / 1000
    return {
        "scenario": plan.scenario,
        "drops": len(scenario.drops),
        "served": len(plan.served_drop_ids),
        "unserved": len(plan.unserved),
        "sorties": len(sorties),
        "vehicles": len({s.vehicle for s in sorties}),
        "distance_km": round(sum(s.metrics.distance_m for s in sorties) / 1000, 3),
        "energy_wh": round(sum(s.metrics.energy_wh for s in sorties), 1),
        "makespan_s": round(max(etas), 1) if etas else 0.0,
        "min_reserve_pct": min((s.metrics.reserve_pct for s in sorties), default=None),
        "min_agl_m": min((s.metrics.min_agl_m for s in sorties), default=None),
        "max_agl_m": max((s.metrics.max_agl_m for s in sorties), default=None),
        "terrain_waypoints_added": result.added_waypoints,
        "terrain_waypoints_per_km": round(result.added_waypoints / km, 3) if km else 0.0,
        "altitude_frame": plan.altitude_frame,
        "seed": plan.seed,
        "objective": result.objective,
        "time_limit_s": scenario.params.time_limit_s,
        "construction": result.construction,
        "constructions": [_candidate_summary(c) for c in result.candidates],
        "stage_seconds": {k: round(v, 3) for k, v in (timings or {}).items()},
        **({"vehicle_starts": starts_summary(plan, scenario, ENERGY_MARGIN_FRACTION)}
           if plan.vehicle_starts else {}),
    }


def _candidate_summary(c: CandidateSummary) -> dict[str, Any]:
    """One compared sortie construction, as ``summary.json`` lists it."""
    return {"method": c.method, "served": c.served, "sorties": c.sorties,
            "makespan_s": round(c.makespan_s, 1), "energy_wh": round(c.energy_wh, 1),
            "distance_km": round(c.distance_m / 1000, 3),
            "notes": {k: round(v, 3) for k, v in c.notes.items()}}


def route_input(scenario: Scenario, dem: Dem, *,
                objective: Objective = "makespan_then_energy",
                map_fn: MapFn | None = None) -> tuple[RouteInput, dict[int, str]]:
    """What the sortie constructions start from, and why the other drops cannot be served.

    Parameters
    ----------
    scenario
        The loaded scenario.
    dem
        Its elevation model.
    objective
        What the routing minimises.
    map_fn
        Runs independent pieces of work (``Executor.map``-like); the result is the same.

    Returns
    -------
    tuple
        The router's input (servable drops with their solo options, groups of drones, legs) and
        the reason for every drop point that no drone can serve even alone.
    """
    scene = build_scene(scenario)
    links = scene.zone_map.point_links(scene.points_xy_m, map_fn=map_fn)
    dist = scene.zone_map.distance_matrix(scene.points_xy_m, links=links, map_fn=map_fn)
    catalog = LegCatalog(scenario=scenario, dem=dem, proj=scene.proj, zones=scene.zone_map,
                         points_xy_m=scene.points_xy_m, links=links)
    return _servability(scenario, scene, dist, catalog, objective, None, map_fn)


def _servability(scenario: Scenario, scene: LocalScene, dist: FloatArray, catalog: LegCatalog,
                 objective: Objective, progress: Progress | None,
                 map_fn: MapFn | None = None,
                 starts: Sequence[VehicleStart] = ()) -> tuple[RouteInput, dict[int, str]]:
    """Solo options of every drop; the reason for those no drone can serve alone."""
    n_dep = scene.n_depots
    unserved: dict[int, str] = {}
    depot_notes: dict[str, str] = {}
    depot_ok = _depot_problems(scenario, scene, depot_notes)
    fleet = [(i, scenario.drone_types[t]) for i, dep in enumerate(scenario.depots)
             for t, n in dep.drones.items() if n > 0 and depot_ok[i]]
    options: dict[int, list[Option]] = {}
    drops = {n_dep + k: d for k, d in enumerate(scenario.drops)}
    inside = scene.zone_map.blocked(scene.points_xy_m[n_dep:])
    enclosed = scene.zone_map.enclosed(scene.points_xy_m[n_dep:])
    heaviest_kg = max((t.max_payload_kg for t in scenario.drone_types.values()), default=0.0)
    if map_fn is not None:
        wanted: dict[str, list[tuple[int, int]]] = {}
        types = {}
        for k, drop in enumerate(scenario.drops):
            if drop.weight_kg > heaviest_kg or inside[k] or enclosed[k]:
                continue
            for drone, a, b in solo_leg_pairs(n_dep + k, drop, fleet, dist,
                                              ENERGY_MARGIN_FRACTION, scenario.wind.speed_m_s):
                wanted.setdefault(drone.id, []).append((a, b))
                types[drone.id] = drone
        for tid, pairs in sorted(wanted.items()):
            catalog.prefetch(types[tid], pairs, map_fn)
    for k, drop in enumerate(scenario.drops):
        p = n_dep + k
        if drop.weight_kg > heaviest_kg:
            unserved[p] = overweight_reason(drop.weight_kg, heaviest_kg)
            continue
        if inside[k]:
            name = scene.zone_map.zone_containing(scene.points_xy_m[p])
            unserved[p] = f"inside no-fly zone '{name}' (or its {scenario.buffer_m:g} m buffer)"
            continue
        if enclosed[k]:
            unserved[p] = "enclosed by no-fly zones: no path leads to it"
            continue
        opts, reason = solo_options(catalog, p, drop, fleet, dist, ENERGY_MARGIN_FRACTION,
                                    scenario.wind.speed_m_s, scene.point_ids)
        if opts:
            options[p] = opts
        else:
            unserved[p] = "; ".join([reason, *depot_notes.values()])
        if progress is not None:
            progress("drops", k + 1, len(scenario.drops))
    groups = tuple(Group(depot=i, drone=drone, count=scenario.depots[i].drones[drone.id],
                         starts=drone_starts(starts, scenario.depots[i].id, drone,
                                             scenario.depots[i].drones[drone.id],
                                             ENERGY_MARGIN_FRACTION))
                   for i, drone in fleet)
    inp = RouteInput(catalog=catalog, dist_m=dist, options=options, drops=drops, groups=groups,
                     wind_en_m_s=scenario.wind.velocity_en_m_s,
                     margin_fraction=ENERGY_MARGIN_FRACTION, objective=objective)
    return inp, unserved


def overweight_reason(weight_kg: float, heaviest_kg: float) -> str:
    """Why a parcel heavier than every drone type can carry is unserved.

    Examples
    --------
    >>> overweight_reason(4.0, 2.5)
    '4.0 kg exceeds the 2.5 kg payload of every drone type'
    """
    return (f"{_kg(weight_kg)} kg exceeds the {_kg(heaviest_kg)} kg payload of every drone "
            f"type")


def _kg(value: float) -> str:
    """A mass as written in a drops list: one decimal at least, more when it has them."""
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"


def _depot_problems(scenario: Scenario, scene: LocalScene, problems: dict[str, str]) -> list[bool]:
    """Which depots can be used; fills ``problems`` with the reason for the others."""
    n_dep = len(scenario.depots)
    inside = scene.zone_map.blocked(scene.points_xy_m[:n_dep])
    ok = []
    for i, dep in enumerate(scenario.depots):
        if inside[i]:
            zone = scene.zone_map.zone_containing(scene.points_xy_m[i])
            problems[dep.id] = f"depot {dep.id} lies inside no-fly zone '{zone}'"
            ok.append(False)
        else:
            ok.append(True)
    return ok


class _Stamp:
    """Records stage durations when a clock is given."""

    def __init__(self, timings: dict[str, float] | None,
                 clock: Callable[[], float] | None) -> None:
        self.timings = timings
        self.clock = clock
        self.last = clock() if clock is not None else math.nan

    def __call__(self, stage: str) -> None:
        if self.timings is None or self.clock is None:
            return
        now = self.clock()
        self.timings[stage] = now - self.last
        self.last = now
