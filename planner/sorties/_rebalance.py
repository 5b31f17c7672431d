"""Whole sorties moved between the drones of one group, and re-ordered, for the last release.

Every sortie of a group (one depot, one drone type) can be flown by any of its drones, so the
schedule is free to choose which drone flies it and when. Starting from a feasible schedule, the
drone whose last release is latest gives up a sortie to another drone (at a chosen place in that
drone's order), exchanges one with it, or flies its own in another order, whichever move lowers
the group's drones' last releases the most (compared from the latest down). The timeline of each
drone is exact: a sortie takes off when its drone is free after the turnaround (its first sortie
when the drone's :class:`~planner.sorties.schedule.DroneStart` allows: at once on a measured
battery that covers it, else after a swap) and no parcel is released before its window opens; a
move that would release a parcel after its window closes is not made. The search is bounded by
a number of sortie placements, so the result depends on the inputs alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planner.scenario import DroneType, Drop
from planner.sorties.evaluate import SortieEval
from planner.sorties.schedule import FRESH, DroneStart, Scheduled, takeoff_window

#: Sortie placements (one sortie put on a drone's timeline) the search may make per group.
MAX_STEPS = 200_000
#: On a drone with more sorties than this, a sortie is inserted only first, last or next to
#: last (with windows the other places rarely help, without them only the last one counts).
ALL_PLACES_UP_TO = 10
#: Two last releases closer than this count as equal.
TOLERANCE_S = 1e-6


@dataclass(frozen=True, slots=True)
class _Job:
    """A sortie with the take-offs its windows allow and its last release after take-off."""

    ev: SortieEval
    open_s: float
    close_s: float
    release_s: float
    busy_s: float


def _job(ev: SortieEval, drops: Mapping[int, Drop], turnaround_s: float) -> _Job:
    lo, hi = takeoff_window(ev, drops)
    release = ev.release_offsets_s[-1] if ev.release_offsets_s else 0.0
    return _Job(ev=ev, open_s=lo, close_s=hi, release_s=release,
                busy_s=ev.duration_s + turnaround_s)


class _Search:
    def __init__(self, jobs: list[list[_Job]], max_steps: int,
                 firsts: Sequence[DroneStart], turnaround_s: float) -> None:
        self.jobs = jobs
        self.steps = max_steps
        self.firsts = firsts
        self.turnaround_s = turnaround_s

    def first_free_s(self, n: int, seq: Sequence[_Job]) -> float:
        """When drone ``n`` may take off the first sortie of ``seq``."""
        return self.firsts[n].first_takeoff_s(seq[0].ev, self.turnaround_s) if seq else 0.0

    def end(self, seq: Sequence[_Job], n: int) -> float | None:
        """Last release of drone ``n`` flying ``seq`` in order; None if a window is missed."""
        self.steps -= len(seq)
        t = self.first_free_s(n, seq)
        last = 0.0
        for j in seq:
            start = max(t, j.open_s)
            if start > j.close_s:
                return None
            last = max(last, start + j.release_s) if j.ev.release_offsets_s else last
            t = start + j.busy_s
        return last

    def run(self) -> None:
        ends = [self.end(seq, n) for n, seq in enumerate(self.jobs)]
        if any(e is None for e in ends):
            return
        values = [e or 0.0 for e in ends]
        while self.steps > 0:
            move = self._best_move(values)
            if move is None:
                return
            (w, seq_w, end_w), (k, seq_k, end_k) = move
            self.jobs[w], values[w] = seq_w, end_w
            if k >= 0:
                self.jobs[k], values[k] = seq_k, end_k

    def _best_move(self, values: list[float]) -> tuple[tuple[int, list[_Job], float],
                                                        tuple[int, list[_Job], float]] | None:
        w = max(range(len(values)), key=lambda i: (values[i], -i))
        seq_w = self.jobs[w]
        best: tuple[list[float], tuple[int, list[_Job], float],
                    tuple[int, list[_Job], float]] | None = None
        current = sorted(values, reverse=True)

        def consider(new_w: list[_Job], k: int, new_k: list[_Job]) -> None:
            nonlocal best
            end_w = self.end(new_w, w)
            if end_w is None:
                return
            end_k = self.end(new_k, k) if k >= 0 else None
            if k >= 0 and end_k is None:
                return
            vals = list(values)
            vals[w] = end_w
            if k >= 0 and end_k is not None:
                vals[k] = end_k
            vec = sorted(vals, reverse=True)
            if _better(vec, current) and (best is None or _better(vec, best[0])):
                best = (vec, (w, new_w, end_w), (k, new_k, end_k or 0.0))

        for i, job in enumerate(seq_w):
            rest = seq_w[:i] + seq_w[i + 1:]
            for pos in _places(len(rest)):
                if pos != i:
                    consider([*rest[:pos], job, *rest[pos:]], -1, [])
            for k, seq_k in enumerate(self.jobs):
                if k == w:
                    continue
                for pos in _places(len(seq_k)):
                    consider(rest, k, [*seq_k[:pos], job, *seq_k[pos:]])
                if self.steps <= 0:
                    break
            if self.steps <= 0:
                break
        if best is None and self.steps > 0:
            for i, job in enumerate(seq_w):
                for k, seq_k in enumerate(self.jobs):
                    if k == w:
                        continue
                    for b, other in enumerate(seq_k):
                        consider([*seq_w[:i], other, *seq_w[i + 1:]], k,
                                 [*seq_k[:b], job, *seq_k[b + 1:]])
                    if self.steps <= 0:
                        break
                if self.steps <= 0:
                    break
        if best is None:
            return None
        return best[1], best[2]


def _places(n: int) -> list[int]:
    """Places to insert a sortie into a drone's order of ``n`` sorties."""
    if n <= ALL_PLACES_UP_TO:
        return list(range(n + 1))
    return [0, n - 1, n]


def _better(a: Sequence[float], b: Sequence[float]) -> bool:
    """True if ``a`` is lexicographically smaller than ``b`` by more than the tolerance."""
    for x, y in zip(a, b, strict=True):
        if x < y - TOLERANCE_S:
            return True
        if x > y + TOLERANCE_S:
            return False
    return False


def rebalance(done: Sequence[Scheduled], drone: DroneType, count: int,
              drops: Mapping[int, Drop], *, max_steps: int = MAX_STEPS,
              starts: Sequence[DroneStart] | None = None) -> list[Scheduled]:
    """Re-assign and re-order one group's scheduled sorties for the earliest last release.

    Parameters
    ----------
    done
        Feasible scheduled sorties of one depot's ``count`` drones of type ``drone``.
    drone
        The drone type (its turnaround separates a drone's sorties).
    count
        Number of drones in the group.
    drops
        Drops by point, for their release windows.
    max_steps
        Bound on the sortie placements simulated.
    starts
        When each drone is first free (default: at 0 on a full battery).

    Returns
    -------
    list of Scheduled
        The same sorties, each as early as its drone and windows allow, with a last release per
        drone (from the latest down) no later than ``done``'s order gives; ``done`` re-timed
        unchanged in order if its windows cannot be checked.
    """
    turn = drone.turnaround_s
    jobs: list[list[_Job]] = [[] for _ in range(count)]
    for s in sorted(done, key=lambda s: (s.drone_number, s.start_s)):
        jobs[s.drone_number - 1].append(_job(s.sortie, drops, turn))
    firsts = starts if starts else (FRESH,) * count
    search = _Search(jobs, max_steps, firsts, turn)
    before = [search.end(seq, n) for n, seq in enumerate(jobs)]
    if any(e is None for e in before):
        return list(done)
    search.run()
    out: list[Scheduled] = []
    for n, seq in enumerate(search.jobs):
        t = search.first_free_s(n, seq)
        for j in seq:
            start = max(t, j.open_s)
            out.append(Scheduled(sortie=j.ev, drone_number=n + 1, start_s=start))
            t = start + j.busy_s
    return out
