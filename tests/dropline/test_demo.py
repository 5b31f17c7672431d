"""``dropline demo``: the whole district's simulated fleet, its ports, and a demo day flown
through the console's HTTP API (twice on one data folder)."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropline.cli import main
from dropline.commands.web import demo_vehicles, start_demo, start_demo_fleet
from gcs.fleet.assign import NEAR_DEPOT_M
from planner.scenario import Scenario
from sitl.builtin.copter.vehicle import BATTERY_SWAP_NEAR_M
from tests.dropline.helpers_demo_day import fly_day
from tests.sitl.helpers_flying import distance_m

#: A few drops of the district served from several depots and both drone types.
DAY_DROPS = ["P001", "P035", "P014", "P020"]
SPEEDUP = 10.0  # the demo's own default: 14 vehicles and the console in one process


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback TCP port another program listens on for the length of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def test_one_vehicle_per_drone_at_its_depot(district_scenario: Scenario) -> None:
    """Every depot's drones, of their types, stand at the depot: near enough to be matched to
    it and to have their battery swapped there."""
    scenario = district_scenario
    vehicles = demo_vehicles(scenario)
    listed = Counter({(d.id, t): n for d in scenario.depots for t, n in d.drones.items()})
    assert Counter((v.depot_id, v.drone_type_id) for v in vehicles) == listed
    depots = {d.id: d for d in scenario.depots}
    for v in vehicles:
        depot = depots[v.depot_id]
        gap_m = distance_m(v.lat_deg, v.lon_deg, depot.lat_deg, depot.lon_deg)
        assert gap_m < min(NEAR_DEPOT_M, BATTERY_SWAP_NEAR_M)
    assert len({v.name for v in vehicles}) == len(vehicles) == sum(listed.values())


def test_given_sim_port_in_use_is_refused(held_port: int, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A --sim-base-port another program holds exits 2 naming the option and the port, before
    the console or any data is made."""
    data = tmp_path / "data"
    assert main(["demo", "--sim-base-port", str(held_port), "--port", "0", "--data-dir",
                 str(data)]) == 2
    err = capsys.readouterr().err
    assert "--sim-base-port" in err and str(held_port) in err and "in use" in err
    assert "Traceback" not in err
    assert not data.exists()


def test_sim_ports_are_picked_free(held_port: int) -> None:
    """Without --sim-base-port the simulated vehicles take free ports, never a held one, and
    each listens there."""
    fleet = start_demo_fleet(1.0, None)
    try:
        ports = [int(c.rsplit(":", 1)[1]) for c in fleet.connection_strings]
        assert held_port not in ports and len(set(ports)) == len(ports)
        for port in ports:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
    finally:
        fleet.stop()


@pytest.mark.slow
def test_demo_day_flies_every_served_drop_twice_on_one_data_folder(tmp_path: Path) -> None:
    """A demo day through the HTTP API delivers every served drop, each plan drone flown by the
    simulated vehicle of its type at its depot; a second start on the same data folder opens
    the same draft plan, its vehicles report full batteries and a new plan flies too."""
    data = str(tmp_path / "data")
    demo = start_demo(data, SPEEDUP, drop_ids=DAY_DROPS)
    try:
        assert demo.first_login is not None
        password = demo.first_login
        day = fly_day(demo, password, flight_timeout_s=600.0)
    finally:
        demo.close()
    assert day.served == len(DAY_DROPS) and day.delivered == day.served, day
    assert day.batteries_before_pct == [100] * len(demo.vehicles)
    for name, sysid in day.assignment.items():  # depot/type of the plan drone and the vehicle
        assert demo.vehicles[sysid - 1].name.rsplit("/", 1)[0] == name.rsplit("/", 1)[0]

    again = start_demo(data, SPEEDUP)
    try:
        assert again.first_login is None and again.plan_id == demo.plan_id
        second = fly_day(again, password, flight_timeout_s=600.0, drop_ids=["P017"])
    finally:
        again.close()
    assert second.batteries_before_pct == [100] * len(again.vehicles)
    assert second.served == second.delivered == 1, second.drop_states
