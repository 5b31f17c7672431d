"""The console serves terrain to the vehicles it hears before any run, shows their terrain
report, and follows their speed-up (SIM_SPEEDUP) unless one is configured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gcs.terrain import tile_heights_m
from planner.terrain import Dem
from tests.gcs.helpers_terrain import LITTLETON, FakeVehicle
from tests.helpers.ports import free_base_port, free_tcp_port
from tests.helpers.shared_data import DISTRICT_HGT
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, services

HGT = DISTRICT_HGT


@pytest.fixture
def dem(district_dem: Dem) -> Dem:
    """The district's terrain."""
    return district_dem


@pytest.fixture
def console_and_vehicle(tmp_path: Path) -> Iterator[tuple[Any, FakeVehicle]]:
    """A console whose only link is to a vehicle-like peer speaking raw MAVLink, its DEM the
    district's (``TILE_DEM``), no plan uploaded."""
    port = free_tcp_port()
    vehicle = FakeVehicle(port)
    app = make_app(tmp_path / "data", CONNECT=[f"tcp:127.0.0.1:{port}"], TILE_DEM=[str(HGT)],
                   TIME_SCALE=1.0)
    try:
        vehicle.accept()
        yield app, vehicle
    finally:
        services(app).close()
        vehicle.close()


def _terrain_data(vehicle: FakeVehicle, lat_e7: int, lon_e7: int, mask: int,
                  timeout_s: float = 30.0) -> dict[int, list[int]]:
    """Ask for the tiles of ``mask`` (again every second, as ArduPilot does) until all came."""
    got: dict[int, list[int]] = {}
    wanted = {b for b in range(56) if mask >> b & 1}
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and set(got) != wanted:
        vehicle.heartbeat()
        vehicle.send(vehicle.codec.terrain_request_encode(lat_e7, lon_e7, 100, mask))
        for m in vehicle.receive("TERRAIN_DATA", lambda ms: len(ms) >= len(wanted), 1.0):
            if (m.lat, m.lon, m.grid_spacing) == (lat_e7, lon_e7, 100):
                got[int(m.gridbit)] = list(m.data)
    return got


def test_console_serves_terrain_before_any_run(console_and_vehicle: tuple[Any, FakeVehicle],
                                               dem: Dem) -> None:
    """A vehicle heard by a console with a DEM has its TERRAIN_REQUEST answered with the DEM's
    heights; no plan was uploaded."""
    app, vehicle = console_and_vehicle
    assert services(app).fleet.run is None
    lat_e7, lon_e7 = round(LITTLETON[0] * 1e7), round(LITTLETON[1] * 1e7)
    mask = 0b1000_0000_0000_0101
    got = _terrain_data(vehicle, lat_e7, lon_e7, mask)
    assert sorted(got) == [0, 2, 15]
    for bit, data in got.items():
        assert data == tile_heights_m(dem, lat_e7, lon_e7, 100, bit)


def test_fleet_api_shows_the_terrain_report(console_and_vehicle: tuple[Any, FakeVehicle]) -> None:
    """The vehicle's TERRAIN_REPORT is in the fleet snapshot: ground height, height above it,
    tiles pending and loaded."""
    app, vehicle = console_and_vehicle
    c = Client(app, "operator")
    lat_e7, lon_e7 = round(LITTLETON[0] * 1e7), round(LITTLETON[1] * 1e7)

    def reported() -> bool:
        vehicle.heartbeat()
        vehicle.send(vehicle.codec.terrain_report_encode(lat_e7, lon_e7, 100, 512.0, 31.5, 3,
                                                         112))
        vs = c.get("/api/fleet").json["vehicles"]
        return bool(vs) and vs[0]["terrain_pending"] == 3 and vs[0]["speedup"] == 1.0

    wait_until(reported, 20, "the terrain report shown", period_s=0.3)
    v = c.get("/api/fleet").json["vehicles"][0]
    assert (v["terrain_amsl_m"], v["terrain_agl_m"], v["terrain_loaded"]) == (512.0, 31.5, 112)


@pytest.mark.sitl
@pytest.mark.parametrize(("configured", "expected"), [(None, 20.0), (5.0, 5.0)])
def test_console_follows_sim_speedup_unless_given(tmp_path: Path, configured: float | None,
                                                  expected: float) -> None:
    """Without a time scale the console reads each vehicle's SIM_SPEEDUP (the built-in
    simulator's 20) and heartbeats it at least once a vehicle second; a configured one wins."""
    from sitl.builtin import BuiltinFleet

    fleet = BuiltinFleet(vehicles=1, home=(44.317934, -71.825559, 400.0), speedup=20.0,
                         settle_s=2.0, base_port=free_base_port(1))
    fleet.start()
    app = make_app(tmp_path / "data", CONNECT=fleet.connection_strings, TIME_SCALE=configured)
    try:
        c = Client(app, "operator")
        wait_until(lambda: [v.get("speedup") for v in c.get("/api/fleet").json["vehicles"]]
                   == [expected], 30, f"speed-up {expected} shown", period_s=0.3)
        fleet_svc = services(app).fleet
        assert fleet_svc.speedup() == expected
        assert fleet_svc._fly_options().time_scale == expected
        if configured is None:
            assert fleet_svc.links[0].heartbeat_period_s == pytest.approx(1.0 / 20.0)
    finally:
        services(app).close()
        fleet.stop()
