"""Exact check and repair of routed trips along the real legs.

Each trip of a routing answer is evaluated with :func:`planner.sorties.evaluate.evaluate_sortie`
(the payload on board at every point, parcels, energy with reserve along the real legs, wind,
climbs, the payload falling at each release and rising at each pickup) and must let some
take-off time release every parcel inside its window. A trip that fails in its routed order and
reversed (and, up to four drops, in every order) is split into the fewest feasible sorties; a
drop its drone type cannot serve from that depot even alone moves to a solo sortie of a group
that can. Nothing leaves here unchecked.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from planner.sorties._problem import Group, RouteInput
from planner.sorties.build import budget_wh
from planner.sorties.evaluate import SortieEval, evaluate_sortie
from planner.sorties.schedule import windows_fit

#: Up to this many drops a failing trip tries every order and every partition.
FULL_SEARCH = 4

Fleet = dict[tuple[int, int], list[SortieEval]]
RoutedTrips = Sequence[tuple[int, int, Sequence[Sequence[int]]]]


@dataclass(slots=True)
class RepairLog:
    """What the exact check changed: trips seen and rejected, sorties added, drops moved.

    ``over`` holds, per group index, the energy over budget ratio of each rejected trip that
    broke the battery (its better direction).
    """

    trips: int = 0
    rejected: int = 0
    split: int = 0
    moved: int = 0
    over: dict[int, list[float]] = field(default_factory=dict)


def order_key(ev: SortieEval, objective: str) -> tuple[float, ...]:
    """How good a sortie's order is under ``objective`` (smaller is better)."""
    if objective == "distance":
        return (ev.distance_m, ev.energy_wh)
    if objective == "sorties":
        return (ev.energy_wh, ev.duration_s)
    return (ev.duration_s, ev.energy_wh)


class Checker:
    """Exact evaluations of one group's candidate sorties, cached by drop order."""

    def __init__(self, inp: RouteInput, group: Group, k: int, log: RepairLog) -> None:
        self.inp = inp
        self.group = group
        self.k = k
        self.log = log
        self.budget = budget_wh(group.drone, inp.margin_fraction)
        self.weights = inp.weights_kg
        self.pickups = inp.pickups
        self.evaluations = 0
        self.energy_wh: dict[tuple[int, ...], float] = {}
        self._cache: dict[tuple[int, ...], SortieEval | None] = {}

    def evaluate(self, order: tuple[int, ...]) -> SortieEval | None:
        """The sortie flying ``order``, if it keeps every constraint."""
        if order in self._cache:
            return self._cache[order]
        g = self.group
        self.evaluations += 1
        ev = evaluate_sortie(self.inp.catalog, g.drone, g.depot, order, self.weights, math.inf,
                             pickups=self.pickups)
        ok: SortieEval | None = None
        if not isinstance(ev, str):
            self.energy_wh[order] = ev.energy_wh
            if ev.energy_wh <= self.budget and windows_fit(ev, self.inp.drops):
                ok = ev
        self._cache[order] = ok
        return ok

    def over_ratio(self, points: Sequence[int]) -> float | None:
        """Least energy over budget of ``points`` as given or reversed, if it was evaluated."""
        seen = [self.energy_wh[o] for o in (tuple(points), tuple(reversed(points)))
                if o in self.energy_wh]
        return min(seen) / self.budget if seen else None

    def best(self, points: Sequence[int], *, every_order: bool) -> SortieEval | None:
        """The best feasible order of ``points``: as given, reversed, or any when asked.

        Under the makespan objective the given order is kept when it is feasible: the router
        chose it for its release times, which a cheaper reversal could delay.
        """
        orders = [tuple(points)]
        if self.inp.objective == "makespan_then_energy" and not every_order:
            given = self.evaluate(orders[0])
            if given is not None:
                return given
        if len(points) > 1:
            orders.append(tuple(reversed(points)))
        found = [ev for o in orders if (ev := self.evaluate(o)) is not None]
        if not found and every_order and 2 < len(points) <= FULL_SEARCH:
            found = [ev for o in itertools.permutations(points)
                     if (ev := self.evaluate(o)) is not None]
        if not found:
            return None
        return min(found, key=lambda e: order_key(e, self.inp.objective))

    def split(self, points: Sequence[int]) -> list[SortieEval]:
        """The fewest feasible sorties covering ``points`` (each servable alone by the group)."""
        if len(points) <= FULL_SEARCH:
            for n_blocks in range(1, len(points) + 1):
                best: tuple[tuple[float, ...], list[SortieEval]] | None = None
                for part in _partitions(list(points), n_blocks):
                    evs = [self.best(b, every_order=True) for b in part]
                    if any(e is None for e in evs):
                        continue
                    done = [e for e in evs if e is not None]
                    key = tuple(map(sum, zip(*(order_key(e, self.inp.objective)
                                               for e in done), strict=True)))
                    if best is None or key < best[0]:
                        best = (key, done)
                if best is not None:
                    return best[1]
        return self._split_in_order(points)

    def _split_in_order(self, points: Sequence[int]) -> list[SortieEval]:
        """Fewest consecutive pieces of ``points`` in their order, each feasible."""
        n = len(points)
        best: list[tuple[int, list[SortieEval]] | None] = [(0, [])] + [None] * n
        for i in range(n):
            here = best[i]
            if here is None:
                continue
            for j in range(i + 1, n + 1):
                ev = self.best(points[i:j], every_order=False)
                if ev is None:
                    if j - i >= self.group.drone.max_parcels:
                        break
                    continue
                cand = (here[0] + 1, [*here[1], ev])
                old = best[j]
                if old is None or cand[0] < old[0]:
                    best[j] = cand
        last = best[n]
        if last is None:
            raise AssertionError("a drop servable alone could not be split off")
        return last[1]


def _partitions(items: list[int], n_blocks: int) -> Iterator[list[list[int]]]:
    """Every partition of ``items`` into ``n_blocks`` non-empty blocks (order kept)."""
    if n_blocks == 1:
        yield [items]
        return
    if len(items) < n_blocks:
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest, n_blocks - 1):
        yield [[first], *part]
    for part in _partitions(rest, n_blocks):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1:]]


def exact_fleet(inp: RouteInput, routed: RoutedTrips,
                extra: Sequence[int]) -> tuple[Fleet, RepairLog, list[Checker]]:
    """Exact sorties per drone from routed trips, repaired; ``extra`` drops fly solo sorties.

    Parameters
    ----------
    inp
        The router's input.
    routed
        Per drone used: its group index, its number in the group (0-based) and its trips as
        drop points in flying order.
    extra
        Servable drop points the routing left out.

    Returns
    -------
    tuple
        Sorties per (group index, drone) in flying order, what was repaired, and the checkers
        (with their caches) per group.
    """
    log = RepairLog()
    checkers = [Checker(inp, g, k, log) for k, g in enumerate(inp.groups)]
    fleet: Fleet = {}
    orphans = list(extra)
    for k, drone, trips in routed:
        chk = checkers[k]
        out = fleet.setdefault((k, drone), [])
        for trip in trips:
            log.trips += 1
            ev = chk.best(list(trip), every_order=False)
            if ev is not None:
                out.append(ev)
                continue
            log.rejected += 1
            ratio = chk.over_ratio(trip)
            if ratio is not None and ratio > 1.0:
                log.over.setdefault(k, []).append(ratio)
            alone = [p for p in trip if inp.option(p, inp.groups[k]) is not None]
            orphans += [p for p in trip if p not in alone]
            pieces = chk.split(alone) if alone else []
            log.split += max(0, len(pieces) - 1)
            out += pieces
    for p in orphans:
        log.moved += 1
        _place_solo(inp, fleet, p)
    return fleet, log, checkers


def _place_solo(inp: RouteInput, fleet: Fleet, point: int) -> None:
    """Add a solo sortie for ``point`` to the least busy drone of its best group."""
    index = {g.key: k for k, g in enumerate(inp.groups)}
    best: tuple[float, float, int, int] | None = None
    for o in inp.options[point]:
        k = index.get((o.depot, o.drone.id))
        if k is None:
            continue
        g = inp.groups[k]
        for n in range(g.count):
            busy = sum(e.duration_s + g.drone.turnaround_s for e in fleet.get((k, n), []))
            cand = (busy + o.solo.duration_s, o.solo.energy_wh, k, n)
            if best is None or cand < best:
                best = cand
    if best is None:
        raise AssertionError(f"drop point {point} has no group to fly it")
    _, _, k, n = best
    opt = inp.option(point, inp.groups[k])
    assert opt is not None
    fleet.setdefault((k, n), []).append(opt.solo)
