"""The run several workers share: opened once, each vehicle's state read back for a takeover,
ended once every sortie is over, and the recorder's fence."""

from __future__ import annotations

import threading
from pathlib import Path

from gcs.fleet.failsafe import Alert, AlertKind, Severity
from gcs.fleet.leases import LeaseTable
from gcs.fleet.logs import FlightLog
from gcs.fleet.recorder import FleetRecorder
from gcs.fleet.shared.run import (
    end_run_if_over,
    open_shared_run,
    run_ended,
    run_outcome,
    vehicle_history,
)
from gcs.fleet.tracking import DropEvent, DropState
from planner.plan_model import Plan
from tests.gcs.helpers import tutorial_case


def _plan() -> Plan:
    return tutorial_case(2).plan


def _event(drop_id: str, sortie_id: str, state: DropState) -> DropEvent:
    return DropEvent(drop_id=drop_id, sortie_id=sortie_id, state=state, at_s=1.0)


def test_workers_opening_together_share_one_run(tmp_path: Path) -> None:
    """Four workers opening the plan's run at once all get the same one."""
    db = tmp_path / "fly.db"
    FlightLog(db).close()
    LeaseTable(db).close()
    ids: list[int] = []

    def worker(n: int) -> None:
        log = FlightLog(db)
        leases = LeaseTable(log.engine)
        run = open_shared_run(log, leases, plan_key="k", plan_name="p", plan_path=None,
                              worker_id=f"w{n}")
        ids.append(run.id)
        leases.close()
        log.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ids) == 4 and len(set(ids)) == 1


def test_vehicle_history_and_the_end_of_the_run(tmp_path: Path) -> None:
    """A vehicle's sorties read back as done, flying or preparing with their drops' last
    states; the run ends (once) only when every sortie of every vehicle is over."""
    plan = _plan()
    log = FlightLog(tmp_path / "fly.db")
    leases = LeaseTable(log.engine)
    run = open_shared_run(log, leases, plan_key="k", plan_name="p", plan_path=None,
                          worker_id="a")
    one = [s for s in plan.sorties if s.vehicle == plan.sorties[0].vehicle]
    first, second = one
    done = log.open_flight(run.id, sortie_id=first.id, vehicle=first.vehicle, sysid=1)
    for d in first.drop_ids:
        log.record_drop_event(run.id, _event(d, first.id, DropState.DELIVERED), flight_id=done)
    log.set_flight_state(done, "completed")
    flying = log.open_flight(run.id, sortie_id=second.id, vehicle=second.vehicle, sysid=1)
    log.set_flight_state(flying, "flying")
    log.record_drop_event(run.id, _event(second.drop_ids[0], second.id, DropState.RELEASED),
                          flight_id=flying)
    history = vehicle_history(log, run.id, one)
    assert history.done == {first.id}
    assert history.flying == {second.id: flying} and history.preparing == {}
    assert history.drop_states[second.drop_ids[0]] == ("released", None)
    assert run_outcome(log, run.id, plan) is None
    assert not end_run_if_over(log, leases, run, plan, worker_id="a")
    log.set_flight_state(flying, "completed")
    for d in second.drop_ids:
        log.record_drop_event(run.id, _event(d, second.id, DropState.DELIVERED),
                              flight_id=flying)
    assert run_outcome(log, run.id, plan) is None  # the other vehicle's sorties are not over
    for sortie in (s for s in plan.sorties if s not in one):  # failed without flying
        for d in sortie.drop_ids:
            log.record_drop_event(run.id, _event(d, sortie.id, DropState.FAILED))
    assert run_outcome(log, run.id, plan) == "not every drop delivered"
    assert end_run_if_over(log, leases, run, plan, worker_id="b")
    assert run_ended(log, run.id) and log.unfinished_run() is None
    assert end_run_if_over(log, leases, run, plan, worker_id="a")  # ended already
    leases.close()
    log.close()


def test_a_shut_fence_writes_nothing(tmp_path: Path) -> None:
    """A recorder whose fence is shut (its vehicle's lease lost) writes no flight, state,
    alert or drop event, yet keeps its statuses and alerts in memory."""
    log = FlightLog(tmp_path / "fly.db")
    held = [True]
    recorder = FleetRecorder(log, fence=lambda: held[0])
    run = recorder.open_run(plan_key="k", plan_name="p", plan_path=None, resume=True)
    assert run is not None
    flight = recorder.open_flight(sortie_id="S1", vehicle="a", sysid=1)
    assert flight >= 0
    held[0] = False
    recorder.set_flight_state(flight, "flying")
    alert = Alert(kind=AlertKind.SORTIE_FAILED, severity=Severity.WARNING, message="m",
                  sysid=1, sortie_id="S1", at_s=1.0)
    recorder.alert(alert, flight)
    recorder.drop_events([_event("D1", "S1", DropState.EN_ROUTE)], flight)
    assert recorder.open_flight(sortie_id="S2", vehicle="a", sysid=1) == -1
    recorder.end_run("over")
    [row] = log.flights(run.id)
    assert row.state == "preparing"
    assert log.alerts(run.id) == [] and log.delivery_events(run.id) == []
    assert log.unfinished_run() is not None
    assert recorder.alerts() == (alert,)
    log.close()
