"""A mixed simulated fleet: each vehicle flies as its own drone type, at its own home."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.io.scenario import load_scenario
from sitl.builtin import BuiltinFleet, drone_type_params

DISTRICT = Path(__file__).resolve().parents[3] / "missions" / "district"


def test_each_vehicle_has_its_drone_type() -> None:
    """Speeds and battery capacity follow each vehicle's drone type; None is the SITL quad."""
    scenario = load_scenario(DISTRICT)
    heavy, long = scenario.drone_types["heavy_octo"], scenario.drone_types["long_octo"]
    fleet = BuiltinFleet(vehicles=3, home=(44.3, -71.8, 300.0),
                         drone_types=[heavy, long, None])
    assert [fleet.vehicle(i).drone_type_id for i in range(3)] == ["heavy_octo", "long_octo", None]
    for i, kind in enumerate((heavy, long)):
        for name, value in drone_type_params(kind).items():
            assert fleet.vehicle(i).param(name) == pytest.approx(value)
    assert fleet.vehicle(1).param("BATT_CAPACITY") > fleet.vehicle(0).param("BATT_CAPACITY")
    assert fleet.vehicle(2).param("BATT_CAPACITY") != fleet.vehicle(0).param("BATT_CAPACITY")


@pytest.mark.parametrize("kwargs", [{"drone_types": [None]}, {"drone_types": [None, None],
                                                                "drone_type": object()}])
def test_drone_types_must_match_the_vehicles(kwargs: dict[str, object]) -> None:
    """One drone type per vehicle, and not together with a fleet-wide drone_type."""
    with pytest.raises(ValueError, match=r"drone.type"):
        BuiltinFleet(vehicles=2, home=(44.3, -71.8, 300.0), **kwargs)  # type: ignore[arg-type]


def test_an_overloaded_fleet_slips_instead_of_bursting() -> None:
    """A stall longer than MAX_LAG_WALL_S costs simulated time (the fleet runs slower) instead of
    a catch-up burst: right after it the vehicles are within the lag bound of the clock."""
    import time

    from sitl.builtin.fleet_loop import MAX_LAG_WALL_S
    from tests.helpers.ports import free_base_port

    fleet = BuiltinFleet(vehicles=2, home=(44.3, -71.8, 300.0), speedup=20.0,
                         base_port=free_base_port(2))
    with fleet:
        time.sleep(0.3)
        with fleet._lock:  # the machine busy elsewhere for a second
            time.sleep(1.0)
        # The loop's next pass takes the slip; on a busy machine it may wait for a core.
        deadline = time.monotonic() + 10.0
        while fleet.slipped_s < 20.0 * (1.0 - 2 * MAX_LAG_WALL_S) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fleet.slipped_s > 20.0 * (1.0 - 2 * MAX_LAG_WALL_S)
        with fleet._lock:
            lag_s = fleet.clock.now_s() - fleet.sim_time_s
        assert lag_s <= MAX_LAG_WALL_S * 20.0 + 1.0
