"""The run several workers share in one flight-log database: opened once, read per vehicle,
ended once every sortie of the plan is over.

Workers coordinate through the database only. Opening the run and ending it happen under a
lease on the key ``run:<plan key>`` (:class:`~gcs.fleet.leases.LeaseTable` used as a mutex), so
that workers starting together open one run, not one each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from gcs.errors import FleetError
from gcs.fleet.leases import Lease, LeaseTable
from gcs.fleet.logs import FLIGHT_DONE, FlightLog, RunRecord, runs
from gcs.fleet.tracking import FINAL_STATES, DropState
from planner.plan_model import Plan, Sortie

log = logging.getLogger(__name__)

#: How often (s) a worker waiting for the run's lease asks again.
_RETRY_S = 0.1


def run_lock_key(plan_key: str) -> str:
    """The lease key guarding the opening and end of the runs of a plan."""
    return f"run:{plan_key}"


def _locked(leases: LeaseTable, key: str, worker_id: str, timeout_s: float) -> Lease:
    end = time.monotonic() + timeout_s
    while True:
        lease = leases.acquire(key, worker_id)
        if lease is not None:
            return lease
        if time.monotonic() > end:
            raise FleetError(f"{key} held by another worker for {timeout_s:g} s")
        time.sleep(_RETRY_S)


def open_shared_run(flight_log: FlightLog, leases: LeaseTable, *, plan_key: str,
                    plan_name: str, plan_path: str | None, worker_id: str,
                    timeout_s: float = 30.0, join_only: bool = False) -> RunRecord:
    """The unfinished run of the plan, opened by whichever worker comes first (with
    ``join_only``, never opened: a worker joining late, after the run may have ended).

    Raises
    ------
    FleetError
        Another worker held the run's lease for ``timeout_s``, or ``join_only`` and the plan
        has no unfinished run.
    """
    lease = _locked(leases, run_lock_key(plan_key), worker_id, timeout_s)
    try:
        if join_only:
            found = flight_log.unfinished_run(plan_key)
            if found is None:
                raise FleetError(f"plan {plan_key} has no run in progress to join")
            return found
        return flight_log.start_run(plan_key=plan_key, plan_name=plan_name, plan_path=plan_path,
                                    resume=True)
    finally:
        leases.release(lease)


def run_ended(flight_log: FlightLog, run_id: int) -> bool:
    """Whether the run has ended (by any worker)."""
    with flight_log.engine.connect() as conn:
        ended = conn.execute(sa.select(runs.c.ended_at).where(runs.c.id == run_id)).first()
    return ended is None or ended.ended_at is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleHistory:
    """What a run holds of one plan vehicle's sorties, for a worker taking the vehicle over.

    ``done``: sorties over (a flight completed or failed, or every drop delivered or failed);
    ``flying``: sortie -> the flight in the air to monitor; ``preparing``: sortie -> a flight
    whose owner stopped before take-off; ``drop_states``: drop -> last state and detail.
    """

    done: frozenset[str]
    flying: Mapping[str, int]
    preparing: Mapping[str, int]
    drop_states: Mapping[str, tuple[str, str | None]]


def _final(state: str) -> bool:
    return state in {str(s) for s in FINAL_STATES}


def sortie_over(sortie: Sortie, flight_states: Sequence[str],
                drop_states: Mapping[str, tuple[str, str | None]]) -> bool:
    """A sortie is over when none of its flights is open and one of them ended, or every one
    of its drops was delivered or failed."""
    if any(s in ("preparing", "flying") for s in flight_states):
        return False
    if any(s in FLIGHT_DONE for s in flight_states):
        return True
    return all(_final(drop_states.get(d, ("queued", None))[0]) for d in sortie.drop_ids)


def vehicle_history(flight_log: FlightLog, run_id: int,
                    sorties: Sequence[Sortie]) -> VehicleHistory:
    """The state of ``sorties`` (one plan vehicle's) in run ``run_id``."""
    ids = {s.id for s in sorties}
    flights = [f for f in flight_log.flights(run_id) if f.sortie_id in ids]
    drops = {d: st for d, st in flight_log.drop_states(run_id).items()
             if any(d in s.drop_ids for s in sorties)}
    done = frozenset(s.id for s in sorties if sortie_over(
        s, [f.state for f in flights if f.sortie_id == s.id], drops))
    return VehicleHistory(
        done=done,
        flying={f.sortie_id: f.id for f in flights if f.state == "flying"},
        preparing={f.sortie_id: f.id for f in flights if f.state == "preparing"},
        drop_states=drops)


def run_outcome(flight_log: FlightLog, run_id: int, plan: Plan) -> str | None:
    """How the run ended once every sortie of ``plan`` is over; None while one is not."""
    flights = flight_log.flights(run_id)
    drops = flight_log.drop_states(run_id)
    for sortie in plan.sorties:
        if not sortie_over(sortie, [f.state for f in flights if f.sortie_id == sortie.id],
                           drops):
            return None
    delivered = all(drops.get(d, ("queued", None))[0] == DropState.DELIVERED
                    for s in plan.sorties for d in s.drop_ids)
    return "all delivered" if delivered else "not every drop delivered"


def end_run_if_over(flight_log: FlightLog, leases: LeaseTable, run: RunRecord, plan: Plan, *,
                    worker_id: str, timeout_s: float = 30.0) -> bool:
    """End the run if every sortie is over (once, under the run's lease); whether it has
    ended."""
    if run_ended(flight_log, run.id):
        return True
    if run_outcome(flight_log, run.id, plan) is None:
        return False
    lease = _locked(leases, run_lock_key(run.plan_key), worker_id, timeout_s)
    try:
        outcome = run_outcome(flight_log, run.id, plan)
        if run_ended(flight_log, run.id) or outcome is None:
            return outcome is not None
        flight_log.end_run(run.id, outcome)
        log.info("run %d ended: %s", run.id, outcome)
        return True
    finally:
        leases.release(lease)
