"""Real ArduCopter SITL with the ground station's terrain server: terrain loads, valleys are real,
and the ground station follows the simulator's speed (no GCS failsafe without --speedup)."""

from __future__ import annotations

import contextlib
import math
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gcs import commands
from gcs.errors import CommandRejected
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from gcs.terrain import send_checks
from gcs.transfer import Target
from planner.terrain import Dem
from tests.gcs.helpers_terrain import ARDUCOPTER, BIN, HUB, arm
from tests.helpers.shared_data import needs
from tests.helpers.waiting import poll

#: SITL instance number (TCP 5760 + 10 N): 31 keeps clear of other tests' instances.
INSTANCE = 31
SPEEDUP = 10

pytestmark = [pytest.mark.sitl, pytest.mark.slow, needs(ARDUCOPTER)]


@dataclass
class Sitl:
    """One running real SITL with a ground-station link and telemetry hub serving terrain."""

    dem: Dem
    home_alt_m: float
    link: Link
    hub: TelemetryHub
    texts: list[str]
    connected_s: float
    speedup: float


@pytest.fixture(scope="module")
def sitl(district_dem: Dem) -> Iterator[Sitl]:
    dem = district_dem
    home_alt = float(dem.elevation_amsl_m(HUB[1], HUB[0]))
    work = Path(tempfile.mkdtemp(prefix="dropline-terrain-sitl-"))
    (work / "delivery.parm").write_text("FS_GCS_ENABLE 1\nFS_OPTIONS 0\nTERRAIN_ENABLE 1\n"
                                        "TERRAIN_SPACING 100\n")
    log = (work / "sitl.log").open("wb")
    proc = subprocess.Popen(
        [str(ARDUCOPTER), "--model", "+", "--speedup", str(SPEEDUP), "-I", str(INSTANCE),
         "--home", f"{HUB[0]},{HUB[1]},{home_alt:.2f},0",
         "--defaults", f"{BIN / 'copter.parm'},delivery.parm", "--wipe"],
        cwd=work, stdout=log, stderr=subprocess.STDOUT)
    link = hub = None
    try:
        port = 5760 + 10 * INSTANCE
        link = Link(f"tcp:127.0.0.1:{port}", heartbeat_period_s=1.0).open()
        connected = time.monotonic()
        texts: list[str] = []
        link.add_listener(lambda m: texts.append(str(m.text))
                          if m.get_type() == "STATUSTEXT" else None)
        hub = TelemetryHub(dem=dem)
        hub.attach(link)
        assert poll(lambda: 1 in hub.vehicles, 30.0), "SITL never sent a heartbeat"
        # what `fly` and `status` do without --speedup: read the speed, pace the heartbeat
        speedup = commands.vehicle_speedup(link, Target(sysid=1))
        link.heartbeat_period_s = min(1.0, 1.0 / speedup)
        yield Sitl(dem=dem, home_alt_m=home_alt, link=link, hub=hub, texts=texts,
                   connected_s=connected, speedup=speedup)
    finally:
        if hub is not None:
            hub.close()
        if link is not None:
            link.close()
        proc.kill()
        proc.wait(timeout=10)
        log.close()


def test_speedup_is_read_from_the_simulator(sitl: Sitl) -> None:
    """SIM_SPEEDUP of a SITL started with --speedup 10 reads 10."""
    assert sitl.speedup == SPEEDUP


def test_terrain_loads_around_home(sitl: Sitl) -> None:
    """The vehicle asks, the server answers: blocks loaded, none pending, and the vehicle's
    terrain height at home is the DEM's within a few metres."""
    def loaded() -> bool:
        t = sitl.hub.snapshot(1).terrain  # type: ignore[union-attr]
        return t is not None and t.has_data and t.pending_tiles == 0 and t.loaded_tiles > 0

    assert poll(loaded, 30.0), f"terrain never loaded: {sitl.hub.snapshot(1)}"
    took = time.monotonic() - sitl.connected_s
    report = sitl.hub.snapshot(1).terrain  # type: ignore[union-attr]
    assert report is not None
    print(f"terrain: {report.loaded_tiles} tiles ({report.loaded_tiles / 56:.0f} blocks) "
          f"loaded {took:.1f} s after connecting at {SPEEDUP}x; vehicle "
          f"{report.terrain_height_amsl_m:.1f} m, DEM {sitl.home_alt_m:.1f} m at home")
    assert report.loaded_tiles >= 56
    assert report.terrain_height_amsl_m == pytest.approx(sitl.home_alt_m, abs=3.0)


def test_terrain_check_prefetches_a_far_point(sitl: Sitl) -> None:
    """A TERRAIN_CHECK 5 km away is answered with a report that gains data once served."""
    far = (HUB[0] + 0.045, HUB[1])
    key = (round(far[0] * 1e7), round(far[1] * 1e7))
    with sitl.link.subscribe(lambda m: m.get_type() == "TERRAIN_REPORT"
                             and (m.lat, m.lon) == key) as sub:
        end = time.monotonic() + 20.0
        report = None
        while time.monotonic() < end:
            send_checks(sitl.link, [far])
            report = sub.get(1.0)
            if report is not None and report.spacing > 0:
                break
        assert report is not None and report.spacing > 0
        ground = float(sitl.dem.elevation_amsl_m(far[1], far[0]))
        assert report.terrain_height == pytest.approx(ground, abs=5.0)


def _valley(dem: Dem, home_alt_m: float) -> tuple[float, float, float]:
    """The lowest ground 700-1500 m from the hub: (lat, lon, ground AMSL)."""
    lat, lon = np.meshgrid(np.linspace(HUB[0] - 0.014, HUB[0] + 0.014, 57),
                           np.linspace(HUB[1] - 0.02, HUB[1] + 0.02, 57))
    north = (lat - HUB[0]) * 111_320.0
    east = (lon - HUB[1]) * 111_320.0 * math.cos(math.radians(HUB[0]))
    dist = np.hypot(north, east)
    ground = np.where((dist > 700) & (dist < 1500), dem.elevation_amsl_m(lon, lat), np.inf)
    i = np.unravel_index(np.argmin(ground), ground.shape)
    return float(lat[i]), float(lon[i]), float(ground[i])


def test_leg_below_home_over_a_valley_arrives_above_the_ground(sitl: Sitl) -> None:
    """GUIDED to a point over a valley at an altitude below home's: the vehicle arrives above
    the real ground (no 'Hit ground'), and no GCS failsafe with the heartbeat paced by the
    detected speed-up."""
    lat, lon, ground = _valley(sitl.dem, sitl.home_alt_m)
    assert ground < sitl.home_alt_m - 30, "the test needs a valley below the hub"
    clearance = 25.0
    alt_rel = ground - sitl.home_alt_m + clearance
    assert alt_rel < 0
    target = Target(sysid=1)
    link = sitl.link
    assert poll(lambda: (s := sitl.hub.snapshot(1)) is not None and bool(s.ekf_ok)
                and s.gps_fix_type >= 3, 60.0), "SITL never became ready"
    commands.set_mode(link, target, "GUIDED")
    arm(link, target, 60.0)
    commands.takeoff(link, target, 20.0)
    assert poll(lambda: (sitl.hub.snapshot(1).alt_rel_m or 0) > 18, 30.0)  # type: ignore
    commands.goto(link, target, lat, lon, alt_rel)

    def arrived() -> bool:
        s: Any = sitl.hub.snapshot(1)
        if s.lat_deg is None:
            return False
        d = math.hypot((s.lat_deg - lat) * 111_320,
                       (s.lon_deg - lon) * 111_320 * math.cos(math.radians(lat)))
        return d < 5 and abs(s.alt_rel_m - alt_rel) < 2 and (s.groundspeed_m_s or 0) < 0.5

    ok = poll(arrived, 60.0)
    snap: Any = sitl.hub.snapshot(1)
    agl = snap.alt_amsl_m - float(sitl.dem.elevation_amsl_m(snap.lon_deg, snap.lat_deg))
    print(f"valley {ground:.0f} m AMSL ({sitl.home_alt_m - ground:.0f} m below home): arrived at "
          f"{snap.alt_rel_m:.1f} m relative, {agl:.1f} m above the DEM, vehicle says "
          f"{snap.terrain.current_height_m if snap.terrain else float('nan'):.1f} m")
    with contextlib.suppress(CommandRejected):
        commands.set_mode(link, target, "LAND")
    hits = [t for t in sitl.texts if "Hit ground" in t]
    failsafes = [t for t in sitl.texts if "Failsafe" in t and "GCS" in t]
    assert not hits, hits
    assert not failsafes, failsafes
    assert ok, f"did not arrive: {snap}"
    assert snap.armed
    assert agl == pytest.approx(clearance, abs=6.0)
