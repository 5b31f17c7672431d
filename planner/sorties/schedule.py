"""Put sorties on drones: each drone flies its sorties in turn with a turnaround between them.

:func:`schedule` sends the longest sorties first to the drone that is free earliest (LPT list
scheduling); :func:`schedule_assigned` keeps an assignment of sorties to drones and their order
(a router's); :func:`schedule_balanced` improves LPT for the last release when no drop has a
window. Either way a take-off is delayed when a drop's ``earliest_s`` asks for it, and a drop
whose ``latest_s`` cannot be met is taken out of its sortie and reported; the shortened sortie is
evaluated again.

Each drone is free first when its :class:`DroneStart` says: at 0 on a full battery unless the
fleet's state says otherwise (a re-plan), in which case its first sortie takes off when the drone
is ready if the measured battery covers that sortie, else a turnaround later on a fresh battery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from planner.fleet_state import VehicleStart
from planner.scenario import DroneType, Drop
from planner.sorties._balance import improve
from planner.sorties.evaluate import SortieEval

Reevaluate = Callable[[SortieEval, tuple[int, ...]], SortieEval | str]

#: Improving moves the balancing may make, per drone.
BALANCE_ROUNDS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneStart:
    """When one drone may first take off (seconds from the plan start).

    A first sortie drawing at most ``battery_wh`` takes off from ``ready_s`` on the battery in
    the drone; one drawing more (or any, without a measured battery: ``battery_wh`` None means a
    full one) needs a swap first when ``battery_wh`` is given: a turnaround after ``ready_s``.
    """

    ready_s: float = 0.0
    battery_wh: float | None = None

    def first_takeoff_s(self, ev: SortieEval, turnaround_s: float) -> float:
        """The earliest take-off of ``ev`` flown as this drone's first sortie."""
        if self.battery_wh is None or ev.energy_wh <= self.battery_wh:
            return self.ready_s
        return self.ready_s + turnaround_s


#: A drone at its depot at 0 with a full battery.
FRESH = DroneStart()


def drone_starts(starts: Sequence[VehicleStart], depot_id: str, drone: DroneType, count: int,
                 margin_fraction: float) -> tuple[DroneStart, ...]:
    """The starts of one group's ``count`` drones (``()`` when none of them has one).

    ``starts`` name vehicles as plans do (``depot/type/n``); the measured battery's share
    above the reserve, less the planning margin of the capacity, bounds a first sortie's
    energy, as the battery budget bounds every sortie's.
    """
    by_name = {s.vehicle: s for s in starts}
    names = [f"{depot_id}/{drone.id}/{n}" for n in range(1, count + 1)]
    if not any(name in by_name for name in names):
        return ()
    out = []
    for name in names:
        s = by_name.get(name)
        out.append(FRESH if s is None else DroneStart(
            ready_s=s.ready_s, battery_wh=s.battery_wh(drone, margin_fraction)))
    return tuple(out)


def _firsts(starts: Sequence[DroneStart] | None, count: int) -> Sequence[DroneStart]:
    return starts if starts else (FRESH,) * count


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
             reevaluate: Reevaluate, *, free_s: Sequence[float | None] | None = None,
             starts: Sequence[DroneStart] | None = None
             ) -> tuple[list[Scheduled], dict[int, str]]:
    """Schedule one depot's sorties of one drone type on its ``count`` drones.

    ``free_s`` gives when each drone is free to take off after the sorties it flies already
    (None, the default for all: it flies none yet and ``starts`` says when it is free, by
    default at 0). Returns the scheduled sorties and, for drops that had to be dropped, the
    reason.
    """
    free: list[float | None] = list(free_s) if free_s is not None else [None] * count
    firsts = _firsts(starts, count)
    turn = drone.turnaround_s

    def ready(n: int, ev: SortieEval) -> float:
        f = free[n]
        return firsts[n].first_takeoff_s(ev, turn) if f is None else f

    out: list[Scheduled] = []
    dropped: dict[int, str] = {}
    pending = sorted(sorties, key=lambda e: (-e.duration_s, e.drops))
    while pending:
        ev = pending.pop(0)
        best: tuple[float, int] | None = None
        for n in range(count):
            start = _start_for_windows(ev, drops, ready(n, ev))
            if not _late(ev, drops, start) and (best is None or start < best[0]):
                best = (start, n)
        if best is not None:
            start, n = best
            out.append(Scheduled(sortie=ev, drone_number=n + 1, start_s=start))
            free[n] = start + ev.duration_s + turn
            continue
        n = min(range(count), key=lambda i: ready(i, ev))
        late = set(_late(ev, drops, _start_for_windows(ev, drops, ready(n, ev))))
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
                      drops: Mapping[int, Drop], reevaluate: Reevaluate, *,
                      starts: Sequence[DroneStart] | None = None
                      ) -> tuple[list[Scheduled], dict[int, str]]:
    """Fly each drone's sorties in the order given, each as early as windows allow.

    ``per_drone[n]`` lists the sorties of drone ``n + 1`` in flying order; ``starts[n]`` says
    when it is first free (default: at 0 on a full battery). A sortie that would release a
    parcel after its window is set aside and then placed as :func:`schedule` does, after the
    drones' other sorties. Returns the scheduled sorties and the dropped drops' reasons.
    """
    firsts = _firsts(starts, len(per_drone))
    free: list[float | None] = [None] * len(per_drone)
    out: list[Scheduled] = []
    late: list[SortieEval] = []
    for n, seq in enumerate(per_drone):
        for ev in seq:
            f = free[n]
            ready = firsts[n].first_takeoff_s(ev, drone.turnaround_s) if f is None else f
            start = _start_for_windows(ev, drops, ready)
            if _late(ev, drops, start):
                late.append(ev)
                continue
            out.append(Scheduled(sortie=ev, drone_number=n + 1, start_s=start))
            free[n] = start + ev.duration_s + drone.turnaround_s
    if not late:
        return out, {}
    more, dropped = schedule(late, drone, len(per_drone), drops, reevaluate, free_s=free,
                             starts=starts)
    return out + more, dropped


def last_release_s(done: Sequence[Scheduled]) -> float:
    """Time of the last release of ``done`` (0 when empty)."""
    return max((s.start_s + s.sortie.release_offsets_s[-1] for s in done
                if s.sortie.release_offsets_s), default=0.0)


def schedule_balanced(sorties: Sequence[SortieEval], drone: DroneType, count: int, *,
                      starts: Sequence[DroneStart] | None = None) -> list[Scheduled]:
    """Spread sorties without time windows over ``count`` drones, the last release earliest.

    A drone busy with sorties of total duration plus turnarounds ``W`` releases its last parcel
    at ``W`` less what its last sortie flies after its last release and the turnaround, so each
    drone flies last the sortie that saves the most. Starting from LPT, a sortie is moved from
    the drone that finishes last to another, or swapped with one of another's, while that
    finish improves (at most ``BALANCE_ROUNDS`` moves per drone). A drone with a ``starts``
    entry begins that much later (a turnaround more when its measured battery covers none of
    the sorties); it flies first its longest sortie the battery covers, and the timeline is
    then exact.
    """
    if not sorties:
        return []
    turn = drone.turnaround_s
    firsts = _firsts(starts, count)
    work = [ev.duration_s + turn for ev in sorties]
    save = [ev.duration_s + turn - ev.release_offsets_s[-1] for ev in sorties]
    least_wh = min(ev.energy_wh for ev in sorties)
    offset = [0.0 if s is FRESH else s.ready_s + (
        turn if s.battery_wh is not None and least_wh > s.battery_wh else 0.0) for s in firsts]
    order = sorted(range(len(sorties)), key=lambda j: (-work[j], sorties[j].drops))
    jobs: list[list[int]] = [[] for _ in range(count)]
    load = list(offset)
    for j in order:
        n = min(range(count), key=lambda i: (load[i], i))
        jobs[n].append(j)
        load[n] += work[j]
    for _ in range(BALANCE_ROUNDS * count):
        if not improve(jobs, work, save, offset):
            break
    out: list[Scheduled] = []
    for n, js in enumerate(jobs):
        if not js:
            continue
        last = max(js, key=lambda j: (save[j], -j))
        seq = [*sorted((j for j in js if j != last), key=lambda j: -work[j]), last]
        wh = firsts[n].battery_wh
        if wh is not None and sorties[seq[0]].energy_wh > wh:
            fits = [j for j in seq[:-1] if sorties[j].energy_wh <= wh]
            if fits:
                seq = [fits[0], *(j for j in seq if j != fits[0])]
        t = firsts[n].first_takeoff_s(sorties[seq[0]], turn)
        for j in seq:
            out.append(Scheduled(sortie=sorties[j], drone_number=n + 1, start_s=t))
            t += work[j]
    return out
