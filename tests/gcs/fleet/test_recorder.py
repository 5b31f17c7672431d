"""The fleet recorder: statuses, alerts, preflight reports and its writes to the flight log."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcs.fleet.failsafe import Alert, AlertKind, Severity
from gcs.fleet.logs import FlightLog
from gcs.fleet.preflight import PreflightReport
from gcs.fleet.recorder import FleetRecorder
from gcs.fleet.status import Phase, VehicleStatus
from gcs.fleet.tracking import DropEvent, DropState


def _alert(sysid: int, message: str) -> Alert:
    return Alert(kind=AlertKind.SORTIE_FAILED, severity=Severity.WARNING, message=message,
                 sysid=sysid, sortie_id="S1", at_s=1.0)


def test_statuses_alerts_and_reports_without_a_flight_log() -> None:
    """Statuses come back by plan name with their changes, alerts in order and to every callback
    (one failing does not stop the others); flights are not recorded (-1, no tlog)."""
    recorder = FleetRecorder(None, clock=lambda: 5.0)
    recorder.add_vehicle(VehicleStatus(name="b", sysid=2, link_url="udp:x", sorties_total=1))
    recorder.add_vehicle(VehicleStatus(name="a", sysid=1, link_url="udp:x", sorties_total=2))
    recorder.set_status("b", phase=Phase.FLYING, sortie_id="S1")
    heard: list[str] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("callback bug")

    recorder.on_alert(broken)
    recorder.on_alert(lambda a: heard.append(a.message))
    recorder.alert(_alert(2, "first"), None)
    recorder.alert(_alert(1, "second"), None)
    report = PreflightReport(sysid=1, sortie_id="S1", checks=())
    recorder.set_preflight_report("S1", report)
    assert [(s.name, s.phase, s.sortie_id) for s in recorder.statuses()] == \
        [("a", Phase.WAITING, None), ("b", Phase.FLYING, "S1")]
    assert [a.message for a in recorder.alerts()] == heard == ["first", "second"]
    assert recorder.preflight_report("S1") is report and recorder.preflight_report("S2") is None
    assert recorder.open_flight(sortie_id="S1", vehicle="a", sysid=1) == -1
    assert recorder.tlog_path(-1) is None and recorder.run is None
    assert recorder.open_run(plan_key="k", plan_name="p", plan_path=None, resume=True) is None


def test_writes_go_to_the_run_of_the_flight_log(database_url: str, tmp_path: Path) -> None:
    """Vehicles, flights, alerts and drop events are written to the run the recorder opened,
    and the run ends with its outcome (on SQLite and on PostgreSQL)."""
    log = FlightLog(database_url, tlog_dir=tmp_path / "tlogs")
    recorder = FleetRecorder(log, clock=lambda: 5.0)
    run = recorder.open_run(plan_key="k", plan_name="p", plan_path=None, resume=True)
    assert run is not None and recorder.run == run
    recorder.add_vehicle(VehicleStatus(name="a", sysid=1, link_url="udp:x"))
    flight_id = recorder.open_flight(sortie_id="S1", vehicle="a", sysid=1)
    recorder.set_flight_state(flight_id, "flying")
    recorder.alert(_alert(1, "watch out"), flight_id)
    recorder.drop_events([DropEvent(drop_id="D1", sortie_id="S1", state=DropState.DELIVERED,
                                    at_s=5.0)], flight_id)
    recorder.set_flight_state(flight_id, "completed")
    recorder.end_run("all delivered")
    assert log.vehicles(run.id) == {"a": 1}
    [flight] = log.flights(run.id)
    assert (flight.id, flight.state, flight.reason) == (flight_id, "completed", None)
    assert recorder.tlog_path(flight_id) == log.tlog_path(run.id, "S1", 1)
    assert [a["message"] for a in log.alerts(run.id)] == ["watch out"]
    assert log.drop_states(run.id) == {"D1": ("delivered", None)}
    assert log.unfinished_run() is None
    log.close()


@pytest.mark.parametrize("state", ["failed", "aborted"])
def test_flight_end_keeps_its_reason(database_url: str, tmp_path: Path, state: str) -> None:
    """A flight ended with a reason keeps it (on SQLite and on PostgreSQL)."""
    log = FlightLog(database_url, tlog_dir=tmp_path / "tlogs")
    recorder = FleetRecorder(log)
    run = recorder.open_run(plan_key="k", plan_name="p", plan_path=None, resume=False)
    assert run is not None
    flight_id = recorder.open_flight(sortie_id="S1", vehicle="a", sysid=1)
    recorder.set_flight_state(flight_id, state, reason="why")
    [flight] = log.flights(run.id)
    assert (flight.state, flight.reason) == (state, "why")
    log.close()


def test_a_flight_log_never_writes_into_another_databases_tlog(tmp_path: Path) -> None:
    """Two databases logging to one folder number their runs alike: the second flight of the
    same run, sortie and vehicle gets a name of its own instead of the first one's file."""
    first, second = FlightLog(tmp_path / "a.db"), FlightLog(tmp_path / "b.db")
    paths = []
    for log in (first, second):
        run = log.start_run(plan_key="k", plan_name="p")
        flight_id = log.open_flight(run.id, sortie_id="S1", vehicle="a", sysid=1)
        path = FleetRecorder(log).tlog_path(flight_id)
        assert path is not None and log.flights(run.id)[0].tlog_path == str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        paths.append(path)
        log.close()
    assert paths[0].name == "run1-S1-sys1.tlog" and paths[1].name == "run1-S1-sys1-2.tlog"
    assert paths[0].read_bytes() == paths[1].read_bytes() == b"x"
