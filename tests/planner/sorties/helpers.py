"""Brute-force optima of tiny plans, for the routing tests.

Every sortie (set of drops, order, depot and drone type) is evaluated with the exact model
(:func:`planner.sorties.evaluate_sortie` along the catalogued legs, with the pipeline's energy
margin); then every partition of the drops into sorties, every choice of group and order and
every assignment and sequence on the drones is tried. Nothing here comes from the router.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

from planner.legs.catalogue import LegCatalog
from planner.pipeline import ENERGY_MARGIN_FRACTION, build_scene
from planner.scenario import Scenario
from planner.sorties.evaluate import SortieEval, evaluate_sortie
from planner.terrain import Dem


@dataclass(frozen=True)
class Option:
    """One feasible sortie: its group (depot point, type id) and exact evaluation."""

    group: tuple[int, str]
    ev: SortieEval


class Brute:
    """Every feasible sortie of a scenario's drops (points numbered as the pipeline does)."""

    def __init__(self, scenario: Scenario, dem: Dem) -> None:
        scene = build_scene(scenario)
        self.scenario = scenario
        self.catalog = LegCatalog(scenario=scenario, dem=dem, proj=scene.proj,
                                  zones=scene.zone_map, points_xy_m=scene.points_xy_m)
        n_dep = scene.n_depots
        self.drops = {n_dep + k: d for k, d in enumerate(scenario.drops)}
        self.ids = {n_dep + k: d.id for k, d in enumerate(scenario.drops)}
        self.counts = {(i, t): n for i, dep in enumerate(scenario.depots)
                       for t, n in dep.drones.items() if n > 0}
        weights = {p: d.weight_kg for p, d in self.drops.items()}
        self.options: dict[frozenset[int], list[Option]] = {}
        points = sorted(self.drops)
        for size in range(1, len(points) + 1):
            for subset in itertools.combinations(points, size):
                opts = []
                for (depot, type_id) in self.counts:
                    drone = scenario.drone_types[type_id]
                    budget = drone.usable_wh - ENERGY_MARGIN_FRACTION * drone.battery_wh
                    for order in itertools.permutations(subset):
                        ev = evaluate_sortie(self.catalog, drone, depot, order, weights, budget)
                        if not isinstance(ev, str) and self._windows_ok(ev):
                            opts.append(Option(group=(depot, type_id), ev=ev))
                if opts:
                    self.options[frozenset(subset)] = opts

    def _windows_ok(self, ev: SortieEval) -> bool:
        lo, hi = 0.0, math.inf
        for p, t in zip(ev.drops, ev.release_offsets_s, strict=True):
            d = self.drops[p]
            if d.earliest_s is not None:
                lo = max(lo, d.earliest_s - t)
            if d.latest_s is not None:
                hi = min(hi, d.latest_s - t)
        return lo <= hi + 1e-9

    def partitions(self) -> Iterator[list[frozenset[int]]]:
        """Partitions of the drops into blocks that some sortie can fly."""
        yield from _partitions(sorted(self.drops), self.options)

    def best_distance(self, *, count_sorties: bool = False) -> tuple[float, ...]:
        """Least (sorties,) total distance over every partition (drone time is unlimited)."""
        best: tuple[float, ...] = (math.inf,)
        for part in self.partitions():
            dist = sum(min(o.ev.distance_m for o in self.options[b]) for b in part)
            key = (float(len(part)), dist) if count_sorties else (dist,)
            best = min(best, key)
        return best

    def best_makespan(self) -> tuple[float, float]:
        """Least (last release, then total energy) over partitions, orders and schedules."""
        best = (math.inf, math.inf)
        for part in self.partitions():
            for choice in itertools.product(*(self.options[b] for b in part)):
                ends = []
                for group, n in self.counts.items():
                    evs = [o.ev for o in choice if o.group == group]
                    ends.append(self._group_makespan(evs, n, group))
                makespan = max(ends)
                if math.isfinite(makespan):
                    best = min(best, (makespan, sum(o.ev.energy_wh for o in choice)))
        return best

    def _group_makespan(self, evs: list[SortieEval], n: int, group: tuple[int, str]) -> float:
        if not evs:
            return 0.0
        turn = self.scenario.drone_types[group[1]].turnaround_s
        best = math.inf
        for perm in itertools.permutations(evs):
            for drones in itertools.product(range(n), repeat=len(evs)):
                free = [0.0] * n
                end = 0.0
                ok = True
                for ev, d in zip(perm, drones, strict=True):
                    start = free[d]
                    for p, t in zip(ev.drops, ev.release_offsets_s, strict=True):
                        e = self.drops[p].earliest_s
                        if e is not None:
                            start = max(start, e - t)
                    for p, t in zip(ev.drops, ev.release_offsets_s, strict=True):
                        la = self.drops[p].latest_s
                        if la is not None and start + t > la + 1e-9:
                            ok = False
                    end = max(end, start + ev.release_offsets_s[-1])
                    free[d] = start + ev.duration_s + turn
                if ok:
                    best = min(best, end)
        return best


def _partitions(items: list[int], ok: dict[frozenset[int], list[Option]]
                ) -> Iterator[list[frozenset[int]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for size in range(len(rest) + 1):
        for others in itertools.combinations(rest, size):
            block = frozenset((first, *others))
            if block not in ok:
                continue
            remaining = [p for p in rest if p not in block]
            for tail in _partitions(remaining, ok):
                yield [block, *tail]
