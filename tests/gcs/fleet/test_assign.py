"""Matching plan drones to vehicles by depot and drone type."""

from __future__ import annotations

import pytest

from gcs.errors import FleetError
from gcs.fleet.assign import assign_vehicles, drone_type_of

LITTLETON = (44.317934, -71.825559)
BERLIN = (44.486951, -71.155254)
NAMES = ["littleton/heavy_octo/1", "littleton/long_octo/1", "berlin/heavy_octo/1"]
DEPOTS = {"littleton/heavy_octo/1": LITTLETON, "littleton/long_octo/1": LITTLETON,
          "berlin/heavy_octo/1": BERLIN}


def test_each_drone_takes_the_vehicle_of_its_type_at_its_depot() -> None:
    """A depot's long-range drone takes the long-range vehicle there even when a lower system
    id of another type stands at the same depot and the plan does not use it."""
    positions = {1: LITTLETON, 2: LITTLETON, 3: LITTLETON, 4: BERLIN}
    types = {1: "heavy_octo", 2: "heavy_octo", 3: "long_octo", 4: "heavy_octo"}
    out = assign_vehicles(NAMES, [1, 2, 3, 4], depots=DEPOTS, positions=positions, types=types)
    assert out == {"berlin/heavy_octo/1": 4, "littleton/heavy_octo/1": 1,
                   "littleton/long_octo/1": 3}
    untyped = assign_vehicles(NAMES, [1, 2, 3, 4], depots=DEPOTS, positions=positions)
    assert untyped["littleton/long_octo/1"] == 2  # by depot alone the type is not seen


def test_single_depot_plans_match_by_type_too() -> None:
    """Without positions, plan drones still only take vehicles of their own type."""
    out = assign_vehicles(["hub/long/1", "hub/heavy/1"], [1, 2, 3],
                          types={1: "heavy", 2: "heavy", 3: "long"})
    assert out == {"hub/heavy/1": 1, "hub/long/1": 3}


def test_vehicles_of_unknown_type_fill_in_after_typed_ones() -> None:
    """A vehicle whose type is unknown serves any drone, after the vehicles of that type."""
    out = assign_vehicles(["hub/long/1", "hub/heavy/1"], [1, 2], types={2: "heavy"})
    assert out == {"hub/heavy/1": 2, "hub/long/1": 1}


def test_no_vehicle_of_the_type_left_is_a_fleet_error() -> None:
    """Enough vehicles but none of a drone's type: a FleetError naming the type."""
    with pytest.raises(FleetError, match="long_octo"):
        assign_vehicles(["a/long_octo/1"], [1, 2], types={1: "heavy_octo", 2: "heavy_octo"})


@pytest.mark.parametrize(("name", "kind"), [("a/quad/2", "quad"), ("x/y/z/quad/1", "quad"),
                                             ("solo", "solo")])
def test_drone_type_of(name: str, kind: str) -> None:
    """The type is the second-to-last part of a plan drone's name."""
    assert drone_type_of(name) == kind
