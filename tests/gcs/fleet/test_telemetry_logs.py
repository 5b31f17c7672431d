"""Telemetry snapshots and subscriptions against the simulator; the flight log database."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gcs import mavlink as mav
from gcs.fleet.failsafe import Alert, AlertKind, Severity
from gcs.fleet.logs import FlightLog
from gcs.fleet.tracking import DropEvent, DropState
from gcs.link import Link
from gcs.snapshot import VehicleSnapshot
from gcs.telemetry import BURST, JITTER_ALLOWANCE, TelemetryHub
from gcs.tlog.writer import TlogWriter
from tests.gcs.helpers import tutorial_case
from tests.helpers.waiting import poll


@pytest.mark.sitl
def test_snapshot_reports_the_simulated_vehicle(sim: Any) -> None:
    """Position, AGL from the DEM, battery, GPS/EKF, home and link health match the vehicle."""
    case = tutorial_case(3)
    home = case.plan.sorties[0].mission[0]
    fleet = sim(home=(home.lat_deg, home.lon_deg, home.alt_m), dem=case.dem)
    hub = TelemetryHub(dem=case.dem, stream_rate_hz=10)
    with Link(fleet.connection_strings[0]) as link:
        hub.attach(link)

        def ready() -> bool:
            s = hub.snapshot(1)
            return bool(s is not None and s.ekf_ok and s.home_lat_deg is not None
                        and s.battery_pct is not None)

        assert poll(ready, 10.0)
        snap = hub.snapshot(1)
        assert snap is not None
        truth = fleet.vehicle(0).snapshot()
        assert snap.lat_deg == pytest.approx(truth.lat_deg, abs=1e-4)
        assert snap.alt_agl_m is not None and abs(snap.alt_agl_m) < 2.0
        assert snap.gps_fix_type >= 3 and snap.mode == "STABILIZE" and not snap.armed
        assert snap.battery_pct == truth.battery_remaining_pct
        assert snap.heartbeat_age_s < 1.5 and snap.loss_rate == 0.0
        hub.close()


@pytest.mark.sitl
def test_subscription_rate_limits_each_vehicle(sim: Any) -> None:
    """A 5 Hz subscriber of a 20 Hz source gets fresh snapshots of every vehicle, thinned to
    about 5 a second."""
    fleet = sim(vehicles=2, speedup=5.0)
    hub = TelemetryHub(stream_rate_hz=20)
    got: dict[int, list[VehicleSnapshot]] = {1: [], 2: []}
    lock = threading.Lock()

    def take(snap: VehicleSnapshot) -> None:
        with lock:
            got[snap.sysid].append(snap)

    links = [Link(u).open() for u in fleet.connection_strings]
    try:
        for link in links:
            hub.attach(link)
        assert poll(lambda: len(hub.vehicles) == 2, 10.0)
        time.sleep(1.0)
        with hub.subscribe(take, rate_hz=5):
            time.sleep(2.0)
        for sysid in (1, 2):
            times = [s.time_s for s in got[sysid]]
            assert 6 <= len(times) <= BURST + 2.0 * 5 * JITTER_ALLOWANCE + 1
            # at most BURST + 5 x 1.25 in any second: 9 snapshots take more than a second
            assert all(times[i + 8] - times[i] > 1.0 for i in range(len(times) - 8))
            assert all(s.time_s - s.received_s < 0.25 for s in got[sysid])
    finally:
        hub.close()
        for link in links:
            link.close()


@pytest.mark.sitl
def test_tlog_hook_records_readable_messages(sim: Any, tmp_path: Path) -> None:
    """A per-vehicle hook writes a .tlog that pymavlink reads back, and stops when removed."""
    fleet = sim()
    hub = TelemetryHub()
    path = tmp_path / "one.tlog"
    writer = TlogWriter(path)
    with Link(fleet.connection_strings[0]) as link:
        hub.attach(link)
        assert poll(lambda: hub.vehicles == (1,), 10.0)
        remove = hub.add_hook(1, writer.write)
        assert poll(lambda: writer.count > 300, 10.0)
        remove()
        count = writer.count
        time.sleep(0.3)
        assert writer.count == count
        writer.close()
    kinds = {msg.get_type() for _, msg in mav.read_tlog(path)}
    assert {"HEARTBEAT", "GLOBAL_POSITION_INT"} <= kinds
    hub.close()


def _alert(kind: AlertKind = AlertKind.BATTERY_LOW) -> Alert:
    return Alert(kind=kind, severity=Severity.WARNING, message="m", sysid=3, sortie_id="S001",
                 at_s=0.0)


def test_flight_log_round_trip_and_resume(database_url: str, tmp_path: Path) -> None:
    """Runs, vehicles, flights, alerts and drop events are stored and a second log sees them
    (on SQLite and on PostgreSQL)."""
    db = database_url
    log = FlightLog(db, tlog_dir=tmp_path / "tlogs")
    run = log.start_run(plan_key="k1", plan_name="p")
    log.record_vehicle(run.id, name="hub/q/1", sysid=3, link_url="tcp:x")
    flight = log.open_flight(run.id, sortie_id="S001", vehicle="hub/q/1", sysid=3)
    log.set_flight_state(flight, "flying")
    log.record_alert(run.id, _alert(), flight_id=flight)
    log.record_drop_event(run.id, DropEvent(drop_id="D1", sortie_id="S001",
                                            state=DropState.RELEASED, at_s=1.0, lat_deg=44.0,
                                            lon_deg=-71.0), flight_id=flight)
    other = FlightLog(db, tlog_dir=tmp_path / "tlogs")  # another process's view
    again = other.start_run(plan_key="k1", plan_name="p")
    assert again.resumed and again.id == run.id
    assert other.vehicles(run.id) == {"hub/q/1": 3}
    other.record_vehicle(run.id, name="hub/q/1", sysid=4, link_url="tcp:y")  # the same row
    assert log.vehicles(run.id) == {"hub/q/1": 4}
    [f] = other.flights(run.id)
    assert (f.state, f.sortie_id, f.takeoff_at is not None) == ("flying", "S001", True)
    assert other.drop_states(run.id) == {"D1": ("released", None)}
    assert [a["kind"] for a in other.alerts(run.id)] == ["battery_low"]
    log.set_flight_state(flight, "completed")
    log.end_run(run.id, "all delivered")
    assert not other.start_run(plan_key="k1", plan_name="p").resumed
    assert other.flights(run.id)[0].ended_at is not None
    log.close()
    other.close()


def test_flight_log_commits_every_write(tmp_path: Path) -> None:
    """Each write is committed at once: plain sqlite3 sees it while the log stays open."""
    db = tmp_path / "f.db"
    log = FlightLog(db)
    run = log.start_run(plan_key="k", plan_name="p")
    log.record_alert(run.id, _alert(AlertKind.LINK_LOST))
    with sqlite3.connect(db) as conn:
        assert conn.execute("select kind from alerts").fetchall() == [("link_lost",)]
        assert conn.execute("pragma journal_mode").fetchone() == ("wal",)
    with pytest.raises(ValueError, match="flight state"):
        log.set_flight_state(1, "crashed")
    log.close()
