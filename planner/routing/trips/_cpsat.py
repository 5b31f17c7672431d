"""CP-SAT model that selects trips covering every customer once and schedules them.

One Boolean per candidate trip, an exactly-one constraint per customer, and per drone class an
optional interval per trip (start within the trip's window, fixed size: occupancy plus
turnaround) in a cumulative of capacity ``count`` (a no-overlap for a single drone). For identical
drones the cumulative is exact: intervals that never overlap more than ``count`` at a time can be
given to ``count`` drones (interval graphs are perfect), which the caller does greedily. Clique
cuts on the trips' compulsory parts strengthen the linear relaxation.

Covering is elastic: a customer may be left out at a penalty above the cost of any full answer.
The empty selection is then feasible, which lets a single search worker start at once and
improve, where the hard covering can leave it without any answer on tightly scheduled fleets;
an optimum that leaves a customer out proves that no full answer exists.

Times are integer ticks (``scale`` per second) rounded so that every integer schedule is a valid
float schedule: windows shrink inward, sizes round up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

OnSolution = Callable[[float, float, float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """A candidate trip in integer ticks: start in ``[lo, hi]``, occupies ``size`` ticks.

    ``last_end`` is the time from departure to the end of the last service, in ticks.
    """

    klass: int
    customers: tuple[int, ...]
    lo: int
    hi: int
    size: int
    last_end: int


def to_column(klass: int, customers: tuple[int, ...], *, start_min_s: float,
              start_max_s: float, occupancy_s: float, back_s: float, turnaround_s: float,
              available_from_s: float, wait_allowed: bool, scale: int) -> Column | None:
    """Integer view of a trip, or None if rounding leaves it no valid start."""
    lo = math.ceil(start_min_s * scale - 1e-9)
    hi = math.floor(start_max_s * scale + 1e-9)
    turn = math.ceil(turnaround_s * scale - 1e-9)
    if lo <= hi:
        size = math.ceil(occupancy_s * scale - 1e-9)
    elif wait_allowed and hi >= available_from_s * scale - 1e-9:
        # Leave a little earlier and wait longer en route: same landing time.
        size = math.ceil((start_min_s + occupancy_s) * scale - 1e-9) - hi
        lo = hi
    else:
        return None
    last_end = size - math.floor(back_s * scale + 1e-9)
    return Column(klass=klass, customers=customers, lo=lo, hi=hi, size=size + turn,
                  last_end=max(0, last_end))


def clique_cuts(columns: Sequence[Column], counts: Sequence[int], *,
                max_terms: int = 500_000) -> list[tuple[list[int], int]]:
    """Maximal sets of trips of one class whose compulsory parts share an instant, beyond count.

    The compulsory part of a trip is ``[hi, lo + size)``: it is busy then wherever it starts.
    When the cuts hold more than ``max_terms`` terms in all, an evenly spread subset is kept
    (on large instances most trips have a compulsory part and the cliques grow huge).
    """
    cuts: list[tuple[list[int], int]] = []
    for klass, count in enumerate(counts):
        events: list[tuple[int, int, int]] = []
        for k, col in enumerate(columns):
            if col.klass == klass and col.hi < col.lo + col.size:
                events.append((col.hi, 1, k))
                events.append((col.lo + col.size, 0, k))
        events.sort()
        active: set[int] = set()
        grew = False
        for _, kind, k in events:
            if kind == 1:
                active.add(k)
                grew = True
                continue
            if grew and len(active) > count:
                cuts.append((sorted(active), count))
            active.discard(k)
            grew = False
    terms = sum(len(members) for members, _ in cuts)
    if terms > max_terms:
        step = math.ceil(terms / max_terms)
        cuts = cuts[::step]
    return cuts


@dataclass(frozen=True, slots=True, kw_only=True)
class CpResult:
    """Outcome of one CP-SAT run: status, chosen columns and their start ticks."""

    status: str
    chosen: tuple[int, ...]
    starts: tuple[int, ...]
    objective: float
    bound: float
    wall_s: float

    @property
    def has_solution(self) -> bool:
        """Whether a feasible selection was found."""
        return self.status in ("OPTIMAL", "FEASIBLE")

    @property
    def proven(self) -> bool:
        """Whether the selection is proven optimal for this model."""
        return self.status == "OPTIMAL"


class TripModel:
    """The selection and scheduling model over a fixed set of columns."""

    def __init__(self, columns: Sequence[Column], n_customers: int, counts: Sequence[int],
                 cliques: Sequence[tuple[Sequence[int], int]]) -> None:
        self.columns = list(columns)
        self.model = cp_model.CpModel()
        m = self.model
        self.x = [m.new_bool_var(f"x{k}") for k in range(len(columns))]
        self.start = [m.new_int_var(c.lo, c.hi, f"s{k}") for k, c in enumerate(columns)]
        self.miss = [m.new_bool_var(f"miss{c}") for c in range(n_customers)]
        covers: list[list[cp_model.IntVar]] = [[self.miss[c]] for c in range(n_customers)]
        per_class: list[list[cp_model.IntervalVar]] = [[] for _ in counts]
        for k, col in enumerate(columns):
            for c in col.customers:
                covers[c].append(self.x[k])
            per_class[col.klass].append(m.new_optional_fixed_size_interval_var(
                self.start[k], col.size, self.x[k], f"i{k}"))
        for lits in covers:
            m.add_exactly_one(lits)
        for klass, intervals in enumerate(per_class):
            if not intervals or len(intervals) <= counts[klass]:
                continue
            if counts[klass] == 1:
                m.add_no_overlap(intervals)
            else:
                m.add_cumulative(intervals, [1] * len(intervals), counts[klass])
        for members, count in cliques:
            m.add(sum(self.x[k] for k in members) <= count)
        self._makespan: cp_model.IntVar | None = None
        self._top = 0

    def linear(self, costs: Sequence[int]) -> tuple[cp_model.LinearExpr, int]:
        """The objective ``sum(costs[k] * x[k])`` and its most for any full answer."""
        top = sum(sorted(costs)[-len(self.miss):]) if costs and self.miss else 0
        return cp_model.LinearExpr.weighted_sum(self.x, list(costs)), max(0, top)

    def makespan(self) -> tuple[cp_model.IntVar, int]:
        """A variable at least the end of every flown trip's last service (ticks), its most."""
        if self._makespan is None:
            top = max((c.hi + c.last_end for c in self.columns), default=0)
            mk = self.model.new_int_var(0, top, "makespan")
            self._top = top
            for k, col in enumerate(self.columns):
                self.model.add(mk >= self.start[k] + col.last_end).only_enforce_if(self.x[k])
            self._makespan = mk
        return self._makespan, self._top

    def solve(self, objective: cp_model.LinearExpr, *, top: int, time_limit_s: float,
              seed: int, hint: Sequence[int] = (), hint_starts: Sequence[int] = (),
              on_solution: OnSolution | None = None, diversify: bool = False) -> CpResult:
        """Minimise ``objective`` (at most ``top`` for any full answer) with one worker.

        A left-out customer costs ``top + 1``; an answer that leaves one out is not returned,
        and an optimal one that does is reported as ``INFEASIBLE``. With ``diversify`` the one
        worker interleaves CP-SAT's subsolvers (local search among them), still
        deterministically; it helps find a first answer on tightly scheduled fleets.
        """
        m = self.model
        m.clear_hints()  # type: ignore[no-untyped-call]
        if hint:
            chosen = set(hint)
            starts = dict(zip(hint, hint_starts, strict=False))
            for k, var in enumerate(self.x):
                m.add_hint(var, k in chosen)
                if k in starts:
                    m.add_hint(self.start[k], starts[k])
            for var in self.miss:
                m.add_hint(var, False)
        penalty = top + 1
        m.minimize(objective + penalty * sum(self.miss))
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = max(0.05, time_limit_s)
        p.num_workers = 1
        p.random_seed = seed
        p.linearization_level = 2
        p.interleave_search = diversify
        callback = _Callback(on_solution, penalty) if on_solution is not None else None
        status = solver.solve(m, callback)
        name = solver.status_name(status)
        solved = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        if solved and any(solver.boolean_value(v) for v in self.miss):
            name = "INFEASIBLE" if status == cp_model.OPTIMAL else "UNKNOWN"
            solved = False
        if not solved:
            return CpResult(status=name, chosen=(), starts=(), objective=math.inf,
                            bound=math.nan, wall_s=solver.wall_time)
        chosen_k = tuple(k for k, var in enumerate(self.x) if solver.boolean_value(var))
        return CpResult(status=name, chosen=chosen_k,
                        starts=tuple(int(solver.value(self.start[k])) for k in chosen_k),
                        objective=solver.objective_value, bound=solver.best_objective_bound,
                        wall_s=solver.wall_time)

    def cap(self, expr: cp_model.LinearExpr, value: int) -> None:
        """Constrain ``expr <= value`` and every customer served (for the secondary search)."""
        self.model.add(expr <= value)
        for var in self.miss:
            self.model.add(var == 0)


class _Callback(cp_model.CpSolverSolutionCallback):
    """Reports every improving full answer as ``(objective, bound, solver seconds)``."""

    def __init__(self, report: OnSolution, penalty: int) -> None:
        super().__init__()
        self._report = report
        self._penalty = penalty

    def on_solution_callback(self) -> None:
        if self.objective_value < self._penalty:
            self._report(self.objective_value, self.best_objective_bound, self.wall_time)
