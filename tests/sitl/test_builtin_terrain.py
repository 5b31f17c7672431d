"""The built-in simulator's terrain follows ArduPilot SITL's rules: asked for over MAVLink, stored,
reported, and the only source of its ground (flat at home altitude without it)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from gcs import commands
from gcs.link import Link
from gcs.mavlink import dialect as mav
from gcs.terrain import TerrainServer, tile_heights_m
from gcs.transfer import Retry, Target
from planner.errors import CommandRejected
from planner.io.dem import load_dem
from planner.terrain import Dem
from sitl.builtin.terrain import (
    BLOCK_STEP_E,
    BLOCK_STEP_N,
    CACHE_BLOCKS,
    FULL_MASK,
    M_PER_DEG_E7,
    grid_info,
    longitude_scale,
)
from tests.shared_data import REPO
from tests.waiting import poll

from .conftest import OfflineGcs

Factory = Callable[..., OfflineGcs]
#: The Littleton hub of the district, on its DEM.
HUB = (44.317934, -71.825559)
DISTRICT_DEM = REPO / "missions" / "district" / "terrain" / "N44W072.hgt"


@pytest.fixture(scope="module")
def dem() -> Dem:
    return load_dem([DISTRICT_DEM])


def hub_start(dem: Dem) -> tuple[float, float, float]:
    """The hub with the DEM's height there (what --scenario gives as --home)."""
    return (HUB[0], HUB[1], float(dem.elevation_amsl_m(HUB[1], HUB[0])))


def valley(dem: Dem, start: tuple[float, float, float]) -> tuple[float, float, float]:
    """The lowest ground 700-1500 m from the hub: (lat, lon, ground AMSL)."""
    lat, lon = np.meshgrid(np.linspace(HUB[0] - 0.014, HUB[0] + 0.014, 57),
                           np.linspace(HUB[1] - 0.02, HUB[1] + 0.02, 57))
    north = (lat - HUB[0]) * 111_320.0
    east = (lon - HUB[1]) * 111_320.0 * math.cos(math.radians(HUB[0]))
    dist = np.hypot(north, east)
    ground = np.where((dist > 700) & (dist < 1500), dem.elevation_amsl_m(lon, lat), np.inf)
    i = np.unravel_index(np.argmin(ground), ground.shape)
    assert ground[i] < start[2] - 30, "the tests need a valley below the hub"
    return float(lat[i]), float(lon[i]), float(ground[i])


def requests(gcs: OfflineGcs, start: int = 0) -> list[tuple[float, Any]]:
    """(time, TERRAIN_REQUEST) sent after log index ``start``."""
    return [(t, m) for t, m in gcs.log[start:] if m.get_type() == "TERRAIN_REQUEST"]


def extra3(gcs: OfflineGcs, rate_hz: int = 4) -> None:
    gcs.send(mav.MAVLink_request_data_stream_message(1, 1, mav.MAV_DATA_STREAM_EXTRA3,
                                                     rate_hz, 1))


def report(gcs: OfflineGcs, lat_deg: float, lon_deg: float) -> Any:
    """The TERRAIN_REPORT a TERRAIN_CHECK at a point gets."""
    start = len(gcs.log)
    gcs.send(mav.MAVLink_terrain_check_message(round(lat_deg * 1e7), round(lon_deg * 1e7)))
    [answer] = gcs.since(start, "TERRAIN_REPORT")
    return answer


# -- the protocol, offline ----------------------------------------------------------------------
def test_no_request_without_extra3(offline: Factory, dem: Dem) -> None:
    """Streams at 0 (or everything but EXTRA3): the vehicle never asks for terrain."""
    gcs = offline(home=hub_start(dem))
    gcs.send(mav.MAVLink_request_data_stream_message(1, 1, mav.MAV_DATA_STREAM_POSITION, 4, 1))
    gcs.run(30.0)
    assert not requests(gcs)
    assert not gcs.of("TERRAIN_REPORT")


def test_requests_follow_ardupilot_block_geometry(offline: Factory, dem: Dem) -> None:
    """Unanswered: the block under the start (whole-degree corners stepped 24/28 spacings), full
    mask, at every EXTRA3 tick before the GPS fix, then every 2 s."""
    gcs = offline(home=hub_start(dem), settle_s=42.0)
    extra3(gcs)
    gcs.run(60.0)
    sent = requests(gcs)
    assert sent and sent[0][0] < 0.5
    first = sent[0][1]
    assert (first.grid_spacing, first.mask) == (100, FULL_MASK)
    lat_e7, lon_e7 = round(HUB[0] * 1e7), round(HUB[1] * 1e7)
    info = grid_info(lat_e7, lon_e7, 100)
    assert (first.lat, first.lon) == (info.lat_e7, info.lon_e7)
    # the corner is a whole number of block steps (24 spacings north, 28 east) from the degree
    ref_lat, ref_lon = 440_000_000, -720_000_000
    north_m = (first.lat - ref_lat) * M_PER_DEG_E7
    east_m = (first.lon - ref_lon) * M_PER_DEG_E7 * longitude_scale((ref_lat + first.lat) / 2)
    assert north_m / (BLOCK_STEP_N * 100) == pytest.approx(round(north_m / 2400), abs=1e-3)
    assert east_m / (BLOCK_STEP_E * 100) == pytest.approx(round(east_m / 2800), abs=1e-3)
    fix_s = 21.0  # GPS 3D fix at half the settle time
    before = [t for t, _ in sent if t < fix_s]
    gaps = np.diff(before)[1:]
    assert gaps == pytest.approx(0.25, abs=0.01)  # every tick of a 4 Hz stream
    after = [(t, (m.lat, m.lon)) for t, m in sent if t >= fix_s + 0.5]
    gaps = np.diff([t for t, _ in after])
    assert gaps == pytest.approx(2.0, abs=0.06)
    assert {corner for _, corner in after} == {(first.lat, first.lon)}  # the block below first


def test_message_interval_133_and_terrain_enable(offline: Factory, dem: Dem) -> None:
    """SET_MESSAGE_INTERVAL for TERRAIN_REQUEST starts the requests; TERRAIN_ENABLE 0 ends them
    and the vehicle no longer reports or answers checks."""
    gcs = offline(home=hub_start(dem))
    gcs.send(mav.MAVLink_command_long_message(1, 1, mav.MAV_CMD_SET_MESSAGE_INTERVAL, 0,
                                              133, 250_000, 0, 0, 0, 0, 0))
    gcs.run(5.0)
    assert requests(gcs)
    gcs.send(mav.MAVLink_param_set_message(1, 1, b"TERRAIN_ENABLE", 0, mav.MAV_PARAM_TYPE_INT8))
    start = len(gcs.log)
    gcs.run(10.0)
    assert not requests(gcs, start)
    assert not gcs.since(start, "TERRAIN_REPORT")
    gcs.send(mav.MAVLink_terrain_check_message(round(HUB[0] * 1e7), round(HUB[1] * 1e7)))
    assert not gcs.since(start, "TERRAIN_REPORT")


def test_served_terrain_loads_six_blocks_and_reports(offline: Factory, dem: Dem) -> None:
    """Served from the DEM: 6 blocks (336 tiles) around the start, nothing pending; reports
    about lat = lon = 0 before the fix; checks answered with the DEM's height."""
    gcs = offline(home=hub_start(dem), settle_s=42.0)
    gcs.serve_terrain(dem)
    gcs.run(10.0)
    early = gcs.of("TERRAIN_REPORT")[-1]
    assert (early.lat, early.lon, early.spacing) == (0, 0, 0)
    gcs.run(40.0)
    last = gcs.of("TERRAIN_REPORT")[-1]
    print(f"loaded {last.loaded} tiles ({last.loaded / 56:.0f} blocks), {last.pending} pending")
    assert (last.loaded, last.pending) == (336, 0)
    assert last.spacing == 100
    assert last.terrain_height == pytest.approx(hub_start(dem)[2], abs=3.0)
    assert last.current_height == pytest.approx(0.0, abs=3.0)
    far = (HUB[0] + 0.045, HUB[1])  # 5 km north: outside the blocks loaded
    answer = report(gcs, *far)
    assert answer.spacing == 0 and answer.pending >= 56
    gcs.run(5.0)
    answer = report(gcs, *far)
    assert answer.spacing == 100
    assert answer.terrain_height == pytest.approx(float(dem.elevation_amsl_m(far[1], far[0])),
                                                  abs=5.0)


def test_data_for_other_blocks_or_spacing_is_dropped(offline: Factory, dem: Dem) -> None:
    """Tiles whose corner is more than 5 degE7 off, of another spacing, or of a block that is
    not cached are dropped; 5 degE7 off is taken."""
    gcs = offline(home=hub_start(dem))
    extra3(gcs)
    gcs.run(0.2)
    req = requests(gcs)[0][1]
    terrain = gcs.vehicle.terrain
    heights = tile_heights_m(dem, req.lat, req.lon, 100, 0)
    assert heights is not None

    def tile(lat: int, lon: int, spacing: int, bit: int = 0) -> None:
        gcs.send(mav.MAVLink_terrain_data_message(lat, lon, spacing, bit, heights))

    tile(req.lat + 6, req.lon, 100)
    tile(req.lat, req.lon - 6, 100)
    tile(req.lat, req.lon, 30)
    tile(req.lat + 1_000_000, req.lon, 100)
    assert terrain.tiles_received == 0
    tile(req.lat + 5, req.lon - 5, 100)
    assert terrain.tiles_received == 1
    assert len(terrain.blocks) <= CACHE_BLOCKS


def test_cache_keeps_twelve_blocks(offline: Factory, dem: Dem) -> None:
    """Checks at 20 far points leave 12 blocks in memory, the last ones asked about."""
    gcs = offline(home=hub_start(dem))
    gcs.ready()
    for k in range(20):
        report(gcs, HUB[0] + 0.03 * (k % 5), HUB[1] + 0.04 * (k // 5))
    terrain = gcs.vehicle.terrain
    assert len(terrain.blocks) == CACHE_BLOCKS


def test_home_is_the_given_home(offline: Factory, dem: Dem) -> None:
    """Home is the start's latitude and longitude exactly and its altitude + 9 cm (SITL)."""
    start = hub_start(dem)
    gcs = offline(home=start, seed=3)
    gcs.ready()
    gcs.send(mav.MAVLink_command_long_message(1, 1, mav.MAV_CMD_REQUEST_MESSAGE, 0,
                                              mav.MAVLINK_MSG_ID_HOME_POSITION, 0, 0, 0, 0, 0,
                                              0))
    home = gcs.of("HOME_POSITION")[-1]
    assert (home.latitude, home.longitude) == (round(start[0] * 1e7), round(start[1] * 1e7))
    assert home.altitude / 1000 == pytest.approx(start[2] + 0.09, abs=0.005)


# -- the ground, offline ------------------------------------------------------------------------
def guided_to(gcs: OfflineGcs, lat: float, lon: float, alt_rel_m: float) -> None:
    """Arm in GUIDED, take off to 20 m and fly to a point at an altitude above home."""
    assert gcs.set_mode("GUIDED").result == 0
    assert gcs.arm().result == 0, gcs.texts()[-3:]
    assert gcs.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 20).result == 0
    assert gcs.run_until(lambda: gcs.vehicle.body.alt_m > gcs.vehicle.home[2] + 19.5, 60)
    gcs.send(mav.MAVLink_set_position_target_global_int_message(
        0, 1, 1, mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, 0b110111111000, round(lat * 1e7),
        round(lon * 1e7), alt_rel_m, 0, 0, 0, 0, 0, 0, 0, 0))


def test_served_ground_follows_the_dem_over_a_valley(offline: Factory, dem: Dem) -> None:
    """With terrain served, a leg to below home over a valley arrives above the ground, and the
    simulated ground along the leg is the DEM's within a few metres."""
    start = hub_start(dem)
    lat, lon, ground = valley(dem, start)
    gcs = offline(home=start)
    gcs.serve_terrain(dem)
    gcs.ready()
    gcs.run(10.0)
    clearance = 25.0
    guided_to(gcs, lat, lon, ground - start[2] + clearance)
    v = gcs.vehicle
    errors: list[float] = []

    def arrived() -> bool:
        body = v.body
        here_lat, here_lon = v.position_deg()
        errors.append(v.ground_alt_m(body.n_m, body.e_m)
                      - float(dem.elevation_amsl_m(here_lon, here_lat)))
        return body.arrived and math.hypot(body.vn, body.ve) < 0.1

    assert gcs.run_until(arrived, 400)
    here_lat, here_lon = v.position_deg()
    agl_dem = v.body.alt_m - float(dem.elevation_amsl_m(here_lon, here_lat))
    err = np.abs(errors)
    print(f"valley {start[2] - ground:.0f} m below home: arrived {agl_dem:.1f} m above the DEM; "
          f"ground vs DEM along the leg: max {err.max():.1f} m, mean {err.mean():.1f} m, "
          f"{gcs.of('TERRAIN_REPORT')[-1].loaded / 56:.0f} blocks loaded")
    assert not [t for t in gcs.texts() if "Hit ground" in t]
    assert v.armed and v.flying
    assert agl_dem == pytest.approx(clearance, abs=6.0)
    assert err.mean() < 3.0
    assert err.max() < 12.0


def test_unserved_ground_is_flat_and_a_leg_below_home_hits_it(offline: Factory,
                                                              dem: Dem) -> None:
    """No terrain served: the ground is flat at the start altitude, the leg below home flies
    into it ("SIM Hit ground"), the vehicle disarms there."""
    start = hub_start(dem)
    lat, lon, ground = valley(dem, start)
    gcs = offline(home=start)
    extra3(gcs)  # it asks; nobody answers
    gcs.ready()
    v = gcs.vehicle
    n, e = v.frame.to_ne(lat, lon)
    assert v.ground_alt_m(n, e) == start[2]
    guided_to(gcs, lat, lon, ground - start[2] + 25.0)
    assert gcs.run_until(lambda: not v.armed, 400)
    hits = [t for t in gcs.texts() if "SIM Hit ground" in t]
    assert hits and "Disarming motors" in gcs.texts()[-3:]
    assert v.body.alt_m == pytest.approx(start[2], abs=0.01)


def test_level_flight_into_a_hill_stops_short(offline: Factory) -> None:
    """Terrain rising 60 m ahead of a level leg at 30 m: the vehicle stops where it meets the
    ground, short of the target, without a "Hit ground" text."""
    from planner.terrain import DemTile

    north, south = 44.35, 44.28
    rows = np.linspace(0.0, 1.0, 8)[:, None]  # north to south
    hub_row = (north - HUB[0]) / (north - south)
    heights = np.where(rows < hub_row - 0.1, 400.0, 340.0) * np.ones((8, 2))
    tile = DemTile(heights_m=heights, west_deg=-71.9, north_deg=north, dlon_deg=0.2,
                   dlat_deg=(north - south) / 7)
    hill = Dem(tiles=(tile,))
    gcs = offline(home=(HUB[0], HUB[1], 340.0))
    gcs.serve_terrain(hill)
    gcs.ready()
    gcs.run(10.0)
    target = (HUB[0] + 0.03, HUB[1])
    guided_to(gcs, *target, 30.0)
    v = gcs.vehicle
    gcs.run(200.0)
    n, e = v.frame.to_ne(*target)
    assert math.hypot(v.body.n_m - n, v.body.e_m - e) > 500
    assert v.armed and v.flying
    ground = v.ground_alt_m(v.body.n_m, v.body.e_m)
    assert 0.0 <= v.body.alt_m - ground < 1.0  # against the slope, below its 370 m target
    assert v.body.alt_m < 370.0
    assert not [t for t in gcs.texts() if "Hit ground" in t]


# -- with the ground station's terrain server, over sockets --------------------------------------
@pytest.fixture
def linked(builtin_fleet: Any, dem: Dem) -> Iterator[Callable[[bool], tuple[Any, Link]]]:
    """Factory ``linked(serve)``: a started one-vehicle fleet at the hub (20x) and a ground
    station link to it, with the terrain server of :mod:`gcs.terrain` when ``serve``."""
    opened: list[Any] = []

    def make(serve: bool) -> tuple[Any, Link]:
        fleet = builtin_fleet(1, home=hub_start(dem), speedup=20.0, settle_s=2.0, dem=dem)
        link = Link(fleet.connection_strings[0], heartbeat_period_s=0.05).open()
        opened.append(link)
        if serve:
            server = TerrainServer(dem)
            server.attach(link)
            opened.append(server)
        link.send(link.mav.request_data_stream_encode(1, 0, mav.MAV_DATA_STREAM_ALL, 4, 1))
        return fleet, link

    yield make
    for thing in reversed(opened):
        thing.close()


def _fly_to_valley(fleet: Any, link: Link, dem: Dem) -> tuple[float, float, float]:
    start = hub_start(dem)
    lat, lon, ground = valley(dem, start)
    target = Target(sysid=1)
    assert poll(lambda: fleet.vehicle(0).snapshot().ready_to_arm, 30.0)
    commands.set_mode(link, target, "GUIDED")
    end = time.monotonic() + 20.0
    while True:
        try:
            commands.arm(link, target, retry=Retry(timeout_s=1.0, tries=3))
            break
        except CommandRejected:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
    commands.takeoff(link, target, 20.0)
    assert poll(lambda: fleet.vehicle(0).snapshot().alt_rel_m > 18, 20.0)
    commands.goto(link, target, lat, lon, ground - start[2] + 25.0)
    return lat, lon, ground


def test_pair_with_terrain_server_flies_over_the_valley(linked: Any, dem: Dem) -> None:
    """Built-in simulator + the ground station's terrain server: the leg below home arrives
    25 m above the DEM's valley floor, no hit."""
    fleet, link = linked(True)
    texts: list[str] = []
    link.add_listener(lambda m: texts.append(str(m.text)) if m.get_type() == "STATUSTEXT"
                      else None)
    lat, lon, _ = _fly_to_valley(fleet, link, dem)

    def arrived() -> bool:
        s = fleet.vehicle(0).snapshot()
        d = math.hypot((s.lat_deg - lat) * 111_320,
                       (s.lon_deg - lon) * 111_320 * math.cos(math.radians(lat)))
        return d < 3 and s.groundspeed_m_s < 0.2 and abs(s.climb_m_s) < 0.1

    assert poll(arrived, 60.0), fleet.vehicle(0).snapshot()
    s = fleet.vehicle(0).snapshot()
    agl = s.alt_amsl_m - float(dem.elevation_amsl_m(s.lon_deg, s.lat_deg))
    print(f"served: arrived {agl:.1f} m above the DEM (simulated ground: {s.alt_agl_m:.1f} m)")
    assert not [t for t in texts if "Hit ground" in t]
    assert s.armed
    assert agl == pytest.approx(25.0, abs=6.0)


def test_pair_without_terrain_server_hits_the_flat_ground(linked: Any, dem: Dem) -> None:
    """Built-in simulator, nobody serving terrain: the same leg flies into the flat ground at
    home altitude and the vehicle disarms."""
    fleet, link = linked(False)
    texts: list[str] = []
    link.add_listener(lambda m: texts.append(str(m.text)) if m.get_type() == "STATUSTEXT"
                      else None)
    _fly_to_valley(fleet, link, dem)
    assert poll(lambda: not fleet.vehicle(0).snapshot().armed, 60.0)
    assert [t for t in texts if "SIM Hit ground" in t]
    s = fleet.vehicle(0).snapshot()
    assert s.alt_amsl_m == pytest.approx(hub_start(dem)[2], abs=0.05)
