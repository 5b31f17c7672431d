"""Terrain server: TERRAIN_REQUEST answered with the DEM's heights at ArduPilot's grid points."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from gcs import mavlink as mav
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from gcs.terrain import (
    M_PER_DEG_E7,
    TerrainServer,
    block_heights_m,
    leg_points_deg,
    mask_bits,
    tile_heights_m,
    tile_points_deg,
)
from planner.terrain import Dem
from tests.gcs.helpers_terrain import LITTLETON, FakeVehicle
from tests.helpers.ports import free_tcp_port
from tests.helpers.waiting import wait_until

_D = mav.dialect
@pytest.fixture
def dem(district_dem: Dem) -> Dem:
    """The district's terrain."""
    return district_dem


@pytest.fixture
def vehicle_and_hub(dem: Dem) -> Iterator[tuple[FakeVehicle, TelemetryHub, Link]]:
    port = free_tcp_port()
    vehicle = FakeVehicle(port)
    link = Link(f"tcp:127.0.0.1:{port}", heartbeat_period_s=0.2)
    link.open()
    vehicle.accept()
    hub = TelemetryHub(dem=dem, stream_rate_hz=0)
    hub.attach(link)
    yield vehicle, hub, link
    hub.close()
    link.close()
    vehicle.close()


def test_points_follow_the_documented_block_geometry() -> None:
    """Point 4x+y of tile b lies (4(b//8)+x) spacings north, (4(b%8)+y) east of the corner."""
    lat_e7, lon_e7 = 440000000, -720000000
    lat, lon = tile_points_deg(lat_e7, lon_e7, 100, 13)  # row 1, column 5
    north_m = (lat[4 * 2 + 3] * 1e7 - lat_e7) * M_PER_DEG_E7
    assert north_m == pytest.approx((4 * 1 + 2) * 100.0, abs=1e-6)
    mid = math.radians((lat_e7 * 1e-7 + lat[4 * 2 + 3]) / 2)
    east_m = (lon[4 * 2 + 3] * 1e7 - lon_e7) * M_PER_DEG_E7 * math.cos(mid)
    assert east_m == pytest.approx((4 * 5 + 3) * 100.0, abs=1e-6)
    assert mask_bits(0b1011) == [0, 1, 3]
    assert mask_bits((1 << 56) - 1) == list(range(56))


def test_tiles_outside_the_dem_are_not_invented(dem: Dem) -> None:
    """A tile reaching past the DEM's east edge gets no heights."""
    assert tile_heights_m(dem, 440000000, -710100000, 100, 7) is None
    assert tile_heights_m(dem, 440000000, -720000000, 100, 0) is not None


def test_leg_points_reach_every_block_a_leg_crosses() -> None:
    """Points at most a kilometre apart along a 5 km leg, ends included."""
    pts = leg_points_deg([(44.3, -71.8), (44.3449, -71.8)])
    assert pts[0] == (44.3, -71.8) and pts[-1] == (44.3449, -71.8)
    assert len(pts) == 2 + 4


def test_server_answers_every_bit_with_the_dem_heights(vehicle_and_hub: Any, dem: Dem) -> None:
    """A TERRAIN_REQUEST over a real socket gets one TERRAIN_DATA per set bit, equal to the DEM
    at the exact grid points, rounded to whole metres."""
    vehicle, hub, _ = vehicle_and_hub
    vehicle.heartbeat()
    streams = vehicle.receive("REQUEST_DATA_STREAM",
                              lambda got: any(m.req_stream_id == _D.MAV_DATA_STREAM_EXTRA3
                                              and m.start_stop == 1 for m in got))
    assert streams, "the server asks for the EXTRA3 stream that carries terrain requests"
    lat_e7, lon_e7 = 443000000, -718400000
    mask = (1 << 0) | (1 << 9) | (1 << 55)
    vehicle.send(vehicle.codec.terrain_request_encode(lat_e7, lon_e7, 100, mask))
    data = vehicle.receive("TERRAIN_DATA", lambda got: len(got) >= 3)
    assert sorted(m.gridbit for m in data) == [0, 9, 55]
    for msg in data:
        assert (msg.lat, msg.lon, msg.grid_spacing) == (lat_e7, lon_e7, 100)
        lat, lon = tile_points_deg(lat_e7, lon_e7, 100, msg.gridbit)
        expected = np.rint(dem.elevation_amsl_m(lon, lat)).astype(int)
        assert list(msg.data) == list(expected)
        assert np.ptp(expected) > 0  # real terrain, not a flat answer
    assert hub.terrain is not None
    wait_until(lambda: hub.terrain.stats.tiles_sent == 3, 2.0, "three tiles counted")


def test_every_request_is_answered_again_in_full(vehicle_and_hub: Any) -> None:
    """Stateless: the same request asked twice is answered twice."""
    vehicle, hub, _ = vehicle_and_hub
    vehicle.heartbeat()
    for _ in range(2):
        vehicle.send(vehicle.codec.terrain_request_encode(443000000, -718400000, 30, 0b11))
        assert len(vehicle.receive("TERRAIN_DATA", lambda got: len(got) >= 2)) == 2
    wait_until(lambda: hub.terrain.stats.requests == 2, 2.0, "both requests counted")


def test_terrain_report_reaches_the_snapshot(vehicle_and_hub: Any) -> None:
    """The vehicle's TERRAIN_REPORT about where it is shows in its telemetry snapshot; a check's
    answer about a far point does not replace it."""
    vehicle, hub, _ = vehicle_and_hub
    c = vehicle.codec
    lat_e7, lon_e7 = round(LITTLETON[0] * 1e7), round(LITTLETON[1] * 1e7)
    vehicle.heartbeat()
    wait_until(lambda: 1 in hub.vehicles, 5.0, "the vehicle heard")
    vehicle.send(c.global_position_int_encode(1000, lat_e7, lon_e7, 353000, 10000, 0, 0, 0, 0))
    vehicle.send(c.terrain_report_encode(lat_e7, lon_e7, 100, 342.5, 10.5, 0, 336))
    wait_until(lambda: hub.snapshot(1).terrain is not None, 5.0, "a terrain report")
    vehicle.send(c.terrain_report_encode(lat_e7 + 300000, lon_e7, 0, 0.0, 0.0, 56, 336))
    time.sleep(0.3)
    report = hub.snapshot(1).terrain
    assert report.has_data and report.pending_tiles == 0 and report.loaded_tiles == 336
    assert report.terrain_height_amsl_m == pytest.approx(342.5)
    assert report.current_height_m == pytest.approx(10.5)


@pytest.mark.parametrize("spacing_m", [30, 100])
def test_a_block_looked_up_at_once_holds_every_tile(dem: Dem, spacing_m: int) -> None:
    """The whole block's heights, looked up at once, are the tiles' heights point by point."""
    lat_e7, lon_e7 = round(LITTLETON[0] * 1e7), round(LITTLETON[1] * 1e7)
    block = block_heights_m(dem, lat_e7, lon_e7, spacing_m)
    assert block.shape == (28, 32)
    for bit in (0, 7, 20, 55):
        tile = block[4 * (bit // 8):4 * (bit // 8) + 4, 4 * (bit % 8):4 * (bit % 8) + 4]
        assert [int(h) for h in np.rint(tile).ravel()] == \
            tile_heights_m(dem, lat_e7, lon_e7, spacing_m, bit)


def test_server_follows_a_new_dem(dem: Dem) -> None:
    """A server given another elevation model forgets the blocks it looked up in the old one."""
    server = TerrainServer(dem)
    try:
        lat_e7, lon_e7 = round(LITTLETON[0] * 1e7), round(LITTLETON[1] * 1e7)
        first = server._block(lat_e7, lon_e7, 100)
        flat = Dem(tiles=tuple(dataclasses.replace(t, heights_m=np.zeros_like(t.heights_m))
                               for t in dem.tiles))
        server.dem = flat
        assert np.any(first != 0)
        assert not np.any(server._block(lat_e7, lon_e7, 100))
    finally:
        server.close()


def test_server_closes_cleanly(dem: Dem) -> None:
    """A server never attached stops at once."""
    server = TerrainServer(dem)
    server.close()
    assert server.stats.requests == 0


def _answer_checks(vehicle: FakeVehicle, spacing_m: int, pending: int, stop: Any) -> None:
    """Answer every TERRAIN_CHECK with a TERRAIN_REPORT until ``stop`` is set."""
    assert vehicle.conn is not None
    while not stop.is_set():
        try:
            data = vehicle.conn.recv(65536)
        except (TimeoutError, OSError):
            continue
        for msg in vehicle.codec.parse_buffer(data) or []:
            if msg.get_type() == "TERRAIN_CHECK":
                vehicle.send(vehicle.codec.terrain_report_encode(
                    msg.lat, msg.lon, spacing_m, 300.0 if spacing_m else 0.0, 20.0, pending,
                    336))


@pytest.mark.parametrize(("spacing_m", "pending", "ok"), [(100, 0, True), (0, 56, False)])
def test_preflight_terrain_check_follows_the_reports(vehicle_and_hub: Any, spacing_m: int,
                                                     pending: int, ok: bool) -> None:
    """The preflight terrain check passes once every point along the legs has data and nothing
    is pending, and refuses, saying why, when the vehicle keeps reporting tiles pending."""
    import threading

    from gcs.fleet.config import needs_terrain
    from gcs.fleet.preflight import sortie_path_deg, terrain_check
    from tests.gcs.helpers import tutorial_case

    vehicle, _, link = vehicle_and_hub
    sortie = tutorial_case().plan.sorties[0]
    assert len(sortie_path_deg(sortie)) >= 2
    assert isinstance(needs_terrain(sortie), bool)
    stop = threading.Event()
    responder = threading.Thread(target=_answer_checks, args=(vehicle, spacing_m, pending, stop))
    responder.start()
    try:
        check = terrain_check(link, 1, sortie, timeout_s=2.0)
    finally:
        stop.set()
        responder.join()
    assert check.ok is ok, check.detail
    assert ("none pending" if ok else f"{pending} tiles pending") in check.detail
