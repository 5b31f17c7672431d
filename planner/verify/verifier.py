"""The independent plan verifier: the safety net before a plan is written as flyable.

It re-checks compiled missions alone, from their items, the scenario and the elevation model,
without any of the planner's routing, profiling or energy code: it replays each mission the way
ArduCopter flies it (see :mod:`planner.verify._track`), measures on the WGS84 ellipsoid, tests
zones in its own projection without buffers, and integrates the energy itself. It returns every
violation it finds instead of stopping at the first.

Checks: mission structure, no-fly zones, the height band above ground (sampled at half the DEM
resolution along every move), DEM coverage, energy against the usable battery, payload (at every
point: the deliveries at take-off, falling at each release, rising at each pickup) and parcel
limits, releases at their drops and grabs at their pickups (never the one for the other), every
drop served once or listed as unserved, geofence and rally points, and the vehicle starts a plan
records (a first sortie on a measured battery must fit in it; :mod:`planner.verify._starts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from planner.errors import VerificationError
from planner.plan_model import Plan, Sortie
from planner.scenario import Drop, Scenario
from planner.tasks import PIECES_PER_CALL, MapFn, chunks, start_map
from planner.terrain import Dem
from planner.verify._base import (
    ENERGY_REL_TOL,
    VIOLATION_KINDS,
    Violation,
    violation,
)
from planner.verify._drops import check_accounting, check_release_positions
from planner.verify._energy import EnergyResult, integrate
from planner.verify._fence import check_fence, check_rally
from planner.verify._geom import (
    Profile,
    ZoneFrame,
    check_heights,
    check_nofly,
    check_releases,
    make_zone_frame,
    profiles,
)
from planner.verify._starts import check_starts
from planner.verify._track import Track, replay

__all__ = ["VIOLATION_KINDS", "Violation", "ensure_verified", "format_violations",
           "sortie_energy_steps_wh", "sortie_energy_wh", "verify_plan", "verify_plan_wide",
           "verify_sortie", "verify_sorties"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    scenario: Scenario
    dem: Dem
    frame: ZoneFrame
    drops: Mapping[str, Drop]
    step_m: float

    @classmethod
    def of(cls, scenario: Scenario, dem: Dem) -> _Context:
        return cls(scenario=scenario, dem=dem, frame=make_zone_frame(scenario),
                   drops={d.id: d for d in scenario.drops}, step_m=dem.resolution_m / 2.0)


def _sortie_bad(sortie: Sortie, kind: str, text: str, index: int | None = None) -> Violation:
    return violation(sortie, index, kind, text)


def _replayed(sortie: Sortie, ctx: _Context) -> tuple[Track, list[Profile]] | list[Violation]:
    """Replay the sortie, or say why it cannot be replayed."""
    scenario = ctx.scenario
    depot = next((d for d in scenario.depots if d.id == sortie.depot_id), None)
    drone = scenario.drone_types.get(sortie.drone_type_id)
    out = []
    if depot is None:
        out.append(_sortie_bad(sortie, "structure", f"depot '{sortie.depot_id}' is not in the "
                                                    f"scenario"))
    if drone is None:
        out.append(_sortie_bad(sortie, "structure", f"drone type '{sortie.drone_type_id}' is "
                                                    f"not in the scenario"))
    if depot is None or drone is None:
        return out
    track = replay(sortie, depot, drone, ctx.dem)
    return track, profiles(track.moves, ctx.dem, ctx.frame, ctx.step_m)


def _is_pickup(ctx: _Context, drop_id: str) -> bool:
    drop = ctx.drops.get(drop_id)
    return drop is not None and drop.is_pickup


def _load_profile(sortie: Sortie, ctx: _Context,
                  payload_kg_by_drop: Mapping[str, float]) -> tuple[float, list[float]]:
    """Payload at take-off and its change at each stop (negative at a pickup: it rises)."""
    changes = [-payload_kg_by_drop.get(d, 0.0) if _is_pickup(ctx, d)
               else payload_kg_by_drop.get(d, 0.0) for d in sortie.drop_ids]
    return sum(w for w in changes if w > 0), changes


def _energy(sortie: Sortie, ctx: _Context, track: Track, profiles: list[Profile],
            payload_kg_by_drop: Mapping[str, float]) -> EnergyResult:
    drone = ctx.scenario.drone_types[sortie.drone_type_id]
    takeoff, changes = _load_profile(sortie, ctx, payload_kg_by_drop)
    return integrate(track, profiles, drone, ctx.scenario.wind, takeoff, changes)


def _check_energy(sortie: Sortie, ctx: _Context, result: EnergyResult) -> list[Violation]:
    drone = ctx.scenario.drone_types[sortie.drone_type_id]
    out = [_sortie_bad(sortie, "energy", why, index) for index, why in result.unflyable]
    usable = drone.battery_wh * (1.0 - drone.reserve_fraction)
    if out or not result.energy_wh > usable * (1.0 + ENERGY_REL_TOL):
        return out
    index = next(i for i, wh in result.steps if wh > usable * (1.0 + ENERGY_REL_TOL))
    out.append(_sortie_bad(
        sortie, "energy",
        f"the flight needs {result.energy_wh:.1f} Wh, more than the {usable:.1f} Wh usable "
        f"(battery {drone.battery_wh:.1f} Wh of drone type {drone.id} less the "
        f"{100 * drone.reserve_fraction:.0f} % reserve); the reserve is reached here", index))
    return out


def _check_load(sortie: Sortie, ctx: _Context,
                payload_kg_by_drop: Mapping[str, float]) -> list[Violation]:
    drone = ctx.scenario.drone_types[sortie.drone_type_id]
    out = []
    for drop_id in sortie.drop_ids:
        if drop_id not in payload_kg_by_drop or drop_id not in ctx.drops:
            out.append(_sortie_bad(sortie, "drop_unknown",
                                   f"drop '{drop_id}' is not a drop of the scenario"))
    load, changes = _load_profile(sortie, ctx, payload_kg_by_drop)
    peak, at = load, ""
    for k, change in enumerate(changes):
        load -= change
        if load > peak:
            peak, at = load, f" on board after the pickup at {sortie.drop_ids[k]}"
    if peak > drone.max_payload_kg + 1e-9:
        out.append(_sortie_bad(sortie, "payload",
                               f"payload {peak:.3f} kg{at} of drops {', '.join(sortie.drop_ids)} "
                               f"is above the {drone.max_payload_kg:.3f} kg limit of drone type "
                               f"{drone.id}"))
    if len(sortie.drop_ids) > drone.max_parcels:
        out.append(_sortie_bad(sortie, "parcels",
                               f"{len(sortie.drop_ids)} parcels is above the limit of "
                               f"{drone.max_parcels} of drone type {drone.id}"))
    depot = next(d for d in ctx.scenario.depots if d.id == sortie.depot_id)
    if depot.drones.get(drone.id, 0) < 1:
        out.append(_sortie_bad(sortie, "structure",
                               f"depot {depot.id} has no drone of type {drone.id}"))
    return out


def _verify_sortie(sortie: Sortie, ctx: _Context, payload_kg_by_drop: Mapping[str, float],
                   check_geofence: bool = True) -> list[Violation]:
    replayed = _replayed(sortie, ctx)
    if isinstance(replayed, list):
        return replayed
    track, profiles = replayed
    drone = ctx.scenario.drone_types[sortie.drone_type_id]
    out = list(track.violations)
    out += _check_load(sortie, ctx, payload_kg_by_drop)
    out += check_heights(sortie, track.moves, profiles, ctx.scenario)
    out += check_releases(sortie, track.stops, drone, ctx.dem)
    out += check_nofly(sortie, track, profiles, ctx.frame)
    out += check_release_positions(sortie, ctx.drops, track)
    out += _check_energy(sortie, ctx, _energy(sortie, ctx, track, profiles, payload_kg_by_drop))
    if check_geofence:
        out += check_fence(sortie, track, profiles, ctx.frame)
        rtl = [m for m in track.moves if m.phase == "rtl"]
        out += check_rally(sortie, ctx.scenario, ctx.frame,
                           home=(track.home_lat_deg, track.home_lon_deg, track.home_amsl_m),
                           arrival_amsl_m=rtl[0].amsl0_m if rtl else None)
    return out


def verify_plan(plan: Plan, scenario: Scenario, dem: Dem, *,
                check_geofence: bool = True, map_fn: MapFn | None = None) -> list[Violation]:
    """Re-check every sortie of a plan and the accounting of its drops.

    Parameters
    ----------
    plan
        The compiled plan.
    scenario
        The scenario the plan was made for.
    dem
        The elevation model of the scenario.
    check_geofence
        Check the fence and rally items too; off only for mission-only files (``.waypoints``)
        that cannot carry them.
    map_fn
        Runs the checks of independent groups of sorties (``Executor.map``-like, for example
        on a process pool); in order when None. The violations are the same either way.

    Returns
    -------
    list[Violation]
        Every violation found, sortie by sortie, then the plan-level ones; empty when the plan
        may be flown.
    """
    groups = chunks(plan.sorties, PIECES_PER_CALL if map_fn is not None else 1)
    out = [v for found in verify_sorties(groups, scenario, dem, check_geofence=check_geofence,
                                         map_fn=map_fn) for v in found]
    return out + verify_plan_wide(plan, scenario, dem)


def verify_sorties(groups: Iterable[Sequence[Sortie]], scenario: Scenario, dem: Dem, *,
                   check_geofence: bool = True,
                   map_fn: MapFn | None = None) -> Iterator[list[Violation]]:
    """The violations of each group of sorties, every check but the plan-wide ones.

    With an executor's ``map`` as ``map_fn`` each group is checked as soon as ``groups`` yields
    it, so a caller that compiles sorties group by group has a group checked while it compiles
    the next; without, a group is checked when its result is read.

    Parameters
    ----------
    groups
        Compiled sorties, in groups.
    scenario
        The scenario the sorties were made for.
    dem
        The elevation model of the scenario.
    check_geofence
        Check the fence and rally items too.
    map_fn
        Runs the checks of the groups (``Executor.map``-like); the violations are the same.

    Returns
    -------
    Iterator[list[Violation]]
        The violations of each group, sortie by sortie, in the order of ``groups``.
    """
    weights = {d.id: d.weight_kg for d in scenario.drops}
    return start_map(map_fn, _verify_piece, ((tuple(group), scenario, dem, weights,
                                              check_geofence) for group in groups))


def verify_plan_wide(plan: Plan, scenario: Scenario, dem: Dem) -> list[Violation]:
    """The plan-wide checks: every drop served once or listed as unserved, vehicle starts.

    Parameters
    ----------
    plan
        The compiled plan.
    scenario
        The scenario the plan was made for.
    dem
        The elevation model of the scenario.

    Returns
    -------
    list[Violation]
        The violations found.
    """
    out = check_accounting(plan, scenario)
    if plan.vehicle_starts:
        weights = {d.id: d.weight_kg for d in scenario.drops}
        out += check_starts(plan, scenario, lambda s: sortie_energy_wh(
            s, scenario, dem, payload_kg_by_drop=weights))
    return out


def _verify_piece(piece: tuple[tuple[Sortie, ...], Scenario, Dem, Mapping[str, float], bool]
                  ) -> list[Violation]:
    """The violations of a group of sorties (a task of :func:`verify_plan`)."""
    sorties, scenario, dem, weights, check_geofence = piece
    ctx = _Context.of(scenario, dem)
    out: list[Violation] = []
    for sortie in sorties:
        out += _verify_sortie(sortie, ctx, weights, check_geofence)
    return out


def verify_sortie(sortie: Sortie, scenario: Scenario, dem: Dem, *,
                  payload_kg_by_drop: Mapping[str, float]) -> list[Violation]:
    """Re-check one sortie alone (every check but the plan-wide drop accounting).

    Parameters
    ----------
    sortie
        The compiled sortie.
    scenario
        The scenario it belongs to.
    dem
        The elevation model of the scenario.
    payload_kg_by_drop
        Parcel weight of each drop id.

    Returns
    -------
    list[Violation]
        Every violation found in the sortie.
    """
    return _verify_sortie(sortie, _Context.of(scenario, dem), payload_kg_by_drop)


def sortie_energy_wh(sortie: Sortie, scenario: Scenario, dem: Dem, *,
                     payload_kg_by_drop: Mapping[str, float]) -> float:
    """Energy in Wh the verifier computes for a sortie from take-off to touchdown.

    Parameters
    ----------
    sortie
        The compiled sortie.
    scenario
        The scenario it belongs to (drone type, wind).
    dem
        The elevation model (terrain-frame altitudes, landings).
    payload_kg_by_drop
        Parcel weight of each drop id.

    Returns
    -------
    float
        The energy, ``inf`` when the wind makes a move impossible, NaN when the depot or drone
        type is unknown or a needed ground height lies outside the elevation model.
    """
    ctx = _Context.of(scenario, dem)
    replayed = _replayed(sortie, ctx)
    if isinstance(replayed, list):
        return float("nan")
    track, profiles = replayed
    return _energy(sortie, ctx, track, profiles, payload_kg_by_drop).energy_wh


def sortie_energy_steps_wh(sortie: Sortie, scenario: Scenario, dem: Dem, *,
                           payload_kg_by_drop: Mapping[str, float]
                           ) -> tuple[tuple[int, float], ...]:
    """Energy in Wh the verifier computes, cumulative from take-off, after each move or hover.

    Parameters
    ----------
    sortie
        The compiled sortie.
    scenario
        The scenario it belongs to (drone type, wind).
    dem
        The elevation model (terrain-frame altitudes, landings).
    payload_kg_by_drop
        Parcel weight of each drop id.

    Returns
    -------
    tuple[tuple[int, float], ...]
        ``(mission item index, Wh)`` in flight order, an item appearing once per move or hover
        it causes; empty when the depot or drone type is unknown.
    """
    ctx = _Context.of(scenario, dem)
    replayed = _replayed(sortie, ctx)
    if isinstance(replayed, list):
        return ()
    track, profiles = replayed
    return _energy(sortie, ctx, track, profiles, payload_kg_by_drop).steps


def format_violations(violations: Sequence[Violation]) -> str:
    """Violations as text for the command line, one per line.

    Parameters
    ----------
    violations
        What :func:`verify_plan` or :func:`verify_sortie` returned.

    Returns
    -------
    str
        ``"no violations"``, or a count line followed by one ``[kind] message`` line each.

    Examples
    --------
    >>> v = Violation(sortie_id="s1", item_index=4, kind="agl_low", message="sortie s1: too low")
    >>> print(format_violations([v]))
    1 violation:
      [agl_low] sortie s1: too low
    >>> format_violations([])
    'no violations'
    """
    if not violations:
        return "no violations"
    head = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}:"
    return "\n".join([head, *(f"  [{v.kind}] {v.message}" for v in violations)])


def ensure_verified(plan: Plan, scenario: Scenario, dem: Dem) -> None:
    """Raise unless the verifier accepts the plan.

    Parameters
    ----------
    plan
        The compiled plan.
    scenario
        The scenario the plan was made for.
    dem
        The elevation model of the scenario.

    Raises
    ------
    VerificationError
        With every violation as a line, when there is at least one.
    """
    violations = verify_plan(plan, scenario, dem)
    if violations:
        raise VerificationError([f"[{v.kind}] {v.message}" for v in violations])
