"""The built-in copter's ground and terrain follow ArduPilot SITL's rules: terrain is asked of the
ground station over MAVLink and the simulated ground is what was served, flat at the start
altitude without it; home is the start exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gcs.mavlink import dialect as mav
from sitl.builtin.terrain import FULL_MASK, grid_info
from tests.sitl.helpers import TRACE_HOME, OfflineGcs, north_slope_dem

Factory = Callable[..., OfflineGcs]
HOME = (0, 16, 0, 0, 0, 0, 303165000, 780322000, 640.0)
TAKEOFF = (6, 22, 0, 0, 0, 0, 0, 0, 30.0)
#: 1 km north of home, where the valley below is 100 m lower than home.
VALLEY = (303254831, 780322000)
#: Relative altitude of the leg into the valley: 40 m below home.
BELOW_HOME_M = -40.0


def valley_dem() -> object:
    """Ground falling 100 m per km northwards from home (640 m)."""
    return north_slope_dem(640.0, -100.0)


def stream_extra3(gcs: OfflineGcs) -> None:
    """Ask for the EXTRA3 stream that carries the vehicle's terrain requests."""
    gcs.send(mav.MAVLink_request_data_stream_message(1, 1, mav.MAV_DATA_STREAM_EXTRA3, 4, 1))


def fly_into_valley(gcs: OfflineGcs) -> None:
    """Take off to 30 m, then a waypoint 1 km north at 40 m below home; run to its end."""
    gcs.fly([HOME, TAKEOFF, (6, 16, 0, 0, 0, 0, *VALLEY, BELOW_HOME_M),
             (6, 20, 0, 0, 0, 0, 0, 0, 0.0)])
    gcs.run_until(lambda: any(m.get_type() == "MISSION_ITEM_REACHED" and m.seq == 2
                              for _, m in gcs.log) or not gcs.vehicle.armed, 300)


def test_no_terrain_requests_without_extra3(offline: Factory) -> None:
    """Like SITL, the vehicle asks for terrain only while its EXTRA3 stream runs."""
    gcs = offline()
    gcs.run(10)
    assert not gcs.of("TERRAIN_REQUEST")
    stream_extra3(gcs)
    gcs.run(3)
    requests = gcs.of("TERRAIN_REQUEST")
    assert requests
    info = grid_info(303165000, 780322000, 100)
    first = requests[0]
    assert (first.lat, first.lon, first.grid_spacing) == (info.lat_e7, info.lon_e7, 100)
    assert first.mask == FULL_MASK


def test_unserved_ground_is_flat_and_a_valley_leg_hits_it(offline: Factory) -> None:
    """Without terrain served the ground is flat at the start altitude: a leg to 40 m below home
    over a valley flies into it ("SIM Hit ground") and the vehicle disarms, as on real SITL."""
    gcs = offline()
    stream_extra3(gcs)  # asked, never answered
    v = gcs.vehicle
    n, e = v.frame.to_ne(VALLEY[0] * 1e-7, VALLEY[1] * 1e-7)
    assert v.ground_alt_m(n, e) == 640.0
    fly_into_valley(gcs)
    assert not v.armed
    assert [t for t in gcs.texts() if t.startswith("SIM Hit ground at")]
    assert v.body.alt_m == pytest.approx(640.0, abs=0.01)
    assert 100.0 < v.home_distance_m() < 1000.0  # down on the way, short of the waypoint


def test_served_ground_follows_the_terrain(offline: Factory) -> None:
    """With terrain served the ground follows it: the same leg arrives 60 m above the valley."""
    gcs = offline()
    dem = valley_dem()
    gcs.serve_terrain(dem)
    v = gcs.vehicle
    gcs.run(30)  # the block below first, then one around it every 2 s
    n, e = v.frame.to_ne(VALLEY[0] * 1e-7, VALLEY[1] * 1e-7)
    assert v.ground_alt_m(n, e) == pytest.approx(540.0, abs=1.0)
    fly_into_valley(gcs)
    assert v.armed
    assert not [t for t in gcs.texts() if t.startswith("SIM Hit ground")]
    assert v.body.alt_m == pytest.approx(600.0, abs=0.5)
    assert v.snapshot().alt_agl_m == pytest.approx(60.0, abs=1.0)


def test_terrain_check_and_report(offline: Factory) -> None:
    """TERRAIN_CHECK gets a TERRAIN_REPORT (spacing 0 where the vehicle holds nothing) and queues
    the block; the streamed report tells the terrain under the vehicle and the tiles held."""
    gcs = offline()
    start = len(gcs.log)
    gcs.send(mav.MAVLink_terrain_check_message(*VALLEY))
    report = gcs.since(start, "TERRAIN_REPORT")[-1]
    assert (report.lat, report.lon, report.spacing) == (*VALLEY, 0)
    gcs.serve_terrain(valley_dem())
    gcs.run(30)
    start = len(gcs.log)
    gcs.send(mav.MAVLink_terrain_check_message(*VALLEY))
    report = gcs.since(start, "TERRAIN_REPORT")[-1]
    assert report.spacing == 100
    assert report.terrain_height == pytest.approx(540.0, abs=1.0)
    streamed = [m for _, m in gcs.log[:start] if m.get_type() == "TERRAIN_REPORT"][-1]
    assert (streamed.lat, streamed.lon) == (303165000, 780322000)
    assert streamed.terrain_height == pytest.approx(640.0, abs=1.0)
    assert streamed.current_height == pytest.approx(0.0, abs=1.0)
    assert streamed.pending == 0 and streamed.loaded >= 56


def test_terrain_report_before_a_fix_is_about_nowhere(offline: Factory) -> None:
    """Before the vehicle knows where it is, its TERRAIN_REPORT carries lat = lon = 0."""
    gcs = offline(settle_s=42.0)
    stream_extra3(gcs)
    gcs.run(2)
    report = gcs.of("TERRAIN_REPORT")[-1]
    assert (report.lat, report.lon, report.terrain_height) == (0, 0, 0.0)


def test_terrain_disabled_asks_nothing(offline: Factory) -> None:
    """TERRAIN_ENABLE 0: no requests, no reports, and the ground stays flat."""
    gcs = offline(params={"TERRAIN_ENABLE": 0})
    gcs.serve_terrain(valley_dem())
    gcs.run(5)
    assert not gcs.of("TERRAIN_REQUEST") and not gcs.of("TERRAIN_REPORT")
    v = gcs.vehicle
    n, e = v.frame.to_ne(VALLEY[0] * 1e-7, VALLEY[1] * 1e-7)
    assert v.ground_alt_m(n, e) == 640.0


@pytest.mark.parametrize("start", [TRACE_HOME, (44.3172431, -71.8254117, 401.37)])
def test_home_is_the_start_exactly(offline: Factory, start: tuple[float, float, float]) -> None:
    """HOME_POSITION and GLOBAL_POSITION_INT at the start are the given start, to the unit of
    the message (1e-7 degree, 1 mm): SITL's home has no GPS error."""
    gcs = offline(home=start, settle_s=42.0)
    gcs.send(mav.MAVLink_request_data_stream_message(1, 1, mav.MAV_DATA_STREAM_POSITION, 4, 1))
    gcs.ready()
    gcs.run(20)
    gcs.send(mav.MAVLink_command_long_message(1, 1, mav.MAV_CMD_REQUEST_MESSAGE, 0,
                                              mav.MAVLINK_MSG_ID_HOME_POSITION, 0, 0, 0, 0, 0,
                                              0))
    expected = (round(start[0] * 1e7), round(start[1] * 1e7), round(start[2] * 1000))
    home = gcs.of("HOME_POSITION")[-1]
    assert (home.latitude, home.longitude, home.altitude) == expected
    for position in gcs.of("GLOBAL_POSITION_INT"):
        assert (position.lat, position.lon, position.alt) == expected
        assert position.relative_alt == 0
