"""The ground station reads the vehicle's speed-up (SIM_SPEEDUP) and paces itself by it."""

from __future__ import annotations

from typing import Any

import pytest

from gcs import commands
from gcs.transfer import Target
from tests.gcs.helpers_terrain import FakeVehicle
from tests.helpers.ports import free_tcp_port


@pytest.mark.sitl
@pytest.mark.parametrize("speedup", [5.0, 20.0])
def test_speedup_read_from_the_builtin_simulator(sim: Any, link_to: Any, speedup: float) -> None:
    """The built-in simulator's SIM_SPEEDUP is the speed it runs at."""
    fleet = sim(speedup=speedup)
    link = link_to(fleet.connection_strings[0])
    assert commands.vehicle_speedup(link, Target(sysid=1)) == speedup


def test_a_vehicle_without_sim_speedup_runs_at_1x() -> None:
    """Real flight controllers have no SIM_SPEEDUP and do not answer for it: 1x."""
    from gcs.link import Link

    port = free_tcp_port()
    vehicle = FakeVehicle(port)
    link = Link(f"tcp:127.0.0.1:{port}", heartbeat_period_s=0).open()
    try:
        vehicle.accept()
        vehicle.heartbeat()
        assert commands.param_get_optional(link, Target(sysid=1), "SIM_SPEEDUP") is None
        assert commands.vehicle_speedup(link, Target(sysid=1)) == 1.0
    finally:
        link.close()
        vehicle.close()
