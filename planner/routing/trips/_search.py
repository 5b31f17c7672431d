"""The stages of :func:`planner.routing.trips.solve_trips`: enumerate, bound, search, schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from planner.routing.trips._cpsat import Column, TripModel, clique_cuts, to_column
from planner.routing.trips._enum import Candidate, ClassData, enumerate_trips
from planner.routing.trips._lp import relax
from planner.routing.trips._plan import build_plan
from planner.routing.trips.types import (
    DroneClass,
    TripParams,
    TripPlan,
    TripProblem,
    TripProgress,
)

#: Below this many trips the full model is searched at once.
SMALL = 400
#: Size of the first pool of trips of least reduced cost (at least 12 per customer).
FIRST_POOL = 300
#: Share of the time left a round over a pool that is not yet complete may use.
ROUND_SHARE = 0.35
#: Share of its time a single search may spend before retrying diversified if it found nothing.
FIRST_TRY_SHARE = 0.5
#: Terms of the clique cuts given to the linear relaxation.
LP_CLIQUE_TERMS = 1_000_000
#: Share of the time left the primary objective may use when a secondary one follows.
PRIMARY_SHARE = 0.6

Report = Callable[[TripProgress], None]
_Report = Callable[[str, float | None, float | None, float], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the search produced: a plan, or the unservable customers, or why there is none."""

    plan: TripPlan | None
    unservable: tuple[int, ...]
    status: str


class _Budget:
    """Time left: by the caller's clock when there is one, else by CP-SAT's own time."""

    def __init__(self, limit_s: float, clock: Callable[[], float] | None) -> None:
        self.limit_s = limit_s
        self.clock = clock
        self.t0 = clock() if clock is not None else 0.0
        self.used_s = 0.0

    def left_s(self) -> float:
        if self.clock is not None:
            return max(0.0, self.limit_s - (self.clock() - self.t0))
        return max(0.0, self.limit_s - self.used_s)

    def charge(self, solver_s: float) -> None:
        self.used_s += solver_s


@dataclass(slots=True)
class _State:
    """Best selection so far (column indexes into the full list) and what is proven."""

    chosen: tuple[int, ...] = ()
    starts: tuple[int, ...] = ()
    proven: bool = False
    exact_pool: bool = True
    lower: float = -math.inf
    status: str = "UNKNOWN"


def search(problem: TripProblem, params: TripParams, *, progress: Report | None,
           clock: Callable[[], float] | None) -> Outcome:
    """Run every stage and return the outcome."""
    budget = _Budget(params.time_limit_s, clock)
    keep_last = problem.objective == "makespan_then_energy"
    cands: list[Candidate] = []
    restricted = False
    for k, dc in enumerate(problem.fleet):
        enum = enumerate_trips(k, _class_data(problem, dc), wait_allowed=problem.wait_allowed,
                               triangle=problem.triangle_inequality, keep_last=keep_last,
                               max_labels=params.max_labels, neighbours=params.neighbours)
        cands.extend(enum.candidates)
        restricted = restricted or enum.restricted
    n = len(problem.customers)
    caps = _start_caps(problem, cands)
    cols: list[Column] = []
    col_cands: list[Candidate] = []
    for cand in cands:
        dc = problem.fleet[cand.klass]
        col = to_column(cand.klass, cand.customers, start_min_s=cand.start_min_s,
                        start_max_s=min(cand.start_max_s, caps[cand.klass]),
                        occupancy_s=cand.occupancy_s,
                        back_s=cand.back_s, turnaround_s=dc.turnaround_s,
                        available_from_s=dc.available_from_s,
                        wait_allowed=problem.wait_allowed, scale=params.time_scale)
        if col is not None:
            cols.append(col)
            col_cands.append(cand)
    covered = {c for col in cols for c in col.customers}
    unservable = tuple(c for c in range(n) if c not in covered)
    if unservable:
        return Outcome(plan=None, unservable=unservable, status="unservable customers")
    report = _reporter(progress, len(cands), len(cols))
    report("enumerate", None, None, 0.0)
    state = _select(problem, params, cols, col_cands, budget, report)
    if not state.chosen:
        if state.status == "INFEASIBLE" and state.exact_pool and not restricted:
            why = "no set of trips serving every customer fits on the drones in time"
        else:
            why = f"no answer found within the time limit (search status {state.status})"
        return Outcome(plan=None, unservable=(), status=why)
    # with pickups the enumeration's dominance is not exact (see _enum): no proof is claimed
    pickups = any(c.pickup_kg > 0 for c in problem.customers)
    plan = build_plan(problem, [col_cands[k] for k in state.chosen],
                      [cols[k] for k in state.chosen], state.starts,
                      scale=params.time_scale, optimal=state.proven and state.exact_pool
                      and not restricted and not pickups, lower_bound=state.lower,
                      candidates=len(cands), columns=len(cols), restricted=restricted,
                      status=state.status)
    return Outcome(plan=plan, unservable=(), status=state.status)


def _start_caps(problem: TripProblem, cands: Sequence[Candidate]) -> list[float]:
    """A departure time per class that no trip of some optimal answer needs to exceed.

    Shifting every drone's trips as early as they can go keeps an answer feasible and leaves
    each trip starting at its own earliest departure (at most the latest ready time) or right
    after the drone's previous trip; an answer has at most one trip per customer.
    """
    n = len(problem.customers)
    ready = max((c.ready_s for c in problem.customers), default=0.0)
    caps = []
    for k, dc in enumerate(problem.fleet):
        busy = sorted(c.occupancy_s + dc.turnaround_s for c in cands if c.klass == k)
        caps.append(max(dc.available_from_s, ready) + sum(busy[-n:]) if busy else 0.0)
    return caps


def _class_data(problem: TripProblem, dc: DroneClass) -> ClassData:
    """Arc tables of one class over local nodes: 0 its depot, ``c + 1`` customer ``c``."""
    nodes = [dc.depot_node, *(c.node for c in problem.customers)]
    time_s = [[0.0 if i == j else float(dc.arc_time_s(i, j)) for j in nodes] for i in nodes]
    dist_m = [[0.0 if i == j else float(dc.arc_distance_m(i, j)) for j in nodes] for i in nodes]
    fn = dc.arc_energy_wh

    def energy(i: int, j: int, load_kg: float) -> float:
        return float(fn(nodes[i], nodes[j], load_kg))

    n = len(problem.customers)
    return ClassData(time_s=time_s, distance_m=dist_m, energy_wh=energy,
                     demand_kg=[c.demand_kg for c in problem.customers],
                     pickup_kg=[c.pickup_kg for c in problem.customers],
                     ready_s=[c.ready_s for c in problem.customers],
                     due_s=[c.due_s for c in problem.customers],
                     service_s=[c.service_s for c in problem.customers],
                     capacity_kg=dc.capacity_kg, energy_limit_wh=dc.energy_limit_wh,
                     max_stops=dc.max_stops if dc.max_stops is not None else max(1, n),
                     available_from_s=dc.available_from_s, return_by_s=dc.return_by_s)


def _reporter(progress: Report | None, n_cands: int, n_cols: int) -> _Report:
    def report(stage: str, objective: float | None, bound: float | None, solver_s: float) -> None:
        if progress is not None:
            progress(TripProgress(stage=stage, candidates=n_cands, columns=n_cols,
                                  objective=objective, bound=bound, solver_s=solver_s))
    return report


def _costs(cands: Sequence[Candidate], kind: str) -> list[float]:
    if kind == "distance":
        return [c.distance_m for c in cands]
    if kind == "energy":
        return [c.energy_wh for c in cands]
    return [1.0 for _ in cands]


def _scale(costs: Sequence[float], n: int) -> int:
    """Integer scale of a linear objective: total stays below about 1e7 units, at most 1e6."""
    top = sum(sorted(costs)[-max(1, n):]) if costs else 1.0
    if top <= 0:
        return 1
    return int(10 ** max(0, min(6, math.floor(math.log10(1e7 / top)))))


def _select(problem: TripProblem, params: TripParams, cols: list[Column],
            cands: list[Candidate], budget: _Budget, report: _Report) -> _State:
    """Choose and schedule columns for the primary, then the secondary objective."""
    objective = problem.objective
    n = len(problem.customers)
    counts = [dc.count for dc in problem.fleet]
    primary = {"distance": "distance", "energy": "energy", "sorties": "sorties"}.get(objective)
    secondary = {"sorties": "distance", "makespan_then_energy": "energy"}.get(objective)
    state = _State()
    pool = list(range(len(cols)))
    if len(cols) > SMALL:
        rank = _costs(cands, primary or "energy")
        rel = relax(rank, [c.customers for c in cols], n,
                    clique_cuts(cols, counts, max_terms=LP_CLIQUE_TERMS))
        if rel is not None and primary is not None:
            state.lower = rel.bound
            pool = _rounds(problem, params, cols, rank, rel.reduced_cost, state, budget, report)
            if secondary is None or not state.chosen:
                return state
            _main(problem, params, cols, cands, pool, primary, secondary, state, budget, report,
                  primary_done=True)
            return state
        if len(pool) > params.max_columns:
            order = (np.argsort(rel.reduced_cost, kind="stable") if rel is not None
                     else np.argsort(np.asarray(rank), kind="stable"))
            pool = sorted(int(k) for k in order[:params.max_columns])
            state.exact_pool = False
    _main(problem, params, cols, cands, pool, primary, secondary, state, budget, report,
          primary_done=False)
    return state


def _rounds(problem: TripProblem, params: TripParams, cols: list[Column], rank: Sequence[float],
            rc: np.ndarray, state: _State, budget: _Budget, report: _Report) -> list[int]:
    """Search growing pools of the trips of least reduced cost until one proves the optimum.

    A pool holds the ``size`` trips of least reduced cost (every single-stop trip in the first)
    and the best answer so far. Once an answer of cost ``ub`` is known, a trip whose reduced
    cost exceeds ``ub - bound`` cannot be in a better one, so the pool never needs more than
    those; an optimum proven over a pool that holds all of them is the optimum. Each round but
    the last gets ``ROUND_SHARE`` of the time left. Returns the last pool.
    """
    n = len(problem.customers)
    counts = [dc.count for dc in problem.fleet]
    scale = _scale(rank, n)
    order = [int(k) for k in np.argsort(rc, kind="stable")]
    sorted_rc = rc[order]
    singles = {k for k, c in enumerate(cols) if len(c.customers) == 1}
    size = max(FIRST_POOL, 12 * n)
    first = True
    pool: list[int] = []
    while True:
        eligible = len(order)
        tol = 0.0
        if state.chosen:
            ub = sum(rank[k] for k in state.chosen)
            tol = (n + 1) / scale + 1e-9 * abs(ub)
            eligible = int(np.searchsorted(sorted_rc, ub - state.lower + tol, side="right"))
        complete = size >= eligible
        take = order[:min(size, eligible)]
        pool = sorted(set(take) | set(state.chosen) | (singles if first else set()))
        if len(pool) > params.max_columns:
            pool = sorted(set(order[:params.max_columns]) | set(state.chosen))
            complete = False
            state.exact_pool = False
        sub_cols = [cols[k] for k in pool]
        local = {k: i for i, k in enumerate(pool)}
        model = TripModel(sub_cols, n, counts, clique_cuts(sub_cols, counts))
        expr, top = model.linear([round(rank[k] * scale) for k in pool])
        stage = "first" if first else "search"

        def on_solution(obj: float, bound: float, wall: float, stage: str = stage) -> None:
            report(stage, obj / scale, max(bound / scale, state.lower), wall)

        share = 1.0 if complete else ROUND_SHARE
        res = model.solve(expr, top=top, time_limit_s=budget.left_s() * share, seed=params.seed,
                          hint=[local[k] for k in state.chosen], hint_starts=state.starts,
                          on_solution=on_solution, diversify=not first and not state.chosen)
        budget.charge(res.wall_s)
        if res.has_solution:
            state.chosen = tuple(pool[i] for i in res.chosen)
            state.starts = res.starts
            state.status = res.status
        elif not state.chosen:
            state.status = res.status
        if res.proven and state.chosen:
            ub = sum(rank[k] for k in state.chosen)
            limit = ub - state.lower + (n + 1) / scale + 1e-9 * abs(ub)
            in_pool = set(pool)
            if all(k in in_pool for k in order[:int(np.searchsorted(sorted_rc, limit,
                                                                      side="right"))]):
                state.proven = True
                state.lower = max(state.lower, ub)
                return pool
        if complete or budget.left_s() <= 0:
            return pool
        first = False
        size *= 4


def _main(problem: TripProblem, params: TripParams, cols: list[Column], cands: list[Candidate],
          pool: list[int], primary: str | None, secondary: str | None, state: _State,
          budget: _Budget, report: _Report, *, primary_done: bool) -> None:
    """The search over ``pool`` (unless done), then the secondary objective under its value."""
    n = len(problem.customers)
    counts = [dc.count for dc in problem.fleet]
    sub_cols = [cols[k] for k in pool]
    local = {k: i for i, k in enumerate(pool)}
    model = TripModel(sub_cols, n, counts, clique_cuts(sub_cols, counts))
    if primary is not None:
        scale = _scale(_costs(cands, primary), n)
        prim = [round(c * scale) for c in _costs([cands[k] for k in pool], primary)]
        expr, top = model.linear(prim)
        unit = 1.0 / scale
    else:
        prim = []
        expr, top = model.makespan()
        unit = 1.0 / params.time_scale

    def on_primary(obj: float, bound: float, wall: float) -> None:
        report("search", obj * unit, max(bound * unit, state.lower), wall)

    if not primary_done:
        share = PRIMARY_SHARE if secondary is not None else 1.0
        left = budget.left_s() * share
        res = model.solve(expr, top=top, time_limit_s=left * FIRST_TRY_SHARE, seed=params.seed,
                          hint=[local[k] for k in state.chosen],
                          hint_starts=state.starts, on_solution=on_primary)
        budget.charge(res.wall_s)
        if not res.proven and res.status != "INFEASIBLE" and budget.left_s() > 0:
            # Go on from the answer found, or look for one with the diversified search.
            more = model.solve(expr, top=top, time_limit_s=budget.left_s() * share,
                               seed=params.seed, hint=res.chosen, hint_starts=res.starts,
                               on_solution=on_primary, diversify=not res.has_solution)
            budget.charge(more.wall_s)
            if not res.has_solution or (more.has_solution and more.objective <= res.objective):
                res = more
        if res.has_solution:
            state.chosen = tuple(pool[i] for i in res.chosen)
            state.starts = res.starts
            state.proven = res.proven
            state.status = res.status
            if state.exact_pool:
                state.lower = max(state.lower, res.bound * unit)
        elif not state.chosen:
            state.status = res.status
    if secondary is None or not state.chosen or budget.left_s() <= 0:
        if secondary is not None:
            state.proven = False
        return
    if primary is not None:
        cap = sum(prim[local[k]] for k in state.chosen)
    else:
        cap = max(s + cols[k].last_end for k, s in zip(state.chosen, state.starts, strict=True))
    model.cap(expr, cap)
    scale2 = _scale(_costs(cands, secondary), n)
    sec = [round(c * scale2) for c in _costs([cands[k] for k in pool], secondary)]

    def on_secondary(obj: float, bound: float, wall: float) -> None:
        report("secondary", obj / scale2, bound / scale2, wall)

    expr2, top2 = model.linear(sec)
    res2 = model.solve(expr2, top=top2, time_limit_s=budget.left_s(), seed=params.seed,
                       hint=[local[k] for k in state.chosen], hint_starts=state.starts,
                       on_solution=on_secondary)
    budget.charge(res2.wall_s)
    if res2.has_solution:
        state.chosen = tuple(pool[i] for i in res2.chosen)
        state.starts = res2.starts
    state.proven = state.proven and res2.proven
