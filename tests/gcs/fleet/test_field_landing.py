"""A landing in the field on the built-in simulator, over real MAVLink: the operator pauses a
vehicle in flight (no "left the mission", no deviation alert), then commands LAND far from the
depot; the vehicle is "landed away" with its location, the distance to its hub and a critical
alert to recover it, flies no further sortie, and its height shown is above the ground (the
DEM the ground station knows), not relative to a home far below or above."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from gcs.fleet.failsafe import AlertKind, FailsafeLimits, Severity
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.monitor import FIELD_LANDING_M
from gcs.fleet.options import FlyOptions
from gcs.fleet.status import Phase
from gcs.geo import distance_m
from gcs.link import Link
from tests.gcs import helpers
from tests.gcs.helpers import tutorial_case
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.sitl, pytest.mark.slow]
fleet_sim = helpers.fleet_sim
SPEEDUP = 20.0


def test_a_landing_in_the_field_is_landed_away(fleet_sim: Any, tmp_path: Path) -> None:
    """Pause (held for 15 vehicle seconds), resume, then LAND 1 km or more out: landed_away with
    the vehicle's true position, its distance from the hub and a critical alert; the next
    sortie is not flown; alt_agl_m is the height over the DEM (about 0 on the ground)."""
    case = tutorial_case(3)
    first = max(case.plan.sorties, key=lambda s: s.metrics.distance_m)
    other = next(s for s in case.plan.sorties if s.id != first.id)
    plan = dataclasses.replace(case.plan, sorties=(
        first, dataclasses.replace(other, vehicle=first.vehicle)))
    fleet = fleet_sim(case, 1, speedup=SPEEDUP)
    links = [Link(u, heartbeat_period_s=1.0 / SPEEDUP).open() for u in fleet.connection_strings]
    manager = FleetManager(links, plan, options=FlyOptions(
        time_scale=SPEEDUP, reset_battery=True, failsafe=FailsafeLimits(deviation_m=150.0)),
        flight_log=FlightLog(tmp_path / "flights.db"), dem=case.dem,
        drone_types=case.scenario.drone_types)
    home = first.mission[0]
    vehicle = fleet.vehicle(0)

    def away_m() -> float:
        snap = vehicle.snapshot()
        return distance_m(home.lat_deg, home.lon_deg, snap.lat_deg, snap.lon_deg)

    try:
        manager.connect(10.0)
        manager.start()
        wait_until(lambda: vehicle.snapshot().mode == "AUTO" and away_m() > 300.0, 120.0,
                   "the vehicle on its way")
        manager.command(1, "LOITER")
        wait_until(lambda: vehicle.snapshot().mode == "LOITER", 10.0, "the pause")
        paused_t = vehicle.snapshot().time_s
        wait_until(lambda: vehicle.snapshot().time_s > paused_t + 15.0, 30.0, "a long pause")
        manager.command(1, "AUTO")
        wait_until(lambda: away_m() > 1000.0, 120.0, "the vehicle 1 km out")
        manager.command(1, "LAND")
        wait_until(lambda: manager.vehicles()[0].phase == Phase.LANDED_AWAY, 120.0,
                   "landed away")
        status = manager.vehicles()[0]
        truth = vehicle.snapshot()
        snap = manager.hub.snapshot(1)
        wait_until(lambda: manager.vehicles()[0].sorties_done == 1, 10.0, "the sortie counted")
        assert manager.vehicles()[0].phase == Phase.LANDED_AWAY  # the second is not flown
    finally:
        manager.stop()
        for link in links:
            link.close()
    away = status.field_landing
    assert away is not None and away.depot_id == first.depot_id
    assert distance_m(away.lat_deg, away.lon_deg, truth.lat_deg, truth.lon_deg) < 5.0
    assert away.distance_m == pytest.approx(
        distance_m(home.lat_deg, home.lon_deg, truth.lat_deg, truth.lon_deg), abs=5.0)
    assert away.distance_m > max(1000.0, FIELD_LANDING_M)
    assert away.alt_agl_m is not None and abs(away.alt_agl_m) < 2.0
    assert snap is not None and snap.alt_agl_m is not None and abs(snap.alt_agl_m) < 2.0
    ground = float(case.dem.elevation_amsl_m(truth.lon_deg, truth.lat_deg))
    assert snap.alt_amsl_m is not None
    assert snap.alt_agl_m == pytest.approx(snap.alt_amsl_m - ground, abs=0.2)
    alerts = manager.alerts()
    [landed] = [a for a in alerts if a.kind == AlertKind.LANDED_AWAY]
    assert landed.severity == Severity.CRITICAL and landed.needs_ack
    assert landed.message == (f"landed in the field at {away.lat_deg:.5f},{away.lon_deg:.5f}, "
                              f"{away.distance_m / 1000:.1f} km from {first.depot_id}: recover it")
    assert status.message == landed.message
    assert not [a for a in alerts if a.kind in (AlertKind.MODE_CHANGE, AlertKind.DEVIATION)], \
        alerts
    assert not [a for a in alerts if a.kind == AlertKind.BATTERY_LOW], alerts
