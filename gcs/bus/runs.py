"""A bus worker flying the runs consoles request (:class:`~gcs.bus.messages.RunRequest`).

An upload request (``upload`` true) flies nothing: each worker uploads and verifies the first
sortie still to fly of every requested vehicle it owns, and reports each ``verified`` (what was
uploaded) or ``not_verified`` (why not), as the console's Upload does on its own links.

Every worker of the hub receives the request. Each one joins the plan's shared run in the
flight-log database they share (:class:`gcs.fleet.shared.SharedFleet`) over the requested
vehicles it hears, and flies those it holds the lease of: the same leases as its telemetry
(:class:`gcs.bus.leases.LeaseKeeper`), so that a vehicle is published, commanded and flown by
one worker, and a dead worker's vehicles are taken over, their flights in the air monitored to
their end without a new flight row or a repeated delivery event. The plan comes in the request
(its ``plan.json`` text; checked against its plan key); terrain and drone types come from the
worker's own scenario folder (``dropline worker --scenario``).

A console leaves the run request retained on the broker while the run flies, so that a worker
started (or restarted) later gets it and joins the run in progress (a request older than
:data:`RUN_JOIN_AGE_S` never opens a run: the run may be over). Each worker reports on the run's
progress topic: ``joined`` (with the flight log's run id),
``gained``/``ready``/``lost`` a vehicle, ``ended`` once every sortie is over (whichever worker
flew it), ``left`` at a clean stop, ``refused`` a request it cannot serve. It publishes the
delivery events of the vehicles it holds on their ``drop`` topics, read from the flight log
(so a taken-over flight's events are not published twice by one worker).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gcs.bus.client import BusClient
from gcs.bus.leases import LeaseKeeper, vehicle_key
from gcs.bus.messages import DropMessage, RunProgress, RunRequest
from gcs.bus.topics import run_topic, vehicle_topic
from gcs.errors import FleetError, GroundControlError
from gcs.fleet.leases import Lease, LeaseTable
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import plan_key
from gcs.fleet.options import FlyOptions
from gcs.fleet.prepare import prepare_vehicle
from gcs.fleet.shared import SharedFleet, VehicleSpec
from gcs.fleet.shared.tenure import delivered_elsewhere
from gcs.telemetry import TelemetryHub
from gcs.transfer import Target
from planner.errors import DroplineError
from planner.io.planfile import read_plan_json
from planner.plan_model import Plan
from planner.scenario import DroneType
from planner.terrain import Dem

log = logging.getLogger(__name__)

#: A run request sent longer ago than this (s) joins the plan's run in progress only, never
#: opens one: a worker started (or restarted) while the run flies gets the request the console
#: left retained on the broker, and must not fly a run that has ended again.
RUN_JOIN_AGE_S = 30.0

#: What a worker needs of its scenario: the terrain and the drone types.
Terrain = tuple[Dem | None, Mapping[str, DroneType]]


def plan_from_json(text: str) -> Plan:
    """The plan of a ``plan.json`` text.

    Raises
    ------
    PlanFileError
        As :func:`planner.io.planfile.read_plan_json`.
    """
    with tempfile.TemporaryDirectory(prefix="dropline-run-") as folder:
        path = Path(folder) / "plan.json"
        path.write_text(text, encoding="utf-8")
        return read_plan_json(path)


def request_plan(request: RunRequest) -> Plan:
    """The plan a run request carries.

    Raises
    ------
    PlanFileError
        Its ``plan.json`` text is not a plan.
    GroundControlError
        The plan is not the request's plan key.
    """
    plan = plan_from_json(request.plan_json)
    if plan_key(plan) != request.plan_key:
        raise GroundControlError(f"the plan sent is not plan key {request.plan_key}")
    return plan


class RunServer:
    """Serves the run requests of one bus worker (see the module's description).

    Parameters
    ----------
    hub, worker_id
        The worker.
    client
        Its broker connection (progress and drop events are published on it).
    telemetry
        The worker's telemetry hub: the vehicles are flown on its links.
    keeper
        The worker's leases.
    leases, flight_log
        The shared lease table and flight log.
    terrain
        Loads the worker's terrain and drone types (called once, at the first request).
    """

    def __init__(self, *, hub: str, worker_id: str, client: BusClient,
                 telemetry: TelemetryHub, keeper: LeaseKeeper,
                 leases: LeaseTable, flight_log: FlightLog,
                 terrain: Callable[[], Terrain]) -> None:
        self.hub = hub
        self.worker_id = worker_id
        self.client = client
        self.telemetry = telemetry
        self.keeper = keeper
        self.leases = leases
        self.flight_log = flight_log
        self.terrain = terrain
        self._terrain: Terrain | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fleet: SharedFleet | None = None
        self._plan_key: str | None = None
        self._run_id: int | None = None

    # -- requests -----------------------------------------------------------------------------
    def handle(self, request: RunRequest) -> None:
        """Serve ``request`` in a thread of its own (a repeated request of the run being flown
        is ignored; another plan while one flies is refused)."""
        if request.upload:
            threading.Thread(target=self._upload, args=(request,), daemon=True,
                             name=f"upload {request.id}").start()
            return
        with self._lock:
            busy = self._thread is not None and self._thread.is_alive()
            if busy and self._plan_key == request.plan_key:
                return
            if busy or self._stop.is_set():
                self._progress(request, "refused", detail="this worker is flying another plan"
                               if busy else "this worker is stopping")
                return
            self._plan_key = request.plan_key
            self._thread = threading.Thread(target=self._serve, args=(request,), daemon=True,
                                            name=f"run {request.id}")
            self._thread.start()

    def announce(self, sysid: int, mode: str) -> Callable[[], None]:
        """Tell the run's monitor of vehicle ``sysid`` an operator is switching it to
        ``mode`` before the worker commands it, so that the failsafe rules know the mode
        change is no failure; returns the undo (nothing while no run flies it here)."""
        fleet = self._fleet
        if fleet is None:
            return lambda: None
        return fleet.announce(vehicle_key(self.hub, sysid), mode)

    def close(self) -> None:
        """Stop serving: the vehicles' tenures end (the leases stay with the keeper)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(15.0)

    def _progress(self, request: RunRequest, state: str, *, run_id: int | None = None,
                  sysid: int | None = None, detail: str | None = None) -> None:
        msg = RunProgress(worker=self.worker_id, at_s=round(time.time(), 3), state=state,
                          run_id=run_id, sysid=sysid, detail=detail)
        self.client.publish(run_topic(self.hub, request.id, "progress"), msg.to_payload(),
                            qos=1)

    def _refuse(self, request: RunRequest, exc: Exception) -> None:
        """Answer ``refused`` to a request this worker cannot serve, saying why (an
        unexpected error logged with its traceback)."""
        if isinstance(exc, (DroplineError, OSError)):
            log.error("request %s refused: %s", request.id, exc)
            self._progress(request, "refused", detail=str(exc))
        else:
            log.exception("request %s failed", request.id)
            self._progress(request, "refused", detail=f"failed: {exc}")

    # -- an upload ----------------------------------------------------------------------------
    def _upload(self, request: RunRequest) -> None:
        """Upload and verify the first sortie still to fly of each requested vehicle this
        worker owns and hears, all at once, answering ``verified`` or ``not_verified`` for
        each (a sortie whose parcel a run or an earlier version of the plan delivered is not
        flown unless the request re-sends delivered parcels, as in
        :class:`gcs.fleet.FleetManager`)."""
        with self._lock:
            busy = self._thread is not None and self._thread.is_alive()
        if busy:
            self._progress(request, "refused", detail="this worker is flying a plan")
            return
        try:
            plan = request_plan(request)
            delivered = delivered_elsewhere(self.flight_log, request.plan_key,
                                            request.delivered_before,
                                            resend_delivered=request.resend_delivered)
        except Exception as exc:
            self._refuse(request, exc)
            return
        options = FlyOptions(reset_battery=request.reset_battery)
        mine = [(name, sysid) for name, sysid in sorted(request.vehicles.items())
                if self.keeper.owns(sysid) and self.telemetry.link_of(sysid) is not None]

        def one(name: str, sysid: int) -> None:
            sorties = sorted((x for x in plan.sorties if x.vehicle == name
                              and not any(d in delivered for d in x.drop_ids)),
                             key=lambda x: (x.start_s, x.id))
            link = self.telemetry.link_of(sysid)
            if not sorties or link is None:
                self._progress(request, "verified", sysid=sysid, detail="nothing to fly")
                return
            first = sorties[0]
            try:
                prepare_vehicle(link, Target(sysid=sysid), first, config=options.config,
                                retry=options.retry, attempts=options.upload_attempts,
                                stopping=self._stop.is_set)
            except GroundControlError as exc:
                self._progress(request, "not_verified", sysid=sysid, detail=str(exc))
                return
            except Exception as exc:
                log.exception("vehicle %d: upload failed", sysid)
                self._progress(request, "not_verified", sysid=sysid, detail=f"failed: {exc}")
                return
            self._progress(request, "verified", sysid=sysid,
                           detail=f"sortie {first.id}: mission {len(first.mission)}, fence "
                                  f"{len(first.fence)}, rally {len(first.rally)} items verified")

        threads = [threading.Thread(target=one, args=pair, daemon=True,
                                    name=f"upload {request.id} {pair[1]}") for pair in mine]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- one run ------------------------------------------------------------------------------
    def _serve(self, request: RunRequest) -> None:
        late = time.time() - request.sent_at_s > RUN_JOIN_AGE_S
        try:
            plan = request_plan(request)
            if self._terrain is None:
                self._terrain = self.terrain()
            dem, drone_types = self._terrain
            specs = self._specs(request)
            fleet = SharedFleet(
                plan, specs, flight_log=self.flight_log, leases=self.leases,
                worker_id=self.worker_id, group=self.hub,
                options=FlyOptions(reset_battery=request.reset_battery), dem=dem,
                drone_types=drone_types, plan_path=request.plan_path, follow_speed=True,
                report=lambda event, lease: self._report(request, event, lease),
                ownership=self.keeper.ownership, telemetry=self.telemetry,
                delivered_before=request.delivered_before,
                resend_delivered=request.resend_delivered)
            run = fleet.open(join_only=late)
        except FleetError as exc:
            if not late:
                self._refuse(request, exc)
                return
            log.info("run request %s (sent %.0f s ago) not joined: %s", request.id,
                     time.time() - request.sent_at_s, exc)
            return
        except Exception as exc:
            self._refuse(request, exc)
            return
        self._fleet = fleet
        self._run_id = run.id
        self._progress(request, "joined", run_id=run.id)
        log.info("worker %s joined run %d of plan %s", self.worker_id, run.id, request.plan_id)
        sysids = {s.key: s.sysid for s in specs}
        sortie_sysid = {s.id: request.vehicles.get(s.vehicle) for s in plan.sorties}
        published: dict[str, str] = {}
        ended = False
        fleet.start()
        try:
            while not self._stop.is_set() and not ended:
                ended = fleet.serve(timeout_s=1.0, poll_s=0.5)
                self._publish_drops(run.id, fleet, sysids, sortie_sysid, published)
        except Exception:
            log.exception("run %d: serving failed", run.id)
        finally:
            fleet.stop()
            self._fleet = None
        self._publish_drops(run.id, fleet, sysids, sortie_sysid, published, final=True)
        self._progress(request, "ended" if ended else "left", run_id=run.id)
        log.info("worker %s %s run %d", self.worker_id, "ended" if ended else "left", run.id)

    def _specs(self, request: RunRequest) -> list[VehicleSpec]:
        """Every vehicle of the request: the worker flies those it comes to own, which are
        among those it hears (a vehicle not heard yet may be later: a takeover)."""
        specs = []
        for name, sysid in sorted(request.vehicles.items()):
            link = self.telemetry.link_of(sysid)
            url = link.url if link is not None else f"the links of worker {self.worker_id}"
            specs.append(VehicleSpec(key=vehicle_key(self.hub, sysid), name=name, sysid=sysid,
                                     url=url))
        return specs

    def _report(self, request: RunRequest, event: str, lease: Lease) -> None:
        sysid = int(lease.vehicle.rsplit("/", 1)[1])
        self._progress(request, event, run_id=self._run_id, sysid=sysid)

    def _publish_drops(self, run_id: int, fleet: SharedFleet, sysids: Mapping[str, int],
                       sortie_sysid: Mapping[str, int | None], published: dict[str, str], *,
                       final: bool = False) -> None:
        """Publish the delivery events recorded since the last call for the vehicles held
        (all of them once the run is over, ``final``: a vehicle's last events may be recorded
        just before its lease ends)."""
        held = {sysids[k] for k in fleet.held() if k in sysids}
        try:
            events = self.flight_log.delivery_events(run_id)
        except Exception as exc:   # the database is away for a moment: next time
            log.warning("run %d: delivery events not read: %s", run_id, exc)
            return
        last: dict[str, dict[str, object]] = {}
        for row in events:
            last[str(row["drop_id"])] = row
        for drop_id, row in last.items():
            sysid = sortie_sysid.get(str(row["sortie_id"])) if row.get("sortie_id") else None
            state = str(row["state"])
            if sysid is None or published.get(drop_id) == state:
                continue
            if sysid not in held and not final:
                continue
            if final and sysid not in sysids.values():
                continue
            published[drop_id] = state
            msg = DropMessage(worker=self.worker_id, at_s=round(time.time(), 3),
                              drop_id=drop_id, state=state,
                              sortie_id=str(row["sortie_id"]))
            self.client.publish(vehicle_topic(self.hub, sysid, "drop"), msg.to_payload(),
                                qos=1)
