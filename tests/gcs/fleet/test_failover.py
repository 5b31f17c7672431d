"""Failover of a flight in progress: worker processes sharing one flight log and lease table,
one killed mid-flight, the other taking its vehicle over; and a worker losing its lease."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gcs.fleet.leases import LeaseTable
from gcs.fleet.logs import FlightLog
from gcs.fleet.options import FlyOptions
from gcs.fleet.shared import SharedFleet, VehicleSpec
from gcs.link import Link
from planner.io.planfile import write_plan_json
from planner.plan_model import Plan
from tests.gcs import helpers
from tests.gcs.helpers import FleetCase, one_sortie, tutorial_case
from tests.helpers.shared_data import REPO, TUTORIAL
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.sitl
fleet_sim = helpers.fleet_sim

HUB = "hub1"
#: The spec's bound on a takeover: the dead worker's vehicles monitored again within this.
TAKEOVER_LIMIT_S = 10.0


def _specs(plan: Plan, fleet: Any) -> list[VehicleSpec]:
    """Plan vehicles sorted against system ids 1, 2, ... on their own TCP endpoints."""
    names = sorted({s.vehicle for s in plan.sorties})
    return [VehicleSpec(key=f"{HUB}/{i + 1}", name=name, sysid=i + 1, url=url)
            for i, (name, url) in enumerate(zip(names, fleet.connection_strings, strict=False))]


def _airborne(fleet: Any, index: int) -> bool:
    snap = fleet.vehicle(index).snapshot()
    return bool(snap.armed and snap.alt_rel_m > 30.0 and snap.mode == "AUTO")


class Workers:
    """Worker processes of one shared run, their output files, killed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, worker_id: str, args: list[str]) -> None:
        out = (self.tmp_path / f"{worker_id}.out").open("wb")
        err = (self.tmp_path / f"{worker_id}.err").open("wb")
        self.procs[worker_id] = subprocess.Popen(
            [sys.executable, "-m", "tests.gcs.fleet.failover_worker", "--worker-id", worker_id,
             *args], cwd=REPO, stdout=out, stderr=err)
        out.close()
        err.close()

    def lines(self, worker_id: str) -> list[list[str]]:
        text = (self.tmp_path / f"{worker_id}.out").read_text(encoding="utf-8")
        return [line.split() for line in text.splitlines() if line.strip()]

    def stderr_tail(self, worker_id: str) -> str:
        text = (self.tmp_path / f"{worker_id}.err").read_text(encoding="utf-8", errors="replace")
        return text[-4000:]

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Worker processes started by the test, killed after it."""
    started = Workers(tmp_path)
    yield started
    started.kill_all()


def _owners(db: Path) -> dict[str, str]:
    table = LeaseTable(db)
    try:
        return {k: v.worker_id for k, v in table.owners(f"{HUB}/").items()}
    finally:
        table.close()


@pytest.mark.slow
def test_a_worker_killed_mid_flight_is_taken_over(fleet_sim: Any, tmp_path: Path,
                                                  workers: Workers) -> None:
    """Two worker processes split two simulated vehicles; the one flying vehicle 2's first
    sortie (drops still to do) is killed with SIGKILL. The other holds its lease within 10 s,
    monitors that flight to its end and flies the vehicle's later sortie: every parcel is
    delivered once, one flight row per sortie, no alert or event recorded twice, and the flight
    in the air was completed, not flown again."""
    case: FleetCase = tutorial_case(2)
    plan = case.plan
    fleet = fleet_sim(case, 2)
    specs = _specs(plan, fleet)
    db = tmp_path / "fly.db"
    plan_path = tmp_path / "plan.json"
    write_plan_json(plan_path, plan)
    FlightLog(db).close()  # the schema made once, before the workers start together
    LeaseTable(db).close()
    args = ["--db", str(db), "--plan", str(plan_path), "--scenario", str(TUTORIAL),
            "--hub", HUB, "--expect-workers", "2", "--ttl", "3",
            *[f"--vehicle={s.name}={s.sysid}@{s.url}" for s in specs]]
    for worker_id in ("a", "b"):
        workers.start(worker_id, args)
    wait_until(lambda: len(set(_owners(db).values())) == 2, 120.0,
               "each worker holding a vehicle")
    owners = _owners(db)
    victim = owners[f"{HUB}/2"]
    survivor = owners[f"{HUB}/1"]
    assert victim != survivor
    wait_until(lambda: _airborne(fleet, 1), 120.0, "vehicle 2 airborne on its first sortie")
    assert fleet.vehicle(1).snapshot().gripper_released_count < 3  # S002 has drops to do
    log = FlightLog(db)
    run = log.unfinished_run()
    assert run is not None
    [in_air] = [f for f in log.flights(run.id) if f.sysid == 2 and f.state == "flying"]

    os.kill(workers.procs[victim].pid, signal.SIGKILL)
    killed_at = time.time()
    workers.procs[victim].wait(10)
    wait_until(lambda: _owners(db).get(f"{HUB}/2") == survivor, TAKEOVER_LIMIT_S,
               "the survivor holding vehicle 2")
    wait_until(lambda: ["ready", f"{HUB}/2", "2"] in
               [line[:3] for line in workers.lines(survivor)], TAKEOVER_LIMIT_S,
               "the survivor monitoring vehicle 2")
    seen = {line[0]: float(line[3]) for line in workers.lines(survivor)
            if line[1:3] == [f"{HUB}/2", "2"]}  # token 2: a new tenure, one token up
    leased_s, ready_s = seen["gained"] - killed_at, seen["ready"] - killed_at
    print(f"takeover: vehicle 2 leased by the survivor {leased_s:.2f} s after the kill, "
          f"its flight monitored again {ready_s:.2f} s after")
    assert 0 < leased_s <= ready_s <= TAKEOVER_LIMIT_S

    proc = workers.procs[survivor]
    try:
        proc.wait(900)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the survivor did not finish the run:\n{workers.stderr_tail(survivor)}")
    assert proc.returncode == 0, workers.stderr_tail(survivor)
    assert workers.lines(survivor)[-1] == ["ended"]

    ended = FlightLog(db)
    try:
        assert ended.unfinished_run() is None
        flights = ended.flights(run.id)
        events = ended.delivery_events(run.id)
        alerts = ended.alerts(run.id)
    finally:
        ended.close()
        log.close()
    per_sortie = collections.Counter(f.sortie_id for f in flights)
    assert per_sortie == {s.id: 1 for s in plan.sorties}, flights
    assert {f.state for f in flights} == {"completed"}
    delivered = collections.Counter(e["drop_id"] for e in events if e["state"] == "delivered")
    assert delivered == {d: 1 for s in plan.sorties for d in s.drop_ids}
    changes = collections.Counter((e["drop_id"], e["state"]) for e in events)
    assert max(changes.values()) == 1, changes
    # each alert once (a link lost and restored may happen more than once on a busy machine:
    # those are separate alerts, at separate times)
    same = collections.Counter((a["sysid"], a["sortie_id"], a["kind"], a["message"])
                               for a in alerts
                               if a["kind"] not in ("link_lost", "link_restored"))
    assert not same or max(same.values()) == 1, alerts
    [resumed] = [f for f in flights if f.id == in_air.id]
    assert resumed.state == "completed" and resumed.takeoff_at == in_air.takeoff_at
    assert resumed.takeoff_at is not None and resumed.takeoff_at < killed_at
    later = [f for f in flights if f.sysid == 2 and f.id != in_air.id]
    assert later and all(f.started_at > killed_at for f in later)
    planned = sum(len(s.drop_ids) for s in plan.sorties if s.vehicle == specs[1].name)
    assert fleet.vehicle(1).snapshot().gripper_released_count == planned  # not flown twice


@pytest.mark.slow
def test_a_worker_whose_lease_is_taken_stops_commanding(fleet_sim: Any, tmp_path: Path) -> None:
    """A worker flying a vehicle loses its lease mid-flight (expired on the injected clock and
    taken by another worker): it stops its thread and closes its link at once (another ground
    station is let in on the vehicle's one-client endpoint) and writes nothing more: the flight
    stays open and no drop event follows, though the vehicle goes on to deliver and land."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    fleet = fleet_sim(case, 1)
    [spec] = _specs(plan, fleet)
    now = [time.time()]
    log = FlightLog(tmp_path / "fly.db")
    leases = LeaseTable(log.engine, ttl_s=3.0, clock=lambda: now[0])
    shared = SharedFleet(plan, [spec], flight_log=log, leases=leases, worker_id="a",
                         group=HUB, options=FlyOptions(reset_battery=True), dem=case.dem,
                         drone_types=case.scenario.drone_types, settle_s=0.0)
    run = shared.open()
    shared.start()
    try:
        wait_until(lambda: _airborne(fleet, 0), 120.0, "take-off")
        [flight] = log.flights(run.id)
        assert flight.state == "flying"
        tenure = shared.tenure(spec.key)
        assert tenure is not None and tenure.alive
        now[0] += 10.0  # a's lease has expired: another worker takes the vehicle
        taken = LeaseTable(log.engine, ttl_s=3.0, clock=lambda: now[0]).acquire(spec.key, "b")
        assert taken is not None and taken.token == 2
        wait_until(lambda: not shared.held() and tenure.join(0.0), 10.0, "a stopping")
        events_at_loss = len(log.delivery_events(run.id))
        with Link(spec.url, heartbeat_period_s=0.04) as other:
            heard = other.wait(lambda m: m.get_type() == "HEARTBEAT"
                               and m.get_srcSystem() == 1, 10.0)
            assert heard is not None  # a let go of the vehicle's only TCP client slot
            wait_until(lambda: fleet.vehicle(0).snapshot().gripper_released_count == 1, 120.0,
                       "the drop released")
            wait_until(lambda: not fleet.vehicle(0).snapshot().armed, 120.0, "landing")
        [flight] = log.flights(run.id)
        assert flight.state == "flying"  # a recorded nothing after the loss
        assert len(log.delivery_events(run.id)) == events_at_loss
        assert [e["state"] for e in log.delivery_events(run.id)] == ["en_route"]
    finally:
        shared.stop()
        leases.close()
        log.close()


def test_a_parcel_an_earlier_version_delivered_is_not_flown_by_workers(
        fleet_sim: Any, tmp_path: Path) -> None:
    """A shared run told of drops an earlier version of the plan delivered (the console's
    ``delivered_before``) skips their sortie naming where, records them delivered, and nothing
    takes off; re-sent, the same sortie flies."""
    case = tutorial_case(3)
    plan = one_sortie(case)
    [sortie] = plan.sorties
    fleet = fleet_sim(case, 1)
    [spec] = _specs(plan, fleet)
    log = FlightLog(tmp_path / "fly.db")
    leases = LeaseTable(log.engine, ttl_s=3.0)
    delivered = {d: "plan version 1, run 7" for d in sortie.drop_ids}
    try:
        for resend in (False, True):
            shared = SharedFleet(plan, [spec], flight_log=log, leases=leases, worker_id="a",
                                 group=HUB, options=FlyOptions(reset_battery=True),
                                 dem=case.dem, drone_types=case.scenario.drone_types,
                                 settle_s=0.0, delivered_before=delivered,
                                 resend_delivered=resend)
            run = shared.open()
            shared.start()
            try:
                if not resend:
                    wait_until(lambda s=shared: s.serve(timeout_s=0.5, poll_s=0.2), 60.0,
                               "the run to end")
                    assert log.flights(run.id) == []
                    states = log.drop_states(run.id)
                    assert {d: st for d, (st, _) in states.items()} == \
                        dict.fromkeys(sortie.drop_ids, "delivered")
                    assert all("plan version 1, run 7" in (why or "")
                               for _, why in states.values())
                    assert not fleet.vehicle(0).snapshot().armed
                else:
                    wait_until(lambda: _airborne(fleet, 0), 120.0, "the re-sent sortie's "
                               "take-off")
            finally:
                shared.stop()
    finally:
        leases.close()
        log.close()
