"""A simple, correct sortie construction: seed with the farthest drop, insert the cheapest.

Every candidate sortie is checked exactly by :func:`planner.sorties.evaluate.evaluate_sortie`
(payload on board at every point, pickups included, parcel count, energy with reserve along the
real legs); nothing unchecked is returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from planner.geo import FloatArray
from planner.legs.catalogue import LegCatalog
from planner.legs.energy import DorlingModel
from planner.scenario import DroneType, Drop
from planner.sorties.evaluate import SortieEval, evaluate_sortie
from planner.sorties.schedule import windows_fit

Progress = Callable[[str, int, int], None]

_NEIGHBOURS = 24
_TRIES = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """A depot and drone type that can serve one drop on its own."""

    depot: int
    drone: DroneType
    solo: SortieEval

    @property
    def load_fraction(self) -> float:
        """Share of the usable battery the solo sortie needs."""
        return self.solo.energy_wh / self.drone.usable_wh


def budget_wh(drone: DroneType, margin_fraction: float) -> float:
    """Energy a sortie may use: the usable battery less a planning margin of the capacity."""
    return drone.usable_wh - margin_fraction * drone.battery_wh


def solo_options(catalog: LegCatalog, drop_point: int, drop: Drop,
                 fleet: Sequence[tuple[int, DroneType]], dist_m: FloatArray,
                 margin_fraction: float, wind_speed_m_s: float,
                 depot_ids: Sequence[str]) -> tuple[list[Option], str]:
    """Every (depot, drone type) that can fly depot -> drop -> depot, and else why none can.

    ``fleet`` lists (depot point, drone type) pairs with at least one drone; ``dist_m`` is the
    no-fly-avoiding distance matrix over all points; ``depot_ids`` names depot points.
    """
    options: list[Option] = []
    failures: list[tuple[str, float, str]] = []  # (kind, sort key, sentence)
    weights = {drop_point: drop.weight_kg}
    pickups = (drop_point,) if drop.is_pickup else ()
    for depot, drone in fleet:
        where = f"from {depot_ids[depot]} with {drone.id}"
        if drop.weight_kg > drone.max_payload_kg:
            failures.append(("too heavy", -drone.max_payload_kg,
                             f"too heavy: {drop.weight_kg:.2f} kg is above the "
                             f"{drone.max_payload_kg:.2f} kg payload of {drone.id}"))
            continue
        round_trip_m = float(dist_m[depot, drop_point] + dist_m[drop_point, depot])
        if not math.isfinite(round_trip_m):
            failures.append(("no path", 0.0, "no path around the no-fly zones"))
            continue
        budget = budget_wh(drone, margin_fraction)
        solo: SortieEval | str
        if not _within_reach(drone, round_trip_m, budget, wind_speed_m_s):
            solo = f"needs more than the {budget:.0f} Wh budget"
        else:
            solo = evaluate_sortie(catalog, drone, depot, (drop_point,), weights, budget,
                                   pickups=pickups)
        if isinstance(solo, str):
            if "budget" in solo:
                failures.append(("out of range", round_trip_m,
                                 f"out of range even alone: the shortest round trip, "
                                 f"{round_trip_m / 1000:.1f} km {where}, {solo}"))
            else:
                failures.append((solo.split(":")[0], 0.0, f"{solo} ({where})"))
            continue
        options.append(Option(depot=depot, drone=drone, solo=solo))
    return options, _reason(failures)


def _within_reach(drone: DroneType, round_trip_m: float, budget: float,
                  wind_speed_m_s: float) -> bool:
    """Whether the round trip's lower energy bound (empty, full tail wind) fits the budget."""
    fastest_m_s = drone.cruise_speed_m_s + wind_speed_m_s
    lower_bound_wh = DorlingModel.of(drone).power_w(0.0) * round_trip_m / fastest_m_s / 3600
    return not lower_bound_wh > budget


def solo_leg_pairs(drop_point: int, drop: Drop, fleet: Sequence[tuple[int, DroneType]],
                   dist_m: FloatArray, margin_fraction: float,
                   wind_speed_m_s: float) -> list[tuple[DroneType, int, int]]:
    """The legs (drone type, src, dst) that :func:`solo_options` will evaluate for a drop."""
    out: list[tuple[DroneType, int, int]] = []
    for depot, drone in fleet:
        if drop.weight_kg > drone.max_payload_kg:
            continue
        round_trip_m = float(dist_m[depot, drop_point] + dist_m[drop_point, depot])
        if not math.isfinite(round_trip_m):
            continue
        if _within_reach(drone, round_trip_m, budget_wh(drone, margin_fraction),
                         wind_speed_m_s):
            out += [(drone, depot, drop_point), (drone, drop_point, depot)]
    return out


def _reason(failures: list[tuple[str, float, str]]) -> str:
    """One sentence per kind of failure (its closest miss), most telling kind first."""
    if not failures:
        return "no depot has a drone that can serve it"
    order = ("no safe altitude", "too heavy", "out of range", "no path")
    best: dict[str, tuple[float, str]] = {}
    for kind, key, text in failures:
        if kind not in best or key < best[kind][0]:
            best[kind] = (key, text)
    kinds = sorted(best, key=lambda k: order.index(k) if k in order else len(order))
    return "; ".join(best[k][1] for k in kinds)


def assign_groups(options: dict[int, list[Option]],
                  drones_at: dict[tuple[int, str], int]) -> dict[tuple[int, str], list[int]]:
    """Give each servable drop to one (depot, drone type) group, balancing the groups' work.

    Drops with the fewest options go first; each goes to the option whose group would then
    finish earliest (solo flight time plus turnaround, spread over the group's drones), ties
    broken by the lighter battery load. A cheap stand-in for makespan until sorties exist.
    """
    work_s: dict[tuple[int, str], float] = dict.fromkeys(drones_at, 0.0)
    groups: dict[tuple[int, str], list[int]] = {}
    order = sorted(options, key=lambda p: (len(options[p]),
                                           min(o.load_fraction for o in options[p]), p))
    for p in order:
        def finish(o: Option) -> tuple[float, float]:
            key = (o.depot, o.drone.id)
            return ((work_s[key] + o.solo.duration_s + o.drone.turnaround_s) / drones_at[key],
                    o.load_fraction)
        best = min(options[p], key=finish)
        key = (best.depot, best.drone.id)
        # a parcel shares its sortie with others, so it costs its group about 1/max_parcels
        work_s[key] += (best.solo.duration_s + best.drone.turnaround_s) / best.drone.max_parcels
        groups.setdefault(key, []).append(p)
    return groups


def build_sorties(catalog: LegCatalog, depot: int, drone: DroneType, members: Sequence[int],
                  drops: Mapping[int, Drop], dist_m: FloatArray, margin_fraction: float,
                  progress: Progress | None = None) -> list[SortieEval]:
    """Group the drops given to one depot and drone type into feasible sorties.

    Seeds each sortie with the highest-priority, farthest remaining drop, then inserts the
    cheapest neighbouring drops (by added no-fly-avoiding distance) while the exact evaluation
    stays feasible and some take-off time meets every time window. ``members`` are drop points
    servable alone by ``drone`` from ``depot``; ``drops`` maps drop points to their drops.
    """
    weights_kg = {p: d.weight_kg for p, d in drops.items()}
    pickups = frozenset(p for p, d in drops.items() if d.is_pickup)
    priority = {p: d.priority for p, d in drops.items()}
    remaining = set(members)
    order = sorted(remaining, key=lambda p: (-priority[p], -dist_m[depot, p], p))
    pts = np.array(sorted(remaining), dtype=np.intp)
    neighbours: dict[int, list[int]] = {}
    if len(pts):
        sub = dist_m[np.ix_(pts, pts)]
        k = min(_NEIGHBOURS + 1, len(pts))
        near = np.argpartition(sub, k - 1, axis=1)[:, :k]
        for row, p in enumerate(pts):
            neighbours[int(p)] = [int(pts[c]) for c in near[row] if pts[c] != p]
    out: list[SortieEval] = []
    total = len(remaining)
    budget = budget_wh(drone, margin_fraction)
    for seed in order:
        if seed not in remaining:
            continue
        current = evaluate_sortie(catalog, drone, depot, (seed,), weights_kg, budget,
                                  pickups=pickups)
        if isinstance(current, str):
            raise AssertionError(f"drop point {seed} was given to a drone that cannot serve it")
        route = [seed]
        remaining.discard(seed)
        while len(route) < drone.max_parcels:
            cands = {c for r in route for c in neighbours.get(r, []) if c in remaining}
            if not cands:
                break
            ranked = sorted((*_insertion(dist_m, depot, route, c), c) for c in cands)
            accepted = False
            for cost, pos, c in ranked[:_TRIES]:
                if not math.isfinite(cost):
                    break
                trial = (*route[:pos], c, *route[pos:])
                ev = evaluate_sortie(catalog, drone, depot, trial, weights_kg, budget,
                                     pickups=pickups)
                if not isinstance(ev, str) and windows_fit(ev, drops):
                    route = list(trial)
                    current = ev
                    remaining.discard(c)
                    accepted = True
                    break
            if not accepted:
                break
        out.append(current)
        if progress is not None:
            progress("sorties", total - len(remaining), total)
    return out


def _insertion(dist_m: FloatArray, depot: int, route: list[int],
               c: int) -> tuple[float, int]:
    """Cheapest added distance and position to insert ``c`` into depot -> route -> depot."""
    stops = [depot, *route, depot]
    best = (math.inf, 0)
    for i in range(len(stops) - 1):
        a, b = stops[i], stops[i + 1]
        cost = float(dist_m[a, c] + dist_m[c, b] - dist_m[a, b])
        if cost < best[0]:
            best = (cost, i)
    return best
