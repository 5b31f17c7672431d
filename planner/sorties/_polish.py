"""Exact local search on routed sorties: merge two sorties, move or swap drops between them.

The routing core only saw a linear stand-in for the battery, so its sorties are either cut short
by a conservative limit or split by the repair. Here, within each group, pairs of sorties whose
drops are near neighbours are merged and single drops moved between them when that lowers the
objective's cost (busy time for the makespan, distance, or the number of sorties); two
sorties may also exchange one drop each. Candidates are
ranked by a load-aware estimate (the payload on board on every arc, from the problem's time
matrix, calibrated on the group's exact solo sorties) and only the promising ones are evaluated
exactly; a move is taken only if the exact sorties keep every constraint and the exact cost
falls. The number of exact evaluations is bounded, so the result depends on the inputs alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from planner.legs.energy import DorlingModel
from planner.sorties._exact import Checker, Fleet
from planner.sorties._problem import Group, RouteInput, Timing
from planner.sorties.evaluate import SortieEval

#: Nearest drops of the same group whose sorties are tried with each drop's sortie.
NEIGHBOURS = 8
#: An estimate up to this factor over the budget is still checked exactly.
ESTIMATE_SLACK = 1.03
#: Exact attempts per candidate move (best estimated orders first).
TRIES = 2
MAX_PASSES = 8
#: Cost of one sortie under the ``sorties`` objective, in metres.
SORTIE_M = 1e7


class Estimator:
    """Load-aware duration and energy of a drop order for one group, from problem times."""

    def __init__(self, inp: RouteInput, tm: Timing, group: Group) -> None:
        self.g = group
        self.tm = tm
        self._arc_s: dict[tuple[int, int], float] = {}
        self._known: dict[tuple[int, ...], tuple[float, float, float]] = {}
        self.dist = inp.dist_m
        self.service = tm.service_s
        self.descent = tm.descent_s
        self.w = inp.weights_kg
        self.pickups = inp.pickups
        self.model = DorlingModel.of(group.drone)
        e_ratios, t_ratios = [], []
        served = [(p, o) for p in tm.drop_points if (o := inp.option(p, group)) is not None]
        dep = tm.node(group.depot)
        cs = np.array([tm.node(p) for p, _ in served], dtype=np.intp)
        out, back = tm.duration_s(dep, cs).tolist(), tm.duration_s(cs, dep).tolist()
        for (p, o), t_out, t_back in zip(served, out, back, strict=True):
            t, e = self._raw((p,), [t_out, t_back])
            e_ratios.append(o.solo.energy_wh / e)
            t_ratios.append(o.solo.duration_s / t)
        self.rho_e = float(np.median(e_ratios)) if e_ratios else 1.0
        self.rho_t = float(np.median(t_ratios)) if t_ratios else 1.0

    def _raw(self, order: Sequence[int],
             times: Sequence[float] | None = None) -> tuple[float, float]:
        """Duration and energy of ``order`` before calibration (``times``: its arcs' times)."""
        if times is None:
            times = self._times(order)
        power = self.model.power_w
        picks = self.pickups
        q = sum(self.w[p] for p in order if p not in picks)
        dur = energy = 0.0
        for p, dt in zip(order, times, strict=False):
            desc = self.descent[p]
            rest = self.service[p] - desc
            energy += power(q) * (dt + desc)
            q += self.w[p] if p in picks else -self.w[p]
            energy += power(q) * rest
            dur += dt + self.service[p]
        dt = times[len(order)]
        back = sum(self.w[p] for p in order if p in picks) if picks else 0.0
        return dur + dt, (energy + power(back) * dt) / 3600.0

    def _times(self, order: Sequence[int]) -> list[float]:
        """Times of the arcs of ``order`` from the depot and back (each computed once)."""
        points = (self.g.depot, *order, self.g.depot)
        arcs = list(itertools.pairwise(points))
        new = [arc for arc in dict.fromkeys(arcs) if arc not in self._arc_s]
        if new:
            a = [self.tm.node(x) for x, _ in new]
            b = [self.tm.node(y) for _, y in new]
            self._arc_s.update(zip(new, self.tm.duration_s(a, b).tolist(), strict=True))
        return [self._arc_s[arc] for arc in arcs]

    def estimate(self, order: Sequence[int]) -> tuple[float, float, float]:
        """Estimated duration (s), energy (Wh) and exact horizontal distance (m) of ``order``.

        A function of the order alone, kept once computed: the search asks again for the
        orders of sorties that did not change.
        """
        key = tuple(order)
        known = self._known.get(key)
        if known is not None:
            return known
        t, e = self._raw(order)
        points = [self.g.depot, *order, self.g.depot]
        d = float(sum(self.dist[a, b] for a, b in itertools.pairwise(points)))
        self._known[key] = (t * self.rho_t, e * self.rho_e, d)
        return self._known[key]


@dataclass(slots=True)
class _Slot:
    drone: int
    ev: SortieEval | None


def sortie_cost(ev: SortieEval, objective: str, turnaround_s: float) -> float:
    """What a sortie adds to the objective's cost."""
    if objective == "distance":
        return ev.distance_m
    if objective == "sorties":
        return SORTIE_M + ev.distance_m
    return ev.duration_s + turnaround_s


def polish(inp: RouteInput, tm: Timing, fleet: Fleet, checkers: Sequence[Checker],
           max_evaluations: int, *, clock: Callable[[], float] | None = None,
           deadline_s: float = math.inf) -> tuple[Fleet, int]:
    """Improve ``fleet`` by exact merges, moves and swaps; returns it and the moves made.

    At most ``max_evaluations`` exact evaluations are made; with a ``clock`` the search also
    stops at ``deadline_s`` (a hard cap that, unlike the evaluation budget, depends on the
    machine's speed).
    """
    out: Fleet = {}
    moves = 0
    left = max_evaluations
    for k, g in enumerate(inp.groups):
        slots = [_Slot(drone=n, ev=ev) for n in range(g.count) for ev in fleet.get((k, n), [])]
        if clock is not None and clock() > deadline_s:
            left = 0  # no exact evaluation is left, so no move: skip the candidates
        if len(slots) > 1 and g.drone.max_parcels > 1 and left > 0:
            search = _GroupSearch(inp, tm, g, checkers[k], slots, clock, deadline_s)
            made, used = search.run(left)
            moves += made
            left = max(0, left - used)
        for s in slots:
            if s.ev is not None:
                out.setdefault((k, s.drone), []).append(s.ev)
    return out, moves


class _GroupSearch:
    def __init__(self, inp: RouteInput, tm: Timing, group: Group, checker: Checker,
                 slots: list[_Slot], clock: Callable[[], float] | None,
                 deadline_s: float) -> None:
        self.clock = clock
        self.deadline_s = deadline_s
        self.inp = inp
        self.g = group
        self.chk = checker
        self.slots = slots
        self.est = Estimator(inp, tm, group)
        self.objective = inp.objective
        self.turn = group.drone.turnaround_s
        self.budget = checker.budget
        points = sorted(p for s in slots if s.ev is not None for p in s.ev.drops)
        idx = np.array(points, dtype=np.intp)
        sub = inp.dist_m[np.ix_(idx, idx)]
        m = min(NEIGHBOURS + 1, len(points))
        near = np.argsort(sub, axis=1, kind="stable")[:, :m]
        self.near = {p: [points[j] for j in near[i] if points[j] != p]
                     for i, p in enumerate(points)}

    def _where(self) -> dict[int, int]:
        return {p: i for i, s in enumerate(self.slots) if s.ev is not None for p in s.ev.drops}

    def _cost(self, ev: SortieEval) -> float:
        return sortie_cost(ev, self.objective, self.turn)

    def _est_cost(self, t: float, d: float) -> float:
        if self.objective == "distance":
            return d
        if self.objective == "sorties":
            return SORTIE_M + d
        return t + self.turn

    def _ranked(self, orders: Sequence[tuple[int, ...]]) -> list[tuple[float, tuple[int, ...]]]:
        """Orders whose estimate keeps payload, parcels and battery, cheapest first."""
        out = []
        for o in orders:
            t, e, d = self.est.estimate(o)
            if e <= self.budget * ESTIMATE_SLACK:
                out.append((self._est_cost(t, d), o))
        out.sort()
        return out

    def _fits(self, points: Sequence[int]) -> bool:
        drone = self.g.drone
        drops = self.inp.drops
        deliver = sum(drops[p].weight_kg for p in points if not drops[p].is_pickup)
        collect = sum(drops[p].weight_kg for p in points if drops[p].is_pickup)
        return (len(points) <= drone.max_parcels
                and max(deliver, collect) <= drone.max_payload_kg + 1e-9)

    def _spent(self, budget: list[int]) -> bool:
        """Whether the evaluations or the time are used up (then the budget is set to 0).

        Every move needs an exact evaluation, so once this is True no move can be made and
        looking for candidates is skipped.
        """
        if self.clock is not None and self.clock() > self.deadline_s:
            budget[0] = 0
        return budget[0] <= 0

    def _exact(self, ranked: Sequence[tuple[float, tuple[int, ...]]],
               budget: list[int]) -> SortieEval | None:
        for _, order in ranked[:TRIES]:
            if self._spent(budget):
                return None
            before = self.chk.evaluations
            ev = self.chk.evaluate(order)
            budget[0] -= self.chk.evaluations - before
            if ev is not None:
                return ev
        return None

    def run(self, max_evaluations: int) -> tuple[int, int]:
        budget = [max_evaluations]
        moves = 0
        for _ in range(MAX_PASSES):
            made = self._merges(budget) + self._relocations(budget) + self._swaps(budget)
            moves += made
            if not made or budget[0] <= 0:
                break
        return moves, max_evaluations - budget[0]

    def _merges(self, budget: list[int]) -> int:
        where = self._where()
        cands: list[tuple[float, int, int, list[tuple[float, tuple[int, ...]]]]] = []
        seen: set[tuple[int, int]] = set()
        for a, sa in enumerate(self.slots):
            if self._spent(budget):
                return 0
            if sa.ev is None:
                continue
            for p in sa.ev.drops:
                for q in self.near[p]:
                    b = where.get(q)
                    if b is None or b == a or (min(a, b), max(a, b)) in seen:
                        continue
                    seen.add((min(a, b), max(a, b)))
                    eb = self.slots[b].ev
                    assert eb is not None
                    pts = (*sa.ev.drops, *eb.drops)
                    if not self._fits(pts):
                        continue
                    ranked = self._ranked(_orders(sa.ev.drops, eb.drops))
                    if not ranked:
                        continue
                    gain = self._cost(sa.ev) + self._cost(eb) - ranked[0][0]
                    if gain > 0:
                        cands.append((-gain, a, b, ranked))
        cands.sort(key=lambda c: (c[0], c[1], c[2]))
        made = 0
        touched: set[int] = set()
        for _, a, b, ranked in cands:
            if a in touched or b in touched or budget[0] <= 0:
                continue
            ea, eb2 = self.slots[a].ev, self.slots[b].ev
            assert ea is not None and eb2 is not None
            ev = self._exact(ranked, budget)
            if ev is not None and self._cost(ev) < self._cost(ea) + self._cost(eb2) - 1e-9:
                self.slots[a].ev = ev
                self.slots[b].ev = None
                touched |= {a, b}
                made += 1
        return made

    def _relocations(self, budget: list[int]) -> int:
        where = self._where()
        made = 0
        touched: set[int] = set()
        cands: list[tuple[float, int, int, int]] = []
        for a, sa in enumerate(self.slots):
            if self._spent(budget):
                return 0
            if sa.ev is None or len(sa.ev.drops) < 2:
                continue
            for x in sa.ev.drops:
                for q in self.near[x]:
                    b = where.get(q)
                    if b is None or b == a:
                        continue
                    eb = self.slots[b].ev
                    assert eb is not None
                    if not self._fits((*eb.drops, x)):
                        continue
                    rest = tuple(p for p in sa.ev.drops if p != x)
                    ra = self._ranked([rest, rest[::-1]])
                    rb = self._ranked(_insertions(eb.drops, x))
                    if not ra or not rb:
                        continue
                    gain = self._cost(sa.ev) + self._cost(eb) - ra[0][0] - rb[0][0]
                    if gain > 0:
                        cands.append((-gain, a, b, x))
        cands.sort()
        for _, a, b, x in cands:
            if a in touched or b in touched or budget[0] <= 0:
                continue
            ea, eb = self.slots[a].ev, self.slots[b].ev
            assert ea is not None and eb is not None
            rest = tuple(p for p in ea.drops if p != x)
            if self._replace_pair(a, b, [rest, rest[::-1]], _insertions(eb.drops, x), budget):
                touched |= {a, b}
                made += 1
        return made

    def _replace_pair(self, a: int, b: int, orders_a: list[tuple[int, ...]],
                      orders_b: list[tuple[int, ...]], budget: list[int]) -> bool:
        """Replace sorties ``a`` and ``b`` by the best exact sorties among the given orders
        when together they cost less; whether they were replaced."""
        ea, eb = self.slots[a].ev, self.slots[b].ev
        assert ea is not None and eb is not None
        new_a = self._exact(self._ranked(orders_a), budget)
        if new_a is None:
            return False
        new_b = self._exact(self._ranked(orders_b), budget)
        if new_b is None:
            return False
        if self._cost(new_a) + self._cost(new_b) >= self._cost(ea) + self._cost(eb) - 1e-9:
            return False
        self.slots[a].ev, self.slots[b].ev = new_a, new_b
        return True


    def _swaps(self, budget: list[int]) -> int:
        """Exchange one drop of a sortie with one of a neighbouring sortie."""
        where = self._where()
        cands: list[tuple[float, int, int, int, int]] = []
        for a, sa in enumerate(self.slots):
            if self._spent(budget):
                return 0
            if sa.ev is None:
                continue
            for x in sa.ev.drops:
                for b in sorted({where[q] for q in self.near[x] if q in where} - {a}):
                    eb = self.slots[b].ev
                    assert eb is not None
                    for y in eb.drops:
                        if b < a and x in self.near.get(y, ()):
                            continue  # the same pair is found from b
                        rest_a = tuple(p for p in sa.ev.drops if p != x)
                        rest_b = tuple(p for p in eb.drops if p != y)
                        if not (self._fits((*rest_a, y)) and self._fits((*rest_b, x))):
                            continue
                        ra = self._ranked(_insertions(rest_a, y))
                        rb = self._ranked(_insertions(rest_b, x))
                        if not ra or not rb:
                            continue
                        gain = self._cost(sa.ev) + self._cost(eb) - ra[0][0] - rb[0][0]
                        if gain > 0:
                            cands.append((-gain, a, b, x, y))
        cands.sort()
        made = 0
        touched: set[int] = set()
        for _, a, b, x, y in cands:
            if a in touched or b in touched or budget[0] <= 0:
                continue
            ea, eb = self.slots[a].ev, self.slots[b].ev
            assert ea is not None and eb is not None
            rest_a = tuple(p for p in ea.drops if p != x)
            rest_b = tuple(p for p in eb.drops if p != y)
            if self._replace_pair(a, b, _insertions(rest_a, y), _insertions(rest_b, x), budget):
                touched |= {a, b}
                made += 1
        return made


def _orders(a: tuple[int, ...], b: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Orders to try for the drops of two sorties flown as one."""
    pts = (*a, *b)
    if len(pts) <= 4:
        return list(itertools.permutations(pts))
    return [a + b, b + a, a[::-1] + b, a + b[::-1], b + a[::-1], b[::-1] + a]


def _insertions(order: tuple[int, ...], x: int) -> list[tuple[int, ...]]:
    """``x`` inserted at every position of ``order``."""
    return [(*order[:i], x, *order[i:]) for i in range(len(order) + 1)]

