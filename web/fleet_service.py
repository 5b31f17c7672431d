"""The live fleet in the console: links to the vehicles, their telemetry, commands and alerts.

:class:`FleetService` opens every configured connection (``tcp:``, ``udp:``, ``udpin:``, a serial
device), keeps a :class:`gcs.telemetry.TelemetryHub` on them and publishes a ``vehicle`` event per
changed vehicle (at most twice a second each) with its track, in the shapes of
:mod:`web.fleet_json`; the run in progress (:class:`web.fleet_run.FleetRun`) adds phases, drops
(``drop`` events) and alerts (``alert`` events: each with its server time, severity, cause and
suggested action; warnings and critical ones are acknowledged by the crew, info ones need not
be). A vehicle that landed away from every depot carries its field landing (where, how far from
which depot) for the "recover here" marker. Every command is written to the audit log with its
result.

Every vehicle command goes through the run's failsafe monitor first (a pause is an operator
hold, a resume goes back to the mission, RTL and land are returns: battery and reserve checks
stay on in each). At start the last unfinished run of the flight log (the console stopped or
was killed while flying) is loaded again: its flights still in the air are monitored to their
end, and a parcel it delivered is never flown again unless the operator re-sends it.

Vehicles asking for terrain (ArduPilot's TERRAIN_REQUEST) are answered from the console's DEM
from the moment they are heard (:meth:`FleetService.use_dem`: the sample scenario's at start,
the uploaded plan's after). Without a configured ``time_scale`` each vehicle's speed-up is read
from its ``SIM_SPEEDUP`` (1 for real vehicles) as soon as it is heard: the link's heartbeat goes
out at least once a second of the vehicle's time, telemetry is asked for per wall second, and a
run's timeouts and monitoring follow it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcs import commands, sqldb
from gcs.binding import VehicleBinding
from gcs.errors import GroundControlError
from gcs.fleet.advice import advice_for
from gcs.fleet.logs import FlightLog
from gcs.fleet.logs import alerts as log_alerts
from gcs.fleet.manager import plan_key
from gcs.fleet.options import FlyOptions
from gcs.fleet.status import FieldLanding
from gcs.link import Link
from gcs.pacing import SpeedPacer, stream_rate_hz
from gcs.snapshot import VehicleSnapshot
from gcs.telemetry import TelemetryHub
from gcs.transfer import Target
from planner.errors import InputError
from planner.plan_model import Plan
from planner.scenario import Scenario
from planner.terrain import Dem
from web import db as tables
from web.db import Database
from web.errors import Conflict, NotFound
from web.events import EventBus
from web.fleet_json import alert_json, run_json, snapshot_json
from web.fleet_run import FleetRun, LiveRun, VehicleResult
from web.planning import PlanService

log = logging.getLogger(__name__)

#: Flight mode each vehicle command switches to.
MODE_COMMANDS = {"pause": "LOITER", "resume": "AUTO", "rtl": "RTL", "land": "LAND"}
TRACK_POINTS = 2000


def iso_utc(at_s: float) -> str:
    """Unix seconds as ISO-8601 in UTC, to the second.

    Examples
    --------
    >>> iso_utc(1765000000.4)
    '2025-12-06T05:46:40Z'
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(round(at_s)))


def alert_fields(alert: Mapping[str, Any]) -> dict[str, Any]:
    """What the console adds to a recorded alert: its time as ISO-8601 (server clock, UTC),
    the suggested action, and whether it needs acknowledging (info alerts do not)."""
    return {"at_iso": iso_utc(float(alert["at"])),
            "advice": advice_for(str(alert["kind"]), alert["action"]),
            "needs_ack": alert["severity"] != "info"}


def field_landing_json(landing: FieldLanding | None) -> dict[str, Any] | None:
    """Where a vehicle landed away from every depot (None: it did not)."""
    if landing is None:
        return None
    out = dataclasses.asdict(landing)
    out["lat_deg"], out["lon_deg"] = round(landing.lat_deg, 6), round(landing.lon_deg, 6)
    out["distance_m"] = round(landing.distance_m)
    return out


class FleetService:
    """Links, telemetry, the run in progress and the commands of the console.

    Parameters
    ----------
    connect
        Connection strings of the vehicles.
    database
        The console database (audit log, alert acknowledgements).
    data_dir
        Flight log (``flights.db``) and ``.tlog`` files go here.
    events
        Where live events are published.
    time_scale
        Vehicle seconds per wall second (a simulator's speedup; 1 for real vehicles); None:
        each vehicle's ``SIM_SPEEDUP``, read when it is first heard.
    reset_battery
        Reset the battery count after each turnaround; None: on simulators only (see
        :class:`gcs.fleet.FlyOptions`).
    vehicle_types
        Drone type id of each system id known to be of one (a simulated fleet's): plan drones
        are only matched to vehicles of their type.
    dem_source
        Loads the terrain served to vehicles (and giving heights above ground) until a plan's
        is used; called once, from a thread of its own, when a link is open.
    """

    def __init__(self, connect: Sequence[str], database: Database, data_dir: Path,
                 events: EventBus, *, time_scale: float | None = 1.0,
                 reset_battery: bool | None = None, wait_s: float = 10.0,
                 vehicle_types: Mapping[int, str] | None = None,
                 dem_source: Callable[[], Dem | None] | None = None) -> None:
        self.urls = list(connect)
        self.vehicle_types = dict(vehicle_types or {})
        self.db = database
        self.events = events
        self.time_scale = time_scale
        self.reset_battery = reset_battery
        self.wait_s = wait_s
        #: Vehicles belong to the link (and address) first heard on; new ones on a listening
        #: link wait for an operator (gcs.binding).
        self.binding = VehicleBinding(confirm_listening=True)
        # The flight log shares a server database (PostgreSQL) with the console's tables; with
        # SQLite it is its own file in the data folder.
        shared = sqldb.database_url(database.url).get_backend_name() != "sqlite"
        self.flight_log = FlightLog(database.url if shared else data_dir / "flights.db",
                                    tlog_dir=data_dir / "tlogs")
        self.hub = TelemetryHub(stream_rate_hz=stream_rate_hz(time_scale or 1.0))
        self.dem_source = dem_source
        self._plan_dem = False
        self.links: list[Link] = []
        self.link_errors: dict[str, str] = {}
        self.run: FleetRun | None = None
        self._tracks: dict[int, deque[list[float]]] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.pacer = SpeedPacer(self.hub, time_scale, self._stop)
        #: Vehicle seconds per wall second of each vehicle heard (given, or its SIM_SPEEDUP).
        self.speedups = self.pacer.speedups
        self._paced = threading.Thread(target=self.pacer.loop, daemon=True, name="fleet-pace")
        self._sub: Any = None
        self._poller = threading.Thread(target=self._poll_loop, daemon=True, name="fleet-poll")
        self._seen_alerts = 0
        self._last_drops: dict[str, str] = {}
        self._last_status: dict[int, dict[str, Any]] = {}
        self._resuming: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open every link (a failure is reported on the fleet page) and start publishing."""
        self.links += self.pacer.open_links(self.urls, self.binding, self.link_errors)
        self._sub = self.hub.subscribe(self._on_snapshot, rate_hz=2.0)
        self._poller.start()
        self._paced.start()
        if self.links and self.dem_source is not None:
            threading.Thread(target=self._load_dem, daemon=True, name="fleet-dem").start()

    def _load_dem(self) -> None:
        assert self.dem_source is not None
        try:
            dem = self.dem_source()
        except Exception:  # no terrain is no reason to stop the console
            log.exception("no terrain for the vehicles")
            return
        with self._lock:
            if dem is not None and not self._plan_dem and not self._stop.is_set():
                self.hub.use_dem(dem)
                log.info("serving terrain to the vehicles")

    def use_dem(self, dem: Dem) -> None:
        """Serve ``dem`` to vehicles asking for terrain (and give heights above it) from now on:
        a plan's, when it is uploaded."""
        with self._lock:
            self._plan_dem = True
            self.hub.use_dem(dem)

    # -- speed-up -----------------------------------------------------------------------------
    def speedup(self) -> float:
        """The configured time scale, else the fastest vehicle's speed-up read so far (1
        before any)."""
        return self.pacer.fastest()

    def _fly_options(self) -> FlyOptions:
        scale = self.speedup()
        return FlyOptions(time_scale=scale, reset_battery=self.reset_battery,
                          vehicle_types=self.vehicle_types or None,
                          stream_rate_hz=stream_rate_hz(scale))

    def resume(self, plans: PlanService) -> None:
        """Load the last unfinished run of the flight log and monitor what it left flying.

        Flights still in the air are monitored until the vehicle lands (or is no longer
        heard) and closed with their final state; no new sortie takes off. The run shows on the
        fleet and deliveries pages meanwhile.
        """
        record = self.flight_log.unfinished_run()
        if record is None or record.plan_path is None:
            return
        try:  # the version the run flew, even if the plan has a newer one since
            version = plans.version_at(Path(record.plan_path))
        except NotFound:
            log.warning("run %d: its plan %s is not in this console", record.id,
                        record.plan_path)
            return
        plan_id = version.id
        try:
            plan = plans.plan_of(version)
            scenario, dem = plans.scenario_of(version)
        except Exception as exc:  # a plan removed or broken since: say so, start anyway
            log.error("run %d of plan %s cannot be resumed: %s", record.id, plan_id, exc)
            return
        if plan_key(plan) != record.plan_key:
            log.warning("run %d: plan %s changed since; not resumed", record.id, plan_id)
            return
        self.use_dem(dem)
        run = FleetRun(plan_id=plan_id, plan=plan, scenario=scenario, dem=dem,
                       links=self.links, options=self._fly_options(),
                       flight_log=self.flight_log, plan_path=record.plan_path,
                       follow_speed=self.time_scale is None)
        self.run = run
        log.info("resuming run %d of plan %s", record.id, plan_id)
        self._resuming = threading.Thread(target=self._resume_run, args=(run,), daemon=True,
                                          name="fleet-resume")
        self._resuming.start()

    def _resume_run(self, run: FleetRun) -> None:
        try:
            try:
                run.manager.connect(self.wait_s)
            except GroundControlError as exc:
                run.manager.close_unmonitored(f"vehicles not heard after a restart: {exc}")
                run.finished = True
            else:
                run.follow_speed()
                run.manager.start(fly_new=False)
            run.started = True
            self.events.publish("run", {"type": "run", "plan_id": run.plan_id,
                                        "state": "resumed"})
        except Exception:
            log.exception("resuming run of plan %s failed", run.plan_id)
        finally:
            self._resuming = None

    def resuming(self) -> bool:
        """True while the run of a restart is being loaded."""
        thread = self._resuming
        return thread is not None and thread.is_alive()

    def close(self) -> None:
        """Stop monitoring and close the links."""
        self._stop.set()
        if self._sub is not None:
            self._sub.close()
        if self.run is not None:
            self.run.stop()
        for link in self.links:
            link.close()
        self.hub.close()
        self.flight_log.close()

    # -- telemetry ----------------------------------------------------------------------------
    def _on_snapshot(self, snap: VehicleSnapshot) -> None:
        data = snapshot_json(snap)
        self._track(snap)
        data["speedup"] = self.speedups.get(snap.sysid)
        run = self.run
        if run is not None:
            data.update(self.statuses(run).get(snap.sysid, {}))
        self.events.publish("vehicle", {"type": "vehicle", "vehicle": data})

    def live_run(self) -> LiveRun | None:
        """The run uploaded or being flown (None: none)."""
        return self.run

    def _track(self, snap: VehicleSnapshot) -> None:
        """Add the vehicle's position to its track on the map (when it moved)."""
        if snap.lat_deg is None or snap.lon_deg is None:
            return
        with self._lock:
            track = self._tracks.setdefault(snap.sysid, deque(maxlen=TRACK_POINTS))
            point = [round(snap.lat_deg, 7), round(snap.lon_deg, 7)]
            if not track or track[-1] != point:
                track.append(point)

    def statuses(self, run: FleetRun | None = None) -> dict[int, dict[str, Any]]:
        """The status of each vehicle of the run (default: the present one; none without),
        with its field landing (None: none), by system id."""
        run = run or self.run
        if run is None:
            return {}
        out = run.vehicles()
        for status in run.manager.vehicles():
            if status.sysid in out:
                out[status.sysid]["field_landing"] = field_landing_json(status.field_landing)
        return out

    def vehicle_ids(self) -> tuple[int, ...]:
        """System ids of every vehicle heard."""
        return self.hub.vehicles

    def state(self) -> dict[str, Any]:
        """Everything the fleet page shows, with the id of the last event it includes."""
        last_id = self.events.last_id
        run = self.run
        statuses = {} if run is None else self.statuses(run)
        vehicles = []
        for snap in self.hub.snapshots():
            data = snapshot_json(snap)
            data["speedup"] = self.speedups.get(snap.sysid)
            data.update(statuses.get(snap.sysid, {}))
            vehicles.append(data)
        with self._lock:
            tracks = {str(k): list(v) for k, v in self._tracks.items()}
        return {
            "last_event_id": last_id, "vehicles": vehicles, "tracks": tracks,
            "links": [{"url": u, "open": u not in self.link_errors,
                       "error": self.link_errors.get(u)} for u in self.urls],
            "run": None if run is None else run_json(run),
            "drops": [] if run is None else run.drops(),
            "alerts": self.alerts(),
            "unconfirmed": [{"sysid": b.sysid, "link_url": b.link_url, "address": b.address}
                            for b in self.binding.unconfirmed()],
            "link_flags": [{"sysid": f.sysid, "kind": f.kind, "message": f.message,
                            "count": f.count} for f in self.binding.flags()],
        }

    # -- the run ------------------------------------------------------------------------------
    def upload(self, plan_id: str, plan: Plan, scenario: Scenario, dem: Dem,
               plan_path: Path, *, resend_delivered: bool = False,
               delivered_before: Mapping[str, str] | None = None) -> list[VehicleResult]:
        """Assign the plan's vehicles and upload and verify their first sorties.

        Sorties whose parcels a run of this plan, or of an earlier version of it
        (``delivered_before``: drop id -> where), delivered are not flown (nor uploaded)
        unless ``resend_delivered``; a plan whose every parcel was delivered is refused.
        """
        with self._lock:
            if self.resuming():
                raise Conflict("the run left by the last stop is being resumed; wait")
            if self.run is not None and self.run.started and not self.run.finished:
                raise Conflict("a plan is being flown; wait until it is done")
            if not self.links:
                raise Conflict("no vehicle link is open")
            flying = [s.sysid for s in self.hub.snapshots() if s.armed]
            if flying:
                raise Conflict(f"vehicle {', '.join(map(str, flying))} is flying; upload once "
                               f"it has landed")
            served = [d for s in plan.sorties for d in s.drop_ids]
            delivered = {**(delivered_before or {}),
                         **self.flight_log.delivered_drops(plan_key(plan))}
            if served and not resend_delivered and all(d in delivered for d in served):
                raise Conflict(f"every parcel of plan {plan_id} was delivered already "
                               f"({', '.join(served)}); re-send delivered parcels to fly "
                               f"them again")
            if self.run is not None:
                self.run.stop()
            options = self._fly_options()
            self.use_dem(dem)
            self.run = FleetRun(plan_id=plan_id, plan=plan, scenario=scenario, dem=dem,
                                links=self.links, options=options, flight_log=self.flight_log,
                                plan_path=str(plan_path), resend_delivered=resend_delivered,
                                delivered_before=delivered_before,
                                follow_speed=self.time_scale is None)
            self._seen_alerts = 0
            self._last_drops = {}
        return self.run.upload(self.wait_s)

    def start_run(self) -> FleetRun:
        """Fly the uploaded plan."""
        run = self.run
        if run is None or not run.manager.assignment:
            raise Conflict("upload a plan to the vehicles first")
        run.start()
        self.events.publish("run", {"type": "run", "plan_id": run.plan_id, "state": "started"})
        return run

    def command(self, verb: str, sysid: int) -> VehicleResult:
        """Switch one vehicle to the mode of ``verb`` (pause, resume, rtl, land)."""
        if verb not in MODE_COMMANDS:
            raise InputError(f"Expected one of {', '.join(MODE_COMMANDS)}, got {verb!r}",
                             field="command")
        link = self.hub.link_of(sysid)
        if link is None:
            raise NotFound(f"no vehicle {sysid} is heard")
        run = self.run
        name = None if run is None else next(
            (n for n, s in run.manager.assignment.items() if s == sysid), None)
        mode = MODE_COMMANDS[verb]
        try:
            if run is not None and name is not None:
                # through the run: its failsafe monitor hears of the command first
                run.manager.command(sysid, mode)
            else:
                commands.set_mode(link, Target(sysid=sysid), mode)
        except GroundControlError as exc:
            return VehicleResult(sysid=sysid, name=name, ok=False, detail=str(exc), error=exc)
        return VehicleResult(sysid=sysid, name=name, ok=True, detail=f"mode {mode} confirmed")

    def accept(self, sysid: int) -> VehicleResult:
        """An operator accepts vehicle ``sysid`` that waits to be confirmed (first heard on a
        listening link): from now on it is a vehicle, commands and plans may use it."""
        try:
            bind = self.binding.accept(sysid)
        except KeyError:
            raise NotFound(f"no vehicle {sysid} is heard") from None
        where = bind.link_url if bind.address is None else f"{bind.link_url} from {bind.address}"
        return VehicleResult(sysid=sysid, name=None, ok=True, detail=f"accepted on {where}")

    # -- alerts -------------------------------------------------------------------------------
    def alerts(self) -> list[dict[str, Any]]:
        """Alerts of the present run, newest last, with their acknowledgement."""
        run = self.run
        if run is None or run.run_id is None:
            return []
        acks = {r.alert_id: r for r in self.db.rows(sa.select(tables.alert_acks))}
        out = []
        for a in self.flight_log.alerts(run.run_id):
            ack = acks.get(a["id"])
            out.append({**alert_json(a, None if ack is None else ack.username),
                        **alert_fields(a)})
        return out

    def acknowledge(self, alert_id: int, username: str) -> dict[str, Any]:
        """Mark an alert as seen by ``username``."""
        with self.flight_log.engine.connect() as conn:
            found = conn.execute(sa.select(log_alerts.c.id)
                                 .where(log_alerts.c.id == alert_id)).first()
        if found is None:
            raise NotFound(f"no alert {alert_id}")
        with self.db.transaction() as conn:
            done = conn.execute(sa.select(tables.alert_acks.c.alert_id)
                                .where(tables.alert_acks.c.alert_id == alert_id)).first()
            if done is None:
                conn.execute(sa.insert(tables.alert_acks).values(
                    alert_id=alert_id, username=username, at=time.time()))
        self.events.publish("ack", {"type": "ack", "alert_id": alert_id, "by": username})
        return {"id": alert_id, "acked_by": username}

    # -- the poller ---------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self._poll()
            except Exception:
                log.exception("fleet poll failed")

    def _poll(self) -> None:
        run = self.run
        if run is None:
            return
        for d in run.drops():
            if self._last_drops.get(d["drop_id"]) != d["state"]:
                self._last_drops[d["drop_id"]] = d["state"]
                self.events.publish("drop", {"type": "drop", "drop": d})
        for sysid, status in self.statuses(run).items():
            if self._last_status.get(sysid) != status:
                self._last_status[sysid] = status
                self.events.publish("status", {"type": "status", "sysid": sysid,
                                               "status": status})
        alerts = self.alerts()
        for a in alerts[self._seen_alerts:]:
            self.events.publish("alert", {"type": "alert", "alert": a})
        self._seen_alerts = len(alerts)
        if run.started and not run.finished and run.poll():
            self.events.publish("run", {"type": "run", "plan_id": run.plan_id,
                                        "state": "finished",
                                        "all_delivered": run.manager.all_delivered})
