"""The fleet manager: many vehicles flying their queues of sorties from a plan at once.

Vehicles are found on one or several links (system ids must be unique across them) and matched
to the plan's vehicles (:mod:`gcs.fleet.assign`): by depot when the plan starts from several, each
plan vehicle taking a vehicle standing at its depot, otherwise in order (plan vehicle names
sorted against system ids sorted). Each vehicle then gets a thread that flies its sorties in turn
(see :mod:`gcs.fleet.worker`): configure, upload and verify mission/fence/rally (*ready* only
once every read-back matched), preflight checks, arm in GUIDED and MISSION_START, monitor until
it has landed and disarmed, turnaround, next sortie. The threads report through the fleet's
:class:`~gcs.fleet.recorder.FleetRecorder`: telemetry snapshots, drop states and alerts are
available at any time; with a :class:`~gcs.fleet.logs.FlightLog` everything is recorded as it
happens, and a new manager on the same database resumes the flights still in the air.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gcs import commands
from gcs.errors import FleetError, GroundControlError
from gcs.fleet.assign import match_fleet
from gcs.fleet.context import FleetContext
from gcs.fleet.failsafe import Alert
from gcs.fleet.logs import FLIGHT_DONE, FlightLog, RunRecord
from gcs.fleet.options import FlyOptions
from gcs.fleet.preflight import PreflightReport
from gcs.fleet.recorder import FleetRecorder
from gcs.fleet.status import Phase, VehicleStatus
from gcs.fleet.tracking import DropEvent, DropState, DropStatus, SortieTracker
from gcs.fleet.worker import VehicleWorker
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from gcs.transfer import Target
from planner.io.planfile import plan_to_json
from planner.plan_model import Plan, Sortie
from planner.scenario import DroneType
from planner.terrain import Dem

log = logging.getLogger(__name__)

__all__ = ["FleetManager", "plan_key"]


def _canonical_item(item: dict[str, Any]) -> dict[str, Any]:
    """A plan.json item with integers where MAVLink has them and floats elsewhere."""
    return {"seq": int(item["seq"]), "command": int(item["command"]),
            "frame": int(item["frame"]), "autocontinue": bool(item["autocontinue"]),
            "params": [None if p is None else float(p) for p in item["params"]],
            **{k: float(item[k]) for k in ("lat_deg", "lon_deg", "alt_m")}}


def plan_key(plan: Plan) -> str:
    """A digest identifying a plan's sorties and missions (to find its runs in a log).

    Made from the canonical JSON of the plan's content (the ``plan.json`` values: commands and
    frames as integers, floats exactly), so a plan in memory and the same plan read back from
    its ``plan.json`` have the same key.
    """
    doc = json.loads(plan_to_json(plan))
    content: dict[str, Any] = {"scenario": doc["scenario"], "sorties": [
        {k: s[k] for k in ("id", "vehicle", "drop_ids", "mission", "fence", "rally")}
        for s in doc["sorties"]]}
    for sortie in content["sorties"]:
        for name in ("mission", "fence", "rally"):
            sortie[name] = [_canonical_item(item) for item in sortie[name]]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


class FleetManager:
    """Flies a plan with the vehicles heard on ``links``.

    Parameters
    ----------
    links
        Open links to the vehicles.
    plan
        The plan to fly.
    options
        How to fly (defaults of :class:`FlyOptions` when None).
    flight_log
        Where flights, alerts and delivery events are recorded (None: nowhere).
    dem
        Terrain model for altitudes above ground in telemetry.
    drone_types
        The scenario's drone types, for each sortie's reserve and turnaround.
    plan_path
        Where the plan was read from (recorded in the log).
    resend_delivered
        Fly every sortie again, even those whose parcels a run of the same plan delivered
        (a new run is opened). Without it a drop delivered in any run of the plan is never
        flown again: a sortie whose every drop was delivered is skipped, and so is a sortie
        with some delivered drops (its other drops fail with the reason).
    delivered_before
        Drops delivered outside this plan's own runs, for example by an earlier version of the
        plan: drop id -> where (``"plan version 1, run 3"``). Treated like drops delivered in a
        run of this plan: never flown again unless ``resend_delivered``.
    clock
        Monotonic clock (s).
    serve_terrain
        Answer the vehicles' terrain requests from ``dem`` (False when another hub on the same
        links serves them already).
    """

    def __init__(self, links: Sequence[Link], plan: Plan, *, options: FlyOptions | None = None,
                 flight_log: FlightLog | None = None, dem: Dem | None = None,
                 drone_types: Mapping[str, DroneType] | None = None,
                 plan_path: str | None = None, resend_delivered: bool = False,
                 delivered_before: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 serve_terrain: bool = True) -> None:
        self.links = list(links)
        self.plan = plan
        self.options = options or FlyOptions()
        self.flight_log = flight_log
        self.drone_types = dict(drone_types or {})
        self.plan_path = plan_path
        self.resend_delivered = resend_delivered
        self.delivered_before = dict(delivered_before or {})
        self.clock = clock
        self.hub = TelemetryHub(dem=dem, stream_rate_hz=self.options.stream_rate_hz,
                                clock=clock, serve_terrain=serve_terrain)
        for link in self.links:
            self.hub.attach(link)
        self.trackers = {s.id: SortieTracker(s, time_scale=self.options.time_scale,
                                             max_release_error_m=self.options.max_release_error_m)
                         for s in plan.sorties}
        self.assignment: dict[str, int] = {}
        self._recorder = FleetRecorder(flight_log, clock=clock)
        self._stop = threading.Event()
        self._workers: list[VehicleWorker] = []
        self._threads: list[threading.Thread] = []
        self._done_sorties: set[str] = set()
        self._resume_flights: dict[str, int] = {}
        #: Sorties not flown because parcels of theirs were delivered: sortie id -> why.
        self.skipped: dict[str, str] = {}

    @property
    def run(self) -> RunRecord | None:
        """The run of the flight log this fleet records into (None without one)."""
        return self._recorder.run

    # -- set-up -------------------------------------------------------------------------------
    def connect(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Wait for the vehicles (up to ``timeout_s``) and assign them to the plan's vehicles."""
        names = sorted({s.vehicle for s in self.plan.sorties})
        matched = match_fleet(self.hub, self.plan, timeout_s, types=self.options.vehicle_types)
        self._open_run()
        recorded = {} if self.flight_log is None or self.run is None else \
            self.flight_log.vehicles(self.run.id)
        if recorded and set(recorded) == set(names) and \
                set(recorded.values()) <= set(self.hub.vehicles):
            self.assignment = dict(recorded)
        else:
            self.assignment = matched
        for name, sysid in self.assignment.items():
            link = self.hub.link_of(sysid)
            url = link.url if link is not None else "?"
            total = sum(1 for s in self.plan.sorties if s.vehicle == name)
            self._recorder.add_vehicle(VehicleStatus(name=name, sysid=sysid, link_url=url,
                                                     sorties_total=total))
        return dict(self.assignment)

    def _open_run(self) -> None:
        fl = self.flight_log
        if fl is None:
            if not self.resend_delivered:
                self._skip_delivered(self.delivered_before)
            return
        key = plan_key(self.plan)
        run = self._recorder.open_run(plan_key=key, plan_name=self.plan.scenario,
                                      plan_path=self.plan_path, resume=not self.resend_delivered)
        if run is None:
            return
        if run.resumed:
            self._restore_run(fl, run.id)
        if not self.resend_delivered:
            delivered = dict(self.delivered_before)
            delivered.update((d, f"run {r}") for d, r in fl.delivered_drops(key).items())
            self._skip_delivered(delivered)

    def _restore_run(self, fl: FlightLog, run_id: int) -> None:
        """Flights and drop states of an unfinished run: done, to monitor, or aborted."""
        for flight in fl.flights(run_id):
            if flight.state in FLIGHT_DONE:
                self._done_sorties.add(flight.sortie_id)
            elif flight.state == "flying":
                self._resume_flights[flight.sortie_id] = flight.id
            else:
                self._recorder.set_flight_state(flight.id, "aborted",
                                                reason="interrupted before take-off")
        for drop_id, (state, detail) in fl.drop_states(run_id).items():
            for tracker in self.trackers.values():
                if drop_id in tracker.sortie.drop_ids:
                    tracker.restore(drop_id, DropState(state), reason=detail)

    def _skip_delivered(self, delivered: Mapping[str, str]) -> None:
        """Sorties not flown or monitored yet whose parcels were delivered are not flown.

        ``delivered`` maps a drop id to where it was delivered (``"run 3"``).
        """
        now = self.clock()
        for sortie in self.plan.sorties:
            done = [d for d in sortie.drop_ids if d in delivered]
            if not done or sortie.id in self._done_sorties or sortie.id in self._resume_flights:
                continue
            tracker = self.trackers[sortie.id]
            events = []
            for drop_id in done:
                if tracker.status(drop_id).state != DropState.DELIVERED:
                    events.append(DropEvent(
                        drop_id=drop_id, sortie_id=sortie.id, state=DropState.DELIVERED,
                        at_s=now, detail=f"delivered in {delivered[drop_id]}"))
                    tracker.restore(drop_id, DropState.DELIVERED,
                                    reason=f"delivered in {delivered[drop_id]}")
            names = ", ".join(done)
            rest = [d for d in sortie.drop_ids if d not in delivered]
            if rest:
                reason = (f"sortie {sortie.id} not flown: {names} delivered already and its "
                          f"mission would release them again; plan {', '.join(rest)} again "
                          f"or re-send the delivered parcels")
                events += tracker.finish(now, completed=False, reason=reason)
            else:
                reason = f"sortie {sortie.id} not flown: every drop delivered already ({names})"
            self.skipped[sortie.id] = reason
            self._done_sorties.add(sortie.id)
            self._recorder.drop_events(events, None)
            log.info("%s", reason)

    def close_unmonitored(self, reason: str) -> None:
        """End a resumed run whose vehicles cannot be monitored (not heard after a restart).

        Its flights still open fail with ``reason``, their undelivered drops too, and the run
        ends.
        """
        if self.run is None:
            self._open_run()
        now = self.clock()
        for sortie_id, flight_id in sorted(self._resume_flights.items()):
            tracker = self.trackers[sortie_id]
            self._recorder.drop_events(tracker.finish(now, completed=False, reason=reason),
                                       flight_id)
            self._recorder.set_flight_state(flight_id, "failed", reason=reason)
        self._resume_flights.clear()
        self._recorder.end_run(f"stopped: {reason}")

    def follow_vehicle_speed(self) -> float:
        """Run on the assigned vehicles' clock: their ``SIM_SPEEDUP`` (1 for real vehicles).

        Call after :meth:`connect` and before :meth:`start`. The fastest vehicle sets the time
        scale of turnarounds, timeouts and monitoring, and the links' heartbeat goes out at
        least once a second of its time (its GCS failsafe is not tripped). Returns the scale.
        """
        scale = max((commands.vehicle_speedup(link, Target(sysid=sysid))
                     for sysid in self.assignment.values()
                     if (link := self.hub.link_of(sysid)) is not None), default=1.0)
        self.options = dataclasses.replace(self.options, time_scale=scale)
        for tracker in self.trackers.values():
            tracker.time_scale = scale
        for link in self.links:
            link.heartbeat_period_s = min(link.heartbeat_period_s, 1.0 / scale)
        return scale

    def will_fly(self, sortie_id: str) -> bool:
        """False for a sortie finished earlier, or skipped for its delivered parcels."""
        return sortie_id not in self._done_sorties

    def start(self, *, fly_new: bool = True) -> None:
        """Start one thread per assigned vehicle (call :meth:`connect` first).

        Without ``fly_new`` only the flights of a resumed run still in the air are monitored
        to their end; no new sortie takes off.
        """
        if not self.assignment:
            raise FleetError("no vehicles assigned: call connect() first")
        ctx = FleetContext(hub=self.hub, recorder=self._recorder, trackers=self.trackers,
                           options=self.options, drone_types=self.drone_types, clock=self.clock,
                           stop=self._stop)
        by_vehicle: dict[str, list[Sortie]] = {}
        for sortie in self.plan.sorties:
            by_vehicle.setdefault(sortie.vehicle, []).append(sortie)
        for name, sysid in self.assignment.items():
            link = self.hub.link_of(sysid)
            if link is None:
                raise FleetError(f"vehicle {sysid} ({name}) is not heard on any link")
            sorties = sorted(by_vehicle.get(name, []), key=lambda s: (s.start_s, s.id))
            worker = VehicleWorker(ctx, name=name, sysid=sysid, link=link, sorties=sorties,
                                   resume_flights=self._resume_flights,
                                   done_sorties=self._done_sorties, fly_new=fly_new)
            self._workers.append(worker)
            thread = threading.Thread(target=self._run_worker, args=(worker,), daemon=True,
                                      name=f"fleet {name}")
            self._threads.append(thread)
        for thread in self._threads:
            thread.start()

    def _run_worker(self, worker: VehicleWorker) -> None:
        try:
            worker.run()
        except Exception as exc:  # a bug must not leave the vehicle marked ready
            log.exception("vehicle %s: worker failed", worker.name)
            self._recorder.set_status(worker.name, phase=Phase.FAILED, ready=False,
                                      message=str(exc))

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until every vehicle is done; False on timeout."""
        end = None if timeout_s is None else self.clock() + timeout_s
        for thread in self._threads:
            left = None if end is None else max(0.0, end - self.clock())
            thread.join(left)
        finished = not any(t.is_alive() for t in self._threads)
        if finished and self.run is not None and not self._stop.is_set():
            outcome = "all delivered" if self.all_delivered else "not every drop delivered"
            self._recorder.end_run(outcome)
        return finished

    def stop(self) -> None:
        """Stop monitoring (vehicles in the air keep flying; their flights stay open)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self.hub.close()

    def abandon(self) -> None:
        """Stop every thread at once and write nothing more, as if the process had died."""
        self._stop.set()

    # -- state --------------------------------------------------------------------------------
    def vehicles(self) -> tuple[VehicleStatus, ...]:
        """Every assigned vehicle, by plan name."""
        return self._recorder.statuses()

    def drops(self) -> tuple[DropStatus, ...]:
        """Every drop of the plan's sorties, in plan order."""
        return tuple(st for s in self.plan.sorties for st in self.trackers[s.id].statuses())

    def alerts(self) -> tuple[Alert, ...]:
        """Every alert so far."""
        return self._recorder.alerts()

    def preflight_report(self, sortie_id: str) -> PreflightReport | None:
        """The preflight report of a sortie, once its checks ran."""
        return self._recorder.preflight_report(sortie_id)

    @property
    def all_delivered(self) -> bool:
        """Every drop of every sortie delivered."""
        return all(d.state == DropState.DELIVERED for d in self.drops())

    def on_alert(self, callback: Callable[[Alert], None]) -> None:
        """Call ``callback(alert)`` for every alert from now on (from fleet threads)."""
        self._recorder.on_alert(callback)

    def rtl(self, sysid: int | None = None) -> list[int]:
        """Command RTL to one vehicle or all; the system ids that confirmed."""
        done = []
        for name, sid in self.assignment.items():
            if sysid is not None and sid != sysid:
                continue
            try:
                self.command(sid, "RTL")
            except GroundControlError as exc:
                log.warning("%s: RTL not confirmed: %s", name, exc)
                continue
            done.append(sid)
        return done

    def announce(self, sysid: int, mode: str) -> Callable[[], None]:
        """An operator is switching ``sysid`` to ``mode``: its failsafe monitor is told first.

        Returns the function that takes it back when the vehicle refuses. See
        :meth:`gcs.fleet.failsafe.FailsafeMonitor.commanded`: a pause is a hold (battery checked
        against the return from where the vehicle is), a resume goes back to mission
        monitoring, RTL and LAND are returns (battery alerts stay on).
        """
        worker = next((w for w in self._workers if w.sysid == sysid), None)
        if worker is None:
            return lambda: None
        return worker.operator_mode(mode)

    def command(self, sysid: int, mode: str) -> None:
        """Switch ``sysid`` to ``mode`` as an operator command, its monitor told first.

        Raises
        ------
        GroundControlError
            The vehicle is not heard or did not confirm the mode.
        """
        link = self.hub.link_of(sysid)
        if link is None:
            raise FleetError(f"vehicle {sysid} is not heard on any link")
        undo = self.announce(sysid, mode)
        try:
            commands.set_mode(link, Target(sysid=sysid), mode, self.options.retry)
        except GroundControlError:
            undo()
            raise
