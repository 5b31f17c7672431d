"""Put sorties on drones: each drone flies its sorties in turn with a turnaround between them.

:func:`schedule` sends the longest sorties first to the drone that is free earliest (LPT list
scheduling); :func:`schedule_assigned` keeps an assignment of sorties to drones and their order
(a router's); :func:`schedule_balanced` improves LPT for the last release when no drop has a
window. Either way a take-off is delayed when a drop's ``earliest_s`` asks for it, and a drop
whose ``latest_s`` cannot be met is taken out of its sortie and reported; the shortened sortie is
evaluated again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from planner.scenario import DroneType, Drop
from planner.sorties.evaluate import SortieEval

Reevaluate = Callable[[SortieEval, tuple[int, ...]], SortieEval | str]

#: Improving moves the balancing may make, per drone.
BALANCE_ROUNDS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheduled:
    """A sortie with its drone (1-based number among that depot's drones of its type) and start."""

    sortie: SortieEval
    drone_number: int
    start_s: float


def _start_for_windows(ev: SortieEval, drops: Mapping[int, Drop], free_s: float) -> float:
    """Earliest take-off at or after ``free_s`` that releases no parcel before its window."""
    start = free_s
    for point, offset in zip(ev.drops, ev.release_offsets_s, strict=True):
        earliest = drops[point].earliest_s
        if earliest is not None:
            start = max(start, earliest - offset)
    return start


def takeoff_window(ev: SortieEval, drops: Mapping[int, Drop]) -> tuple[float, float]:
    """The earliest and latest take-off times (>= 0, seconds) that release every parcel of
    ``ev`` inside its window (latest is infinite without closing windows)."""
    lo, hi = 0.0, float("inf")
    for point, offset in zip(ev.drops, ev.release_offsets_s, strict=True):
        d = drops[point]
        if d.earliest_s is not None:
            lo = max(lo, d.earliest_s - offset)
        if d.latest_s is not None:
            hi = min(hi, d.latest_s - offset)
    return lo, hi


def windows_fit(ev: SortieEval, drops: Mapping[int, Drop]) -> bool:
    """True if some take-off time >= 0 releases every parcel of ``ev`` inside its window."""
    lo, hi = takeoff_window(ev, drops)
    return lo <= hi + 1e-9


def _late(ev: SortieEval, drops: Mapping[int, Drop], start_s: float) -> list[int]:
    """Drops of the sortie released after their ``latest_s`` when taking off at ``start_s``."""
    out = []
    for point, offset in zip(ev.drops, ev.release_offsets_s, strict=True):
        latest = drops[point].latest_s
        if latest is not None and start_s + offset > latest + 1e-9:
            out.append(point)
    return out


def schedule(sorties: list[SortieEval], drone: DroneType, count: int, drops: Mapping[int, Drop],
             reevaluate: Reevaluate, *,
             free_s: Sequence[float] | None = None) -> tuple[list[Scheduled], dict[int, str]]:
    """Schedule one depot's sorties of one drone type on its ``count`` drones.

    ``free_s`` gives when each drone is free to take off (default: all at 0). Returns the
    scheduled sorties and, for drops that had to be dropped, the reason.
    """
    free = list(free_s) if free_s is not None else [0.0] * count
    out: list[Scheduled] = []
    dropped: dict[int, str] = {}
    pending = sorted(sorties, key=lambda e: (-e.duration_s, e.drops))
    while pending:
        ev = pending.pop(0)
        best: tuple[float, int] | None = None
        for n in range(count):
            start = _start_for_windows(ev, drops, free[n])
            if not _late(ev, drops, start) and (best is None or start < best[0]):
                best = (start, n)
        if best is not None:
            start, n = best
            out.append(Scheduled(sortie=ev, drone_number=n + 1, start_s=start))
            free[n] = start + ev.duration_s + drone.turnaround_s
            continue
        n = min(range(count), key=lambda i: free[i])
        late = set(_late(ev, drops, _start_for_windows(ev, drops, free[n])))
        for point in late:
            dropped[point] = (f"its time window ends at {drops[point].latest_s:.0f} s and no "
                              f"{drone.id} drone can reach it in time")
        keep = tuple(p for p in ev.drops if p not in late)
        if keep:
            shorter = reevaluate(ev, keep)
            if isinstance(shorter, str):
                for point in keep:
                    dropped[point] = f"its sortie became infeasible: {shorter}"
            else:
                pending.insert(0, shorter)
    return out, dropped


def schedule_assigned(per_drone: Sequence[Sequence[SortieEval]], drone: DroneType,
                      drops: Mapping[int, Drop],
                      reevaluate: Reevaluate) -> tuple[list[Scheduled], dict[int, str]]:
    """Fly each drone's sorties in the order given, each as early as windows allow.

    ``per_drone[n]`` lists the sorties of drone ``n + 1`` in flying order. A sortie that would
    release a parcel after its window is set aside and then placed as :func:`schedule` does,
    after the drones' other sorties. Returns the scheduled sorties and the dropped drops' reasons.
    """
    free = [0.0] * len(per_drone)
    out: list[Scheduled] = []
    late: list[SortieEval] = []
    for n, seq in enumerate(per_drone):
        for ev in seq:
            start = _start_for_windows(ev, drops, free[n])
            if _late(ev, drops, start):
                late.append(ev)
                continue
            out.append(Scheduled(sortie=ev, drone_number=n + 1, start_s=start))
            free[n] = start + ev.duration_s + drone.turnaround_s
    if not late:
        return out, {}
    more, dropped = schedule(late, drone, len(per_drone), drops, reevaluate, free_s=free)
    return out + more, dropped


def last_release_s(done: Sequence[Scheduled]) -> float:
    """Time of the last release of ``done`` (0 when empty)."""
    return max((s.start_s + s.sortie.release_offsets_s[-1] for s in done
                if s.sortie.release_offsets_s), default=0.0)


def schedule_balanced(sorties: Sequence[SortieEval], drone: DroneType,
                      count: int) -> list[Scheduled]:
    """Spread sorties without time windows over ``count`` drones, the last release earliest.

    A drone busy with sorties of total duration plus turnarounds ``W`` releases its last parcel
    at ``W`` less what its last sortie flies after its last release and the turnaround, so each
    drone flies last the sortie that saves the most. Starting from LPT, a sortie is moved from
    the drone that finishes last to another, or swapped with one of another's, while that
    finish improves (at most ``BALANCE_ROUNDS`` moves per drone).
    """
    if not sorties:
        return []
    turn = drone.turnaround_s
    work = [ev.duration_s + turn for ev in sorties]
    save = [ev.duration_s + turn - ev.release_offsets_s[-1] for ev in sorties]
    order = sorted(range(len(sorties)), key=lambda j: (-work[j], sorties[j].drops))
    jobs: list[list[int]] = [[] for _ in range(count)]
    load = [0.0] * count
    for j in order:
        n = min(range(count), key=lambda i: (load[i], i))
        jobs[n].append(j)
        load[n] += work[j]
    for _ in range(BALANCE_ROUNDS * count):
        if not _improve(jobs, work, save):
            break
    out: list[Scheduled] = []
    for n, js in enumerate(jobs):
        if not js:
            continue
        last = max(js, key=lambda j: (save[j], -j))
        t = 0.0
        for j in [*sorted((j for j in js if j != last), key=lambda j: -work[j]), last]:
            out.append(Scheduled(sortie=sorties[j], drone_number=n + 1, start_s=t))
            t += work[j]
    return out


def _improve(jobs: list[list[int]], work: list[float], save: list[float]) -> bool:
    """One best move or swap off the drone that finishes last; False if none helps."""
    def top2(js: list[int]) -> tuple[float, int, float]:
        ranked = sorted(js, key=lambda j: -save[j])[:2]
        first = save[ranked[0]] if ranked else -math.inf
        second = save[ranked[1]] if len(ranked) > 1 else -math.inf
        return first, ranked[0] if ranked else -1, second

    sums = [sum(work[j] for j in js) for js in jobs]
    tops = [top2(js) for js in jobs]
    ends = [sums[i] - tops[i][0] if jobs[i] else 0.0 for i in range(len(jobs))]
    w = max(range(len(jobs)), key=lambda i: (ends[i], -i))
    best: tuple[float, int, int, int] | None = None
    for k in range(len(jobs)):
        if k == w:
            continue
        for a in jobs[w]:
            rest_w = tops[w][2] if a == tops[w][1] else tops[w][0]
            for b in (-1, *jobs[k]):
                if b < 0:
                    new_w = sums[w] - work[a] - rest_w if len(jobs[w]) > 1 else 0.0
                    new_k = sums[k] + work[a] - max(tops[k][0], save[a])
                else:
                    rest_k = tops[k][2] if b == tops[k][1] else tops[k][0]
                    new_w = sums[w] - work[a] + work[b] - max(rest_w, save[b])
                    new_k = sums[k] - work[b] + work[a] - max(rest_k, save[a])
                peak = max(new_w, new_k)
                if peak < ends[w] - 1e-6 and (best is None or peak < best[0]):
                    best = (peak, k, a, b)
    if best is None:
        return False
    _, k, a, b = best
    jobs[w].remove(a)
    jobs[k].append(a)
    if b >= 0:
        jobs[k].remove(b)
        jobs[w].append(b)
    return True
