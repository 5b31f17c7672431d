"""Tolerance checks of plan-vs-flown figures: releases at drops and grabs at pickups."""

from __future__ import annotations

from planner.flown.figures import FlownFigures
from sitl.replay.tolerances import Tolerances, check


def figures(drops: dict[str, float | None], grabs: dict[str, float | None]) -> FlownFigures:
    """A completed flight within every other limit, with these release and grab errors."""
    return FlownFigures(
        cross_track_max_m=1.0, cross_track_p95_m=0.5, agl_min_m=40.0, agl_max_m=60.0,
        agl_min_planned_m=45.0, agl_max_planned_m=55.0, agl_reference="dem",
        alt_max_amsl_m=300.0, incursions=(), drop_errors_m=drops, grab_errors_m=grabs,
        items_reached=9, items_total=9, final_state="completed")


def test_grabs_are_held_to_the_release_limit() -> None:
    """A pickup collected 7 m off, or never, breaches like a drop; within 5 m passes."""
    tol = Tolerances()
    assert check("m", figures({"D1": 0.4}, {"K1": 0.3}), tol) == []
    breaches = check("m", figures({"D1": 0.4}, {"K1": 7.0, "K2": None}), tol)
    assert [(b.figure, b.value) for b in breaches] == [("grab_error_m[K1]", 7.0),
                                                       ("grab_error_m", None)]
    assert breaches[1].message == "m: pickup K2 was never collected"
    missed = check("m", figures({"D1": None}, {}), tol)
    assert [b.message for b in missed] == ["m: drop D1 was never released"]
