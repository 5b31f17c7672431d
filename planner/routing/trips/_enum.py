"""Enumeration of every feasible trip of one drone class by backward labelling.

A trip is depot -> customers -> depot. Labels are built from the end: a label is a suffix
``f -> ... -> depot`` and is extended by a predecessor ``p``. The payload on the arc ``p -> f`` is
the demand of the suffix, already known, so every arc's energy is exact the moment it is added
and never changes afterwards. A label keeps the suffix's distance, energy, duration from the
start of service at ``f`` to landing (flying and service, no waiting) and two time marks:

- waiting allowed: ``x`` the latest start of service at ``f`` that keeps every later window and
  the landing deadline, and ``y`` the earliest possible landing given the ready times;
- no waiting: ``x`` and ``y`` the latest and earliest start of service at ``f`` for which every
  later customer is reached inside its window on arrival.

Labels of the same customer set and first customer are compared and the dominated ones dropped
(no worse distance, energy and duration, a later ``x`` and an earlier ``y``).

Pickups: the payload on an arc is then the suffix's deliveries plus the pickups made before it,
some of them before the suffix and not yet known. A label keeps the suffix's energy and peak
load with no pickup before it (its exact value once the trip is closed, and a lower bound until
then, so pruning stays safe) and its energy with the most payload the rest of a trip could add;
a label dominates another only if it is no worse at both ends and its peak load is no higher.
Every closed trip's energy and load are exact; the dominance between the two ends assumes the
energy of the orders compared does not cross, so the answer is not claimed proven optimal.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

EPS = 1e-9

#: (distance_m, energy_wh, duration_s, x_s, y_s, load_kg, customers in flying order)
Label = tuple[float, float, float, float, float, float, tuple[int, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassData:
    """One drone class with its arc tables over local nodes (0 the depot, ``c + 1`` customer c)."""

    time_s: Sequence[Sequence[float]]
    distance_m: Sequence[Sequence[float]]
    energy_wh: Callable[[int, int, float], float]
    demand_kg: Sequence[float]
    ready_s: Sequence[float]
    due_s: Sequence[float]
    service_s: Sequence[float]
    capacity_kg: float
    energy_limit_wh: float
    max_stops: int
    available_from_s: float
    return_by_s: float
    pickup_kg: Sequence[float] = ()

    @property
    def has_pickups(self) -> bool:
        """Whether some customer has a parcel to collect."""
        return any(q > 0 for q in self.pickup_kg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A feasible trip of one drone class, with what scheduling needs to know about it.

    ``customers`` are 0-based customer indexes in flying order; ``load_kg`` is the most payload
    on board at any time. The trip may leave the depot at
    any time in ``[start_min_s, start_max_s]`` and then occupies the drone for ``occupancy_s``
    (waiting included when the windows force it; turnaround excluded). ``back_s`` is the time
    from the end of the last service to landing.
    """

    klass: int
    customers: tuple[int, ...]
    mask: int
    distance_m: float
    energy_wh: float
    load_kg: float
    start_min_s: float
    start_max_s: float
    occupancy_s: float
    back_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Enumeration:
    """Every candidate trip found and whether the search was restricted."""

    candidates: tuple[Candidate, ...]
    labels: int
    restricted: bool


class _Overflow(Exception):
    """More labels than the budget allows."""


def enumerate_trips(klass: int, data: ClassData, *, wait_allowed: bool, triangle: bool,
                    keep_last: bool, max_labels: int, neighbours: int | None) -> Enumeration:
    """Every non-dominated feasible trip of one drone class.

    With ``neighbours`` a customer can only follow one of its ``neighbours`` nearest customers
    (by flying time); when the full search makes more than ``max_labels`` labels it is redone
    with 12, then 8, then 5 neighbours and the result is marked ``restricted``.
    """
    tries: list[int | None] = [neighbours] if neighbours is not None else [None, 12, 8, 5]
    for k, limit in enumerate(tries):
        try:
            cands, labels = _run(klass, data, wait_allowed=wait_allowed, triangle=triangle,
                                 keep_last=keep_last, max_labels=max_labels, neighbours=limit)
        except _Overflow:
            if k + 1 < len(tries):
                continue
            raise
        return Enumeration(candidates=tuple(_pareto(cands, keep_last)), labels=labels,
                           restricted=limit is not None)
    raise AssertionError("unreachable")  # pragma: no cover


def _predecessors(data: ClassData, neighbours: int | None) -> list[list[int]]:
    """For each local customer node, the customer nodes allowed right before it."""
    n = len(data.demand_kg)
    nodes = list(range(1, n + 1))
    out: list[list[int]] = [[]]
    for f in nodes:
        ok = [p for p in nodes if p != f and math.isfinite(data.time_s[p][f])]
        if neighbours is not None:
            ok = sorted(ok, key=lambda p: (data.time_s[p][f], p))[:neighbours]
        out.append(sorted(ok))
    return out


def _run(klass: int, data: ClassData, *, wait_allowed: bool, triangle: bool, keep_last: bool,
         max_labels: int, neighbours: int | None) -> tuple[list[Candidate], int]:
    if data.has_pickups:
        return _run_pickups(klass, data, wait_allowed=wait_allowed, triangle=triangle,
                            keep_last=keep_last, max_labels=max_labels, neighbours=neighbours)
    t, dist, energy = data.time_s, data.distance_m, data.energy_wh
    dem, ready, due, serv = data.demand_kg, data.ready_s, data.due_s, data.service_s
    cap, limit = data.capacity_kg + EPS, data.energy_limit_wh * (1 + EPS)
    avail = data.available_from_s
    n = len(dem)
    preds = _predecessors(data, neighbours)
    level: dict[tuple[int, int, int], list[Label]] = {}
    for c in range(n):
        f = c + 1
        if dem[c] > cap or not (math.isfinite(t[f][0]) and math.isfinite(t[0][f])):
            continue
        dur = serv[c] + t[f][0]
        e = energy(f, 0, 0.0)
        if e > limit:
            continue
        latest = min(due[c], data.return_by_s - dur)
        y = ready[c] + dur if wait_allowed else ready[c]
        if latest < ready[c] - EPS:
            continue
        _insert(level, (1 << c, c, c if keep_last else -1),
                (dist[f][0], e, dur, latest, y, dem[c], (c,)))
    out: list[Candidate] = []
    labels = 0
    while level:
        labels += sum(len(v) for v in level.values())
        if labels > max_labels:
            raise _Overflow
        nxt: dict[tuple[int, int, int], list[Label]] = {}
        for (mask, c, last), bucket in level.items():
            f = c + 1
            for lab in bucket:
                cand = _close(klass, data, lab, mask, wait_allowed)
                if cand is not None:
                    out.append(cand)
                d_m, e_wh, dur, x, y, load, seq = lab
                if len(seq) >= data.max_stops:
                    continue
                for p in preds[f]:
                    q = p - 1
                    if mask >> q & 1:
                        continue
                    load2 = load + dem[q]
                    if load2 > cap:
                        continue
                    e2 = e_wh + energy(p, f, load)
                    if e2 > limit:
                        continue
                    step = serv[q] + t[p][f]
                    dur2 = dur + step
                    if wait_allowed:
                        x2 = min(due[q], x - step)
                        if x2 < ready[q] - EPS:
                            continue
                        y2 = max(y, ready[q] + dur2)
                    else:
                        x2 = min(due[q], x - step)
                        y2 = max(ready[q], y - step)
                        if y2 > x2 + EPS:
                            continue
                    if triangle and (x2 - t[0][p] < avail - EPS
                                     or e2 + energy(0, p, load2) > limit):
                        continue
                    _insert(nxt, (mask | 1 << q, q, last),
                            (d_m + dist[p][f], e2, dur2, x2, y2, load2, (q, *seq)))
        level = nxt
    return out, labels


def _insert(level: dict[tuple[int, int, int], list[Label]], key: tuple[int, int, int],
            lab: Label) -> None:
    """Add ``lab`` under ``key`` unless a label there dominates it; drop those it dominates."""
    bucket = level.get(key)
    if bucket is None:
        level[key] = [lab]
        return
    d, e, dur, x, y = lab[0], lab[1], lab[2], lab[3], lab[4]
    for o in bucket:
        if o[0] <= d and o[1] <= e and o[2] <= dur and o[3] >= x and o[4] <= y:
            return
    bucket[:] = [o for o in bucket
                 if not (d <= o[0] and e <= o[1] and dur <= o[2] and x >= o[3] and y <= o[4])]
    bucket.append(lab)


def _close(klass: int, data: ClassData, lab: Label, mask: int,
           wait_allowed: bool) -> Candidate | None:
    """The trip that flies from the depot straight to the label's first customer, if feasible."""
    d_m, e_wh, dur, x, y, load, seq = lab
    f = seq[0] + 1
    t0 = data.time_s[0][f]
    energy = e_wh + data.energy_wh(0, f, load)
    if energy > data.energy_limit_wh * (1 + EPS):
        return None
    flight = t0 + dur
    latest = x - t0
    avail = data.available_from_s
    if latest < avail - EPS:
        return None
    latest = max(latest, avail)
    if wait_allowed:
        earliest = max(avail, y - flight)
        if earliest <= latest:
            lo, hi, occupancy = earliest, latest, flight
        else:
            lo, hi, occupancy = latest, latest, y - latest
    else:
        lo, hi, occupancy = max(avail, y - t0), latest, flight
        if lo > hi + EPS:
            return None
        lo = min(lo, hi)
    last = seq[-1] + 1
    return Candidate(klass=klass, customers=seq, mask=mask, distance_m=d_m + data.distance_m[0][f],
                     energy_wh=energy, load_kg=load, start_min_s=lo, start_max_s=hi,
                     occupancy_s=occupancy, back_s=data.time_s[last][0])


def _pareto(cands: list[Candidate], keep_last: bool) -> list[Candidate]:
    """Drop every trip another trip over the same customers makes redundant.

    ``a`` makes ``b`` redundant when it costs no more distance or energy and, wherever ``b``
    could be flown, ``a`` fits inside the time ``b`` would occupy (and, for the makespan, ends
    its last service no later).
    """
    groups: dict[int, list[Candidate]] = {}
    for cand in cands:
        groups.setdefault(cand.mask, []).append(cand)
    out: list[Candidate] = []
    for mask in sorted(groups):
        group = sorted(groups[mask], key=_rank)
        kept: list[Candidate] = []
        for b in group:
            if not any(_covers(a, b, keep_last) for a in kept):
                kept.append(b)
        out.extend(kept)
    return out


def _rank(c: Candidate) -> tuple[float, float, float, float, tuple[int, ...]]:
    return (c.distance_m, c.energy_wh, c.occupancy_s, -c.start_max_s, c.customers)


def _covers(a: Candidate, b: Candidate, keep_last: bool) -> bool:
    return (a.distance_m <= b.distance_m and a.energy_wh <= b.energy_wh
            and a.occupancy_s <= b.occupancy_s and a.start_max_s >= b.start_max_s
            and a.start_min_s + a.occupancy_s <= b.start_min_s + b.occupancy_s
            and (not keep_last or a.back_s >= b.back_s))


#: (distance_m, energy_wh, duration_s, x_s, y_s, deliveries_kg, customers, peak_kg, energy_hi_wh):
#: a label of :func:`_run_pickups`, energy and peak with no pickup before the suffix, and
#: ``energy_hi_wh`` with the most payload the rest of a trip could add.
PickLabel = tuple[float, float, float, float, float, float, tuple[int, ...], float, float]


def _suffix(data: ClassData, seq: tuple[int, ...], before_kg: float) -> tuple[float, float]:
    """Energy and peak load of the arcs from ``seq[0]`` to the depot, ``before_kg`` of pickups
    already on board when service at ``seq[0]`` starts."""
    dem, pick, energy = data.demand_kg, data.pickup_kg, data.energy_wh
    deliver = sum(dem[c] for c in seq)
    load = deliver + before_kg
    total = 0.0
    peak = 0.0
    for k, c in enumerate(seq):
        load += pick[c] - dem[c]
        peak = max(peak, load)
        total += energy(c + 1, seq[k + 1] + 1 if k + 1 < len(seq) else 0, load)
    return total, peak


def _run_pickups(klass: int, data: ClassData, *, wait_allowed: bool, triangle: bool,
                 keep_last: bool, max_labels: int,
                 neighbours: int | None) -> tuple[list[Candidate], int]:
    """:func:`_run` for customers with pickups: suffix energies recomputed at every extension."""
    t, dist = data.time_s, data.distance_m
    dem, pick, ready, due, serv = (data.demand_kg, data.pickup_kg, data.ready_s, data.due_s,
                                   data.service_s)
    cap, limit = data.capacity_kg + EPS, data.energy_limit_wh * (1 + EPS)
    avail = data.available_from_s
    n = len(dem)
    total_pick = sum(pick)
    preds = _predecessors(data, neighbours)
    level: dict[tuple[int, int, int], list[PickLabel]] = {}

    def hi_kg(mask: int) -> float:
        rest = total_pick - sum(pick[c] for c in range(n) if mask >> c & 1)
        return min(rest, data.capacity_kg)

    for c in range(n):
        f = c + 1
        if max(dem[c], pick[c]) > cap or not (math.isfinite(t[f][0]) and math.isfinite(t[0][f])):
            continue
        dur = serv[c] + t[f][0]
        e, peak = _suffix(data, (c,), 0.0)
        if e > limit:
            continue
        latest = min(due[c], data.return_by_s - dur)
        y = ready[c] + dur if wait_allowed else ready[c]
        if latest < ready[c] - EPS:
            continue
        e_hi, _ = _suffix(data, (c,), hi_kg(1 << c))
        _insert_pick(level, (1 << c, c, c if keep_last else -1),
                     (dist[f][0], e, dur, latest, y, dem[c], (c,), peak, e_hi))
    out: list[Candidate] = []
    labels = 0
    while level:
        labels += sum(len(v) for v in level.values())
        if labels > max_labels:
            raise _Overflow
        nxt: dict[tuple[int, int, int], list[PickLabel]] = {}
        for (mask, c, last), bucket in level.items():
            f = c + 1
            for lab in bucket:
                cand = _close_pick(klass, data, lab, mask, wait_allowed)
                if cand is not None:
                    out.append(cand)
                d_m, _, dur, x, y, load, seq, _, _ = lab
                if len(seq) >= data.max_stops:
                    continue
                for p in preds[f]:
                    q = p - 1
                    if mask >> q & 1:
                        continue
                    load2 = load + dem[q]
                    if load2 > cap:
                        continue
                    seq2 = (q, *seq)
                    e2, peak2 = _suffix(data, seq2, 0.0)
                    if e2 > limit or peak2 > cap:
                        continue
                    step = serv[q] + t[p][f]
                    dur2 = dur + step
                    x2 = min(due[q], x - step)
                    if wait_allowed:
                        if x2 < ready[q] - EPS:
                            continue
                        y2 = max(y, ready[q] + dur2)
                    else:
                        y2 = max(ready[q], y - step)
                        if y2 > x2 + EPS:
                            continue
                    if triangle and (x2 - t[0][p] < avail - EPS
                                     or e2 + data.energy_wh(0, p, load2) > limit):
                        continue
                    mask2 = mask | 1 << q
                    e_hi, _ = _suffix(data, seq2, hi_kg(mask2))
                    _insert_pick(nxt, (mask2, q, last),
                                 (d_m + dist[p][f], e2, dur2, x2, y2, load2, seq2, peak2, e_hi))
        level = nxt
    return out, labels


def _insert_pick(level: dict[tuple[int, int, int], list[PickLabel]], key: tuple[int, int, int],
                 lab: PickLabel) -> None:
    """:func:`_insert` for labels with pickups: also no higher peak and high-load energy."""
    bucket = level.get(key)
    if bucket is None:
        level[key] = [lab]
        return
    d, e, dur, x, y, peak, e_hi = lab[0], lab[1], lab[2], lab[3], lab[4], lab[7], lab[8]
    for o in bucket:
        if (o[0] <= d and o[1] <= e and o[2] <= dur and o[3] >= x and o[4] <= y
                and o[7] <= peak and o[8] <= e_hi):
            return
    bucket[:] = [o for o in bucket
                 if not (d <= o[0] and e <= o[1] and dur <= o[2] and x >= o[3] and y <= o[4]
                         and peak <= o[7] and e_hi <= o[8])]
    bucket.append(lab)


def _close_pick(klass: int, data: ClassData, lab: PickLabel, mask: int,
                wait_allowed: bool) -> Candidate | None:
    """:func:`_close` for a label with pickups: the take-off load is its deliveries."""
    d_m, e_wh, dur, x, y, load, seq, peak, _ = lab
    if load > data.capacity_kg + EPS:
        return None
    cand = _close(klass, data, (d_m, e_wh, dur, x, y, load, seq), mask, wait_allowed)
    if cand is None:
        return None
    return dataclasses.replace(cand, load_kg=max(load, peak))
