"""The exact local search after routing: it improves solo sorties, and stops at its deadline."""

from __future__ import annotations

import pytest

from planner.pipeline import route_input
from planner.sorties._exact import exact_fleet
from planner.sorties._polish import Estimator, polish
from planner.sorties._problem import timing
from planner.terrain import Dem
from tests.planner.helpers import hills_dem
from tests.planner.sorties.test_route import CASES


@pytest.fixture(scope="module")
def flat() -> Dem:
    """Flat ground at 200 m AMSL."""
    return hills_dem(0, 0.0)


@pytest.mark.parametrize(("deadline_s", "moved"), [(2.0, True), (0.5, False)])
def test_polish_merges_solo_sorties_until_its_deadline(flat: Dem, deadline_s: float,
                                                       moved: bool) -> None:
    """Solo sorties are merged before the deadline; past it nothing is evaluated or moved."""
    inp, _ = route_input(CASES["one_depot_capacity"], flat)
    points = sorted(inp.options)
    fleet, _, checkers = exact_fleet(inp, [(0, 0, [[p] for p in points])], [])
    before = [c.evaluations for c in checkers]
    better, moves = polish(inp, timing(inp), fleet, checkers, 1000, clock=lambda: 1.0,
                           deadline_s=deadline_s)
    assert (moves > 0) == moved
    if not moved:
        assert better == fleet
        assert [c.evaluations for c in checkers] == before
    assert sorted(p for evs in better.values() for e in evs for p in e.drops) == points


def test_kept_estimates_are_those_computed_afresh(flat: Dem) -> None:
    """An order's estimate asked again, after others, is the one a new estimator computes."""
    inp, _ = route_input(CASES["one_depot_capacity"], flat)
    tm = timing(inp)
    points = sorted(inp.options)
    orders = [tuple(points[:2]), tuple(points[1:3]), tuple(points[:2][::-1])]
    est = Estimator(inp, tm, inp.groups[0])
    first = [est.estimate(o) for o in orders]
    again = [est.estimate(o) for o in reversed(orders)][::-1]
    fresh = [Estimator(inp, tm, inp.groups[0]).estimate(o) for o in orders]
    assert first == again == fresh
    assert first[0] != first[1]
