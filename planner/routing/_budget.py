"""Search budget: a time limit and an optional iteration limit shared by successive phases.

The planner has no clock of its own: with ``clock`` the limit is checked against it, without one
PyVRP's own run-time criterion enforces it. With ``max_iterations`` every phase gets a fixed
share of the iterations, so that a run the iteration limit ends is a function of the problem and
the seed alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyvrp.stop

Progress = Callable[[float, float, float], None]
Clock = Callable[[], float]

INT_MAX = 2**63 - 1


class Budget:
    """Time and iterations left for the search, and the progress callback."""

    def __init__(self, *, time_limit_s: float, max_iterations: int | None,
                 clock: Clock | None, progress: Progress | None) -> None:
        if not time_limit_s > 0:
            raise ValueError(f"Expected time_limit_s > 0, got {time_limit_s}")
        if max_iterations is not None and max_iterations < 1:
            raise ValueError(f"Expected max_iterations >= 1 or None, got {max_iterations}")
        self.total_s = float(time_limit_s)
        self.max_iterations = max_iterations
        self.clock = clock
        self.progress = progress
        self._start = clock() if clock is not None else 0.0
        self._used_s = 0.0
        self.iterations = 0

    def elapsed_s(self) -> float:
        """Seconds used so far (by the clock, or as PyVRP measured its runs)."""
        return self.clock() - self._start if self.clock is not None else self._used_s

    def left_s(self) -> float:
        """Seconds left."""
        return max(0.0, self.total_s - self.elapsed_s())

    def iterations_left(self) -> int | None:
        """Iterations left, or None without an iteration limit."""
        if self.max_iterations is None:
            return None
        return max(0, self.max_iterations - self.iterations)

    def exhausted(self) -> bool:
        """Whether nothing is left."""
        left = self.iterations_left()
        return self.left_s() <= 0 or left == 0

    def stop(self, share: float, *, scale: float, first_feasible: bool) -> PhaseStop:
        """A stopping criterion for a phase given ``share`` of what is left."""
        left = self.iterations_left()
        iters = None if left is None else max(1, math.floor(left * share))
        return PhaseStop(self, runtime_s=self.left_s() * share, max_iterations=iters,
                         scale=scale, first_feasible=first_feasible)

    def charge(self, runtime_s: float, iterations: int) -> None:
        """Account for a finished phase (PyVRP's own runtime when there is no clock)."""
        self._used_s += runtime_s
        self.iterations += iterations


class PhaseStop:
    """PyVRP stopping criterion of one phase; reports progress on every new best cost."""

    def __init__(self, budget: Budget, *, runtime_s: float, max_iterations: int | None,
                 scale: float, first_feasible: bool) -> None:
        self._budget = budget
        self._runtime_s = runtime_s
        self._max_iterations = max_iterations
        self._scale = scale
        self._first_feasible = first_feasible
        self._offset_s = budget.elapsed_s()
        self._start = budget.clock() if budget.clock is not None else 0.0
        self._timer = None if budget.clock is not None else pyvrp.stop.MaxRuntime(runtime_s)
        self._best = INT_MAX
        self.calls = 0

    def __call__(self, best_cost: int) -> bool:
        self.calls += 1
        clock = self._budget.clock
        elapsed = clock() - self._start if clock is not None else 0.0
        if best_cost < self._best:
            self._best = best_cost
            if self._budget.progress is not None:
                self._budget.progress(min(self._offset_s + elapsed, self._budget.total_s),
                                      self._budget.total_s, best_cost / self._scale)
        if self._first_feasible and best_cost < INT_MAX:
            return True
        if self._max_iterations is not None and self.calls > self._max_iterations:
            return True
        if self._timer is not None:
            return bool(self._timer(best_cost))
        return elapsed > self._runtime_s
