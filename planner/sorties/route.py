"""Sorties from the routing core: search with a battery proxy, then check and repair exactly.

The servable drops become a :class:`~planner.routing.RoutingProblem` (``sorties._problem``)
that PyVRP solves; the battery, which depends on the payload on board, stands in as a calibrated
energy-like dimension. Every routed trip is then evaluated exactly along the real legs and
repaired where it fails (:mod:`planner.sorties._exact`: other order, split, drop moved to a group
that can fly it), an exact local search merges, moves and swaps drops between sorties
(:mod:`planner.sorties._polish`), and the sorties are scheduled exactly on their drones (the
router's assignment, LPT, or - without time windows - LPT balanced for the last release; with
windows, under the makespan objective, whole sorties then move between a group's drones and
change places, :mod:`planner.sorties._rebalance`). Under the makespan objective whole sorties
also move from the group (depot and drone type) that finishes last to another that can fly
them (:mod:`planner.sorties._shift`). On
problems of up to ``SECOND_ROUND_MAX_CLIENTS`` drops a second round re-solves with each group's
proxy tightened by the median excess of its failed trips (or loosened when few failed). Small
plans go first to exact trip selection (:mod:`planner.sorties._trips`), whose proven optimum needs
no second opinion.

The search is deterministic for a seed: PyVRP gets an iteration budget derived from the time
limit and the problem size (sized to end well within the time limit on the reference machine,
which stays a hard cap), the local search a budget of exact evaluations (with a clock, the end
of the time limit also stops it).

Every candidate comes back as a :class:`Construction`; :func:`best_construction` picks the one
that serves the most drops, then is best on the objective.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from planner.errors import RoutingInfeasibleError
from planner.routing import Objective, solve
from planner.routing.check import as_raw
from planner.sorties._exact import Fleet, RoutedTrips, exact_fleet
from planner.sorties._groups import reevaluator as reevaluator
from planner.sorties._groups import schedule_group
from planner.sorties._polish import polish
from planner.sorties._problem import (
    Built,
    Timing,
    build_problem,
    proxy_limits,
    timing,
)
from planner.sorties._problem import Group as Group
from planner.sorties._problem import RouteInput as RouteInput
from planner.sorties._shift import shift
from planner.sorties._trips import is_small, solve_small
from planner.sorties.build import assign_groups, build_sorties
from planner.sorties.schedule import (
    Scheduled,
    last_release_s,
    schedule,
    windows_fit,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

#: PyVRP iterations per second of budget for a problem of ``n`` clients is about
#: ``ITERATION_RATE / (n + ITERATION_OFFSET)`` on the reference machine (benchmarks/README.md);
#: the deterministic iteration budget is that times the time limit times ``ITERATION_SHARE``,
#: so that the time limit rarely ends a search first.
ITERATION_RATE = 1.2e6
ITERATION_OFFSET = 200
ITERATION_SHARE = 0.4
#: Factor on the calibrated battery proxy of the first round.
FIRST_FACTOR = 1.0
#: Share of the routing budget the exact trip solver gets on small plans.
TRIPS_SHARE = 0.5
#: Shares of the PyVRP budget of the first and the second round.
ROUND_SHARES = (0.6, 0.25)
#: Factor on every group's limit in the second round when no trip of the first failed.
LOOSEN = 1.15
#: Safety factor on a tightened limit.
TIGHTEN_MARGIN = 0.98
#: A second round, with the proxy tightened where more than this share of the first round's
#: trips failed exactly (else loosened), runs on problems of at most
#: ``SECOND_ROUND_MAX_CLIENTS`` clients; larger ones were measured to come back with the same
#: repairs (the proxy's error there is which parcels ride together, not its level).
SECOND_ROUND_REJECTED = 0.05
SECOND_ROUND_MAX_CLIENTS = 300
#: Exact evaluations the local search after each round may make per second of its budget.
POLISH_EVALUATIONS_PER_S = 150.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Construction:
    """Scheduled sorties from one method, and the servable drops it could not serve.

    ``method`` is ``"simple"`` (farthest seed, cheapest insertion), ``"routing"`` (PyVRP with
    exact repair) or ``"trips"`` (exact trip selection); ``notes`` holds figures about how it
    was made (rounds, repaired trips, proven optimality).
    """

    method: str
    scheduled: tuple[Scheduled, ...]
    unserved: Mapping[int, str]
    notes: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unserved", MappingProxyType(dict(self.unserved)))
        object.__setattr__(self, "notes", MappingProxyType(dict(self.notes)))

    @property
    def served(self) -> int:
        """Number of drops served."""
        return sum(len(s.sortie.drops) for s in self.scheduled)

    def figures(self) -> dict[str, float]:
        """Served drops, sorties, makespan (last release), energy and distance."""
        evs = [s.sortie for s in self.scheduled]
        return {"served": float(self.served), "sorties": float(len(evs)),
                "makespan_s": last_release_s(self.scheduled),
                "energy_wh": sum(e.energy_wh for e in evs),
                "distance_m": sum(e.distance_m for e in evs)}

    def key(self, objective: Objective) -> tuple[float, ...]:
        """Lexicographic quality under ``objective`` (smaller is better), most served first."""
        f = self.figures()
        if objective == "distance":
            main: tuple[float, ...] = (f["distance_m"], f["energy_wh"])
        elif objective == "sorties":
            main = (f["sorties"], f["distance_m"])
        else:
            main = (f["makespan_s"], f["energy_wh"])
        return (-f["served"], *main)


def best_construction(candidates: Sequence[Construction],
                      objective: Objective) -> Construction:
    """The candidate serving the most drops, then best on ``objective`` (first on ties)."""
    if not candidates:
        raise ValueError("Expected at least one construction")
    return min(candidates, key=lambda c: c.key(objective))


def iteration_budget(time_limit_s: float, n_clients: int) -> int:
    """Deterministic PyVRP iteration budget for ``time_limit_s`` and ``n_clients``.

    Examples
    --------
    >>> iteration_budget(30.0, 50)
    57600
    """
    rate = ITERATION_RATE / (max(n_clients, 1) + ITERATION_OFFSET)
    return max(100, math.floor(rate * time_limit_s * ITERATION_SHARE))


def route_sorties(inp: RouteInput, *, seed: int, time_limit_s: float,
                  progress: Progress | None = None,
                  clock: Callable[[], float] | None = None) -> list[Construction]:
    """Every routed construction of the servable drops of ``inp``.

    Parameters
    ----------
    inp
        Drops with their solo options, groups of drones, legs and the objective.
    seed
        Seed of every random choice of the search.
    time_limit_s
        Budget of the search: shares of it bound the trip solver and each PyVRP round, and
        size the deterministic iteration and evaluation budgets; the exact checks, local search
        and scheduling come on top (a few seconds for a thousand drops).
    progress
        Called as ``progress("routing", percent, 100)`` as the search advances.
    clock
        Monotonic clock in seconds; without it the solvers time themselves.

    Returns
    -------
    list of Construction
        One per answer found (none if the routing core found nothing), each exactly feasible.
    """
    if not inp.groups or not inp.options:
        return []
    tm = timing(inp)
    out: list[Construction] = []
    share_left = 1.0
    if is_small(inp, tm.drop_points):
        tick(progress, 0.0)
        timely = tuple(p for p in tm.drop_points
                       if any(windows_fit(o.solo, inp.drops) for o in inp.options[p]))
        late = tuple(p for p in tm.drop_points if p not in timely)
        plan = solve_small(inp, timely, seed=seed, time_limit_s=time_limit_s * TRIPS_SHARE,
                           clock=clock) if timely else None
        share_left -= TRIPS_SHARE
        if plan is not None:
            merged = _merge_routes([(t.drone_class, t.drone,
                                     [[timely[c] for c in t.customers]])
                                    for t in plan.trips])
            fleet, rep, _ = exact_fleet(inp, merged, late)
            out.append(_scheduled(inp, "trips", fleet, {
                "optimal": float(plan.optimal), "repaired_trips": float(rep.rejected)}))
            if plan.optimal and not rep.rejected:
                tick(progress, 1.0)
                return out
    out += _pyvrp_rounds(inp, tm, seed=seed, time_limit_s=time_limit_s * share_left,
                         progress=progress, clock=clock, offset=1.0 - share_left)
    tick(progress, 1.0)
    return out


def tick(progress: Progress | None, done: float) -> None:
    """Report the routing stage ``done`` (0-1) as a percentage."""
    if progress is not None:
        progress("routing", min(100, round(100 * done)), 100)


def _merge_routes(routed: Sequence[tuple[int, int, list[list[int]]]]) -> RoutedTrips:
    """Trips of the same drone gathered in order."""
    merged: dict[tuple[int, int], list[list[int]]] = {}
    for k, n, trips in routed:
        merged.setdefault((k, n), []).extend(trips)
    return [(k, n, trips) for (k, n), trips in merged.items()]


def _pyvrp_rounds(inp: RouteInput, tm: Timing, *, seed: int, time_limit_s: float,
                  progress: Progress | None, clock: Callable[[], float] | None,
                  offset: float) -> list[Construction]:
    out: list[Construction] = []
    deadline_s = clock() + time_limit_s if clock is not None else math.inf
    limits = proxy_limits(inp, tm)
    factors = [FIRST_FACTOR] * len(inp.groups)
    done = offset
    for rnd, share in enumerate(ROUND_SHARES, start=1):
        built = build_problem(inp, tm, limits.scaled(factors))
        if not built.problem.clients:
            break
        budget_s = time_limit_s * share
        span = (1.0 - offset) * share

        def report(done_s: float, total_s: float, best: float, base: float = done,
                   span: float = span) -> None:
            tick(progress, base + span * min(1.0, done_s / max(total_s, 1e-9)))

        try:
            answer = solve(built.problem, seed=seed + 1009 * (rnd - 1), time_limit_s=budget_s,
                           progress=report, clock=clock,
                           max_iterations=iteration_budget(budget_s, len(built.problem.clients)))
        except RoutingInfeasibleError as exc:
            log.info("routing round %d found no answer: %s", rnd, exc)
            break
        done += span
        routed = _to_points(built, as_raw(answer))
        fleet, rep, checkers = exact_fleet(inp, routed, built.left_out)
        log.info("routing round %d (%s layout, factors %s): %d trips, %d repaired, %d drops "
                 "moved, over-budget ratios %s", rnd, built.layout,
                 [round(f, 3) for f in factors], rep.trips, rep.rejected, rep.moved,
                 {k: sorted(round(r, 3) for r in v)[-5:] for k, v in rep.over.items()})
        notes = {"round": float(rnd), "routed_trips": float(rep.trips),
                 "repaired_trips": float(rep.rejected), "moved_drops": float(rep.moved),
                 "left_out_drops": float(len(built.left_out))}
        out.append(_scheduled(inp, "routing", fleet, notes))
        better, moves = polish(inp, tm, fleet, checkers,
                               max(1, math.floor(budget_s * POLISH_EVALUATIONS_PER_S)),
                               clock=clock, deadline_s=deadline_s)
        log.info("routing round %d polish: %d moves", rnd, moves)
        if moves:
            notes = {**notes, "polish_moves": moves}
            out.append(_scheduled(inp, "routing", better, notes))
        if inp.objective == "makespan_then_energy":
            shifted, n_shifted = shift(inp, better, checkers)
            log.info("routing round %d: %d sorties moved between groups", rnd, n_shifted)
            if n_shifted:
                out.append(_scheduled(inp, "routing", shifted,
                                      {**notes, "shifted_sorties": n_shifted}))
        if len(built.problem.clients) > SECOND_ROUND_MAX_CLIENTS:
            break
        tighten = rep.rejected > SECOND_ROUND_REJECTED * max(1, rep.trips)
        factors = _adjust(factors, rep.over if tighten else {})
    return out


def _adjust(factors: Sequence[float], over: Mapping[int, Sequence[float]]) -> list[float]:
    """Tighten each group whose trips broke the battery by their median excess, else loosen."""
    if not over:
        return [f * LOOSEN for f in factors]
    return [f * TIGHTEN_MARGIN / float(np.median(over[k])) if k in over else f
            for k, f in enumerate(factors)]


def _to_points(built: Built, raw: Sequence[tuple[int, int, Sequence[Sequence[int]]]]
               ) -> RoutedTrips:
    """Routing clients back to drop points."""
    return [(k, n, [[built.client_points[c] for c in trip] for trip in trips])
            for k, n, trips in raw]


def _scheduled(inp: RouteInput, method: str, fleet: Fleet,
               notes: dict[str, float]) -> Construction:
    """Schedule every group's drones exactly (:func:`planner.sorties._groups.schedule_group`)."""
    done: list[Scheduled] = []
    dropped: dict[int, str] = {}
    for k, g in enumerate(inp.groups):
        per_drone = [fleet.get((k, n), []) for n in range(g.count)]
        if not any(per_drone):
            continue
        ok, late = schedule_group(inp, g, per_drone)
        done += ok
        dropped.update(late)
    return Construction(method=method, scheduled=tuple(done), unserved=dropped, notes=notes)


def simple_construction(inp: RouteInput, progress: Progress | None = None) -> Construction:
    """The simple construction: balanced groups, farthest seed, cheapest insertion, LPT."""
    drones_at = {g.key: g.count for g in inp.groups}
    opts = {p: list(o) for p, o in inp.options.items() if o}
    groups = assign_groups(opts, drones_at)
    by_key = {g.key: g for g in inp.groups}
    done: list[Scheduled] = []
    dropped: dict[int, str] = {}
    for key, members in sorted(groups.items()):
        g = by_key[key]
        evals = build_sorties(inp.catalog, g.depot, g.drone, members, inp.drops,
                              inp.dist_m, inp.margin_fraction, progress)
        ok, late = schedule(evals, g.drone, g.count, inp.drops, reevaluator(inp, g),
                            starts=g.starts or None)
        done += ok
        dropped.update(late)
    return Construction(method="simple", scheduled=tuple(done), unserved=dropped)
