"""Independent re-check of a routing answer against its problem."""

from __future__ import annotations

from collections.abc import Sequence

from planner.routing._evaluate import RawRoute, evaluate
from planner.routing.model import RoutingProblem, Solution


def check(problem: RoutingProblem, solution: Solution) -> list[str]:
    """Every constraint ``solution`` breaks, re-scheduled from its trips' client sequences.

    Parameters
    ----------
    problem
        The routing problem.
    solution
        An answer; only its vehicles and their trips' client sequences are trusted.

    Returns
    -------
    list of str
        One message per violation; empty when the answer keeps every constraint.
    """
    return list(evaluate(problem, as_raw(solution)).violations)


def from_trips(problem: RoutingProblem, routes: Sequence[RawRoute]) -> Solution:
    """Schedule and check routes given as ``(vehicle_type, vehicle, trips)``.

    Parameters
    ----------
    problem
        The routing problem.
    routes
        Per vehicle used: its type, its number within the type (0-based) and its trips as lists
        of client indexes in flying order.

    Returns
    -------
    Solution
        The scheduled answer with exact figures and every violation.
    """
    return evaluate(problem, routes)


def as_raw(solution: Solution) -> list[RawRoute]:
    """The ``(vehicle_type, vehicle, trips)`` form of ``solution``."""
    return [(r.vehicle_type, r.vehicle, [list(t.clients) for t in r.trips])
            for r in solution.routes]
