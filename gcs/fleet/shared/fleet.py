"""A worker's part of a plan flown by several worker processes sharing one database.

Every worker is given the plan and the vehicles it could serve; each vehicle is flown by the one
worker holding its lease (:mod:`gcs.fleet.ownership`): a :class:`SharedFleet` starts a
:class:`~gcs.fleet.shared.tenure.VehicleTenure` for each vehicle it takes and stops it the
moment the lease is lost. The run record is shared (:mod:`gcs.fleet.shared.run`): each worker
records only its own vehicles' flights, alerts and drop events, and the run ends once every
sortie of the plan is over, whichever worker flew it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from gcs.errors import FleetError
from gcs.fleet.leases import Lease, LeaseTable
from gcs.fleet.logs import FlightLog, RunRecord
from gcs.fleet.manager import plan_key
from gcs.fleet.options import FlyOptions
from gcs.fleet.ownership import Ownership
from gcs.fleet.shared.run import end_run_if_over, open_shared_run, run_ended
from gcs.fleet.shared.tenure import SharedRun, VehicleSpec, VehicleTenure
from gcs.fleet.status import VehicleStatus
from gcs.telemetry import TelemetryHub
from planner.plan_model import Plan
from planner.scenario import DroneType
from planner.terrain import Dem

log = logging.getLogger(__name__)

#: What a worker reports: ``(event, lease)``, event ``"gained"``, ``"ready"`` (the vehicle is
#: heard and monitored or flown) or ``"lost"``.
Report = Callable[[str, Lease], None]


class SharedFleet:
    """Flies the vehicles this worker holds, of a plan several workers share.

    Parameters
    ----------
    plan
        The plan (every worker has the same).
    vehicles
        The vehicles this worker could serve; every plan vehicle of theirs flies the plan
        vehicle's sorties.
    flight_log
        The shared flight log.
    leases
        The shared lease table (its time to live sets how fast a dead worker's vehicles are
        taken over).
    worker_id
        This worker, unique among the live ones.
    group
        Workers sharing a group split its vehicles (a hub id).
    options
        How to fly.
    dem, drone_types
        As for :class:`~gcs.fleet.manager.FleetManager`.
    plan_path
        Where the plan was read from (recorded in a run this worker opens).
    follow_speed
        Each vehicle's ``SIM_SPEEDUP`` sets its time scale.
    report
        Called with ``("gained", lease)`` and ``("lost", lease)`` (from the ownership thread),
        and ``("ready", lease)`` once the vehicle is heard and monitored (from its tenure).
    expect_workers, settle_s
        How many workers start together, and the longest wait for them before taking
        vehicles (:class:`~gcs.fleet.ownership.Ownership`).
    ownership
        The worker's running ownership of its vehicles, shared with what else it does with
        them (a bus worker's telemetry): the run flies the vehicles of ``vehicles`` it holds,
        and :meth:`stop` leaves it running. None: an ownership of ``vehicles`` of its own.
    telemetry
        The worker's telemetry hub, whose links the vehicles are flown on (see
        :class:`~gcs.fleet.shared.tenure.SharedRun`); None: each opens its ``url``.
    delivered_before, resend_delivered
        Parcels earlier versions of the plan delivered, and whether delivered parcels are
        flown again (see :class:`~gcs.fleet.shared.tenure.SharedRun`).
    """

    def __init__(self, plan: Plan, vehicles: Sequence[VehicleSpec], *, flight_log: FlightLog,
                 leases: LeaseTable, worker_id: str, group: str = "",
                 options: FlyOptions | None = None, dem: Dem | None = None,
                 drone_types: Mapping[str, DroneType] | None = None,
                 plan_path: str | None = None, follow_speed: bool = True,
                 report: Report | None = None, expect_workers: int = 1,
                 settle_s: float | None = None, ownership: Ownership | None = None,
                 telemetry: TelemetryHub | None = None,
                 delivered_before: Mapping[str, str] | None = None,
                 resend_delivered: bool = False) -> None:
        names = {s.vehicle for s in plan.sorties}
        unknown = sorted(v.name for v in vehicles if v.name not in names)
        if unknown:
            raise FleetError(f"no sorties for plan vehicle(s) {', '.join(unknown)}")
        keys = [v.key for v in vehicles]
        if len(set(keys)) != len(keys):
            raise FleetError(f"vehicle keys repeated: {sorted(keys)}")
        self.plan = plan
        self.vehicles = {v.key: v for v in vehicles}
        self.flight_log = flight_log
        self.leases = leases
        self.worker_id = worker_id
        self.options = options or FlyOptions()
        self.dem = dem
        self.drone_types = dict(drone_types or {})
        self.plan_path = plan_path
        self.follow_speed = follow_speed
        self.report = report
        self.telemetry = telemetry
        self.delivered_before = dict(delivered_before or {})
        self.resend_delivered = resend_delivered
        self.run: RunRecord | None = None
        self._shared: SharedRun | None = None
        self._lock = threading.Lock()
        self._tenures: dict[str, tuple[int, VehicleTenure]] = {}
        self._ended = threading.Event()
        self._external = ownership is not None
        self._forget: Callable[[], None] | None = None
        self.ownership = ownership if ownership is not None else Ownership(
            leases, worker_id, self.vehicles, group=group, on_gained=self._gained,
            on_lost=self._lost, expect_workers=expect_workers, settle_s=settle_s)

    # -- life cycle ---------------------------------------------------------------------------
    def open(self, *, join_only: bool = False) -> RunRecord:
        """Open (or join) the plan's unfinished run; with ``join_only`` only join it.

        Raises
        ------
        FleetError
            As :func:`~gcs.fleet.shared.run.open_shared_run`.
        """
        self.run = open_shared_run(self.flight_log, self.leases, plan_key=plan_key(self.plan),
                                   plan_name=self.plan.scenario, plan_path=self.plan_path,
                                   worker_id=self.worker_id, join_only=join_only)
        self._shared = SharedRun(plan=self.plan, run=self.run, flight_log=self.flight_log,
                                 options=self.options, dem=self.dem,
                                 drone_types=self.drone_types, follow_speed=self.follow_speed,
                                 telemetry=self.telemetry,
                                 delivered_before=self.delivered_before,
                                 resend_delivered=self.resend_delivered)
        return self.run

    def start(self) -> None:
        """Start taking and flying vehicles (call :meth:`open` first)."""
        if self._shared is None:
            raise FleetError("no run: call open() first")
        if not self._external:
            self.ownership.start()
            return
        self._forget = self.ownership.listen(self._gained, self._lost)
        for lease in self.ownership.held().values():
            self._gained(lease)

    def serve(self, timeout_s: float | None = None, poll_s: float = 1.0) -> bool:
        """Fly until the run has ended (by any worker) or ``timeout_s``; whether it ended."""
        run = self.run
        if run is None:
            raise FleetError("no run: call open() first")
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._ended.is_set():
            if end_run_if_over(self.flight_log, self.leases, run, self.plan,
                               worker_id=self.worker_id):
                self._ended.set()
                break
            if end is not None and time.monotonic() > end:
                return False
            self._ended.wait(poll_s)
        return True

    def stop(self) -> None:
        """Stop flying: every vehicle's tenure is stopped, then the leases are released
        (an ownership given to the fleet keeps its leases and runs on)."""
        if self._external:
            self._unlisten()
            for _, tenure in self._take_all():
                tenure.stop()
                tenure.join(5.0)
            return
        self.ownership.stop()
        for _, tenure in self._take_all():
            tenure.join(5.0)

    def _unlisten(self) -> None:
        forget, self._forget = self._forget, None
        if forget is not None:
            forget()

    def abandon(self) -> None:
        """Stop every tenure at once, release nothing and write nothing more: as a worker
        that died (its leases expire)."""
        if self._external:
            self._unlisten()
        else:
            self.ownership.abandon()
        for _, tenure in self._take_all():
            tenure.stop()

    def _take_all(self) -> list[tuple[int, VehicleTenure]]:
        with self._lock:
            out = list(self._tenures.values())
            self._tenures.clear()
        return out

    # -- state --------------------------------------------------------------------------------
    def held(self) -> dict[str, Lease]:
        """The vehicles this worker holds: key -> lease."""
        return self.ownership.held()

    def tenure(self, key: str) -> VehicleTenure | None:
        """The tenure of a held vehicle."""
        with self._lock:
            found = self._tenures.get(key)
        return None if found is None else found[1]

    def announce(self, key: str, mode: str) -> Callable[[], None]:
        """Tell the monitor of held vehicle ``key`` an operator is switching it to ``mode``
        (see :meth:`VehicleTenure.announce`); returns the undo (nothing for a vehicle not
        flown here)."""
        tenure = self.tenure(key)
        if tenure is None:
            return lambda: None
        return tenure.announce(mode)

    def statuses(self) -> tuple[VehicleStatus, ...]:
        """The status of every vehicle held, by plan name."""
        with self._lock:
            tenures = [t for _, t in self._tenures.values()]
        out = [s for t in tenures if (s := t.status()) is not None]
        return tuple(sorted(out, key=lambda s: s.name))

    # -- ownership callbacks ------------------------------------------------------------------
    def _gained(self, lease: Lease) -> None:
        shared = self._shared
        spec = self.vehicles.get(lease.vehicle)
        if spec is None or shared is None or run_ended(self.flight_log, shared.run.id):
            return
        token = lease.token
        with self._lock:
            if self._tenures.get(spec.key, (None,))[0] == token:
                return   # told twice (the listener and the leases held at start)
            tenure = VehicleTenure(
                shared, spec, holds=lambda: self.ownership.holds(spec.key, token),
                on_unreachable=lambda s: self.ownership.give_up(s.key),
                on_done=self._tenure_done,
                on_ready=lambda s: self.report("ready", lease) if self.report else None)
            self._tenures[spec.key] = (token, tenure)
        tenure.start()
        if self.report is not None:
            self.report("gained", lease)

    def _lost(self, lease: Lease) -> None:
        with self._lock:
            found = self._tenures.get(lease.vehicle)
            if found is not None and found[0] == lease.token:
                del self._tenures[lease.vehicle]
        if found is not None:
            found[1].stop()
        if self.report is not None and lease.vehicle in self.vehicles:
            self.report("lost", lease)

    def _tenure_done(self, spec: VehicleSpec) -> None:
        log.info("%s: tenure ended", spec.key)


def run_shared_worker(plan: Plan, vehicles: Sequence[VehicleSpec], *, flight_log: FlightLog,
                      leases: LeaseTable, worker_id: str, group: str = "",
                      options: FlyOptions | None = None, dem: Dem | None = None,
                      drone_types: Mapping[str, DroneType] | None = None,
                      plan_path: str | None = None, follow_speed: bool = True,
                      timeout_s: float | None = None, report: Report | None = None,
                      expect_workers: int = 1, settle_s: float | None = None) -> bool:
    """Serve as one worker of a shared run until it ends (or ``timeout_s``): join or open the
    plan's run, take a fair share of ``vehicles`` and any a dead worker leaves, fly them, and
    release them at the end. Returns whether the run ended.

    Parameters are those of :class:`SharedFleet`.
    """
    fleet = SharedFleet(plan, vehicles, flight_log=flight_log, leases=leases,
                        worker_id=worker_id, group=group, options=options, dem=dem,
                        drone_types=drone_types, plan_path=plan_path,
                        follow_speed=follow_speed, report=report,
                        expect_workers=expect_workers, settle_s=settle_s)
    fleet.open()
    fleet.start()
    try:
        return fleet.serve(timeout_s)
    finally:
        fleet.stop()
