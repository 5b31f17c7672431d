"""Put sorties on drones: each drone flies its sorties in turn with a turnaround between them.

Longest sorties go first to the drone that is free earliest (LPT list scheduling), delayed when a
drop's ``earliest_s`` asks for it. A drop whose ``latest_s`` cannot be met is taken out of its
sortie and reported; the shortened sortie is evaluated again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner.scenario import DroneType, Drop
from planner.sortie_eval import SortieEval

Reevaluate = Callable[[SortieEval, tuple[int, ...]], SortieEval | str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheduled:
    """A sortie with its drone (1-based number among that depot's drones of its type) and start."""

    sortie: SortieEval
    drone_number: int
    start_s: float


def _start_for_windows(ev: SortieEval, drops: dict[int, Drop], free_s: float) -> float:
    """Earliest take-off at or after ``free_s`` that releases no parcel before its window."""
    start = free_s
    for point, offset in zip(ev.drops, ev.release_offsets_s, strict=True):
        earliest = drops[point].earliest_s
        if earliest is not None:
            start = max(start, earliest - offset)
    return start


def windows_fit(ev: SortieEval, drops: dict[int, Drop]) -> bool:
    """True if some take-off time >= 0 releases every parcel of ``ev`` inside its window."""
    lo, hi = 0.0, float("inf")
    for point, offset in zip(ev.drops, ev.release_offsets_s, strict=True):
        d = drops[point]
        if d.earliest_s is not None:
            lo = max(lo, d.earliest_s - offset)
        if d.latest_s is not None:
            hi = min(hi, d.latest_s - offset)
    return lo <= hi + 1e-9


def _late(ev: SortieEval, drops: dict[int, Drop], start_s: float) -> list[int]:
    """Drops of the sortie released after their ``latest_s`` when taking off at ``start_s``."""
    out = []
    for point, offset in zip(ev.drops, ev.release_offsets_s, strict=True):
        latest = drops[point].latest_s
        if latest is not None and start_s + offset > latest + 1e-9:
            out.append(point)
    return out


def schedule(sorties: list[SortieEval], drone: DroneType, count: int, drops: dict[int, Drop],
             reevaluate: Reevaluate) -> tuple[list[Scheduled], dict[int, str]]:
    """Schedule one depot's sorties of one drone type on its ``count`` drones.

    Returns the scheduled sorties and, for drops that had to be dropped, the reason.
    """
    free = [0.0] * count
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
