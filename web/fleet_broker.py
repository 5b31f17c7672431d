"""The live fleet of a console in broker mode: vehicles, commands and alerts through the MQTT
bus (:mod:`gcs.bus`) instead of MAVLink links.

:class:`BrokerFleet` opens no link. It subscribes to every hub's vehicle state, alerts, drop
events, acks and worker presence, keeps the latest state of each vehicle
(:class:`gcs.bus.state.StateBook`) and publishes ``vehicle`` events in the fleet page's shapes
(:mod:`web.fleet_json`), so that the Fleet page and the crew stream work as with links. Being
stateless, any number of consoles on one broker show the same vehicles. A vehicle command is
published as a command message carrying the console's id and the user's name, and its result
is the ack of the worker that executed it (named in the result, hence in the audit log); no
ack within ``command_timeout_s`` is a :class:`gcs.errors.LinkTimeout` (504 to the browser).
Each hub is its own MAVLink network, so a vehicle is known by its hub and system id: the
console's id of it, the ``sysid`` of the page's JSON, of the commands' URLs, alerts, drops and
run statuses, is :func:`gcs.bus.state.vehicle_id` (the same on every console), and its JSON
adds ``hub`` and ``hub_sysid`` (its system id on the hub) for display.
Alerts from workers join the console's alert list (kept in memory, newest
:data:`ALERTS_KEPT`) and are acknowledged as the run's are.

A verified plan version is flown through the workers of one hub (:mod:`web.broker_run`): the upload
assigns its plan vehicles to the vehicles heard on that hub (refused, as with links, while a run
flies, while one is armed, or when every parcel was delivered already) and has the workers owning
them upload and verify each one's first sortie (an upload request, answered per vehicle), and the
start publishes the run request; the workers fly the plan's shared run in the flight-log database
the console shares with them (``DATABASE_URL`` on PostgreSQL), from which the fleet page's run,
drops, vehicle phases and the run's alerts are read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context

from gcs import sqldb
from gcs.bus.client import BusClient
from gcs.bus.errors import MalformedMessage
from gcs.bus.messages import (
    AckMessage,
    AlertMessage,
    CommandMessage,
    DropMessage,
    Presence,
    RunProgress,
    RunRequest,
    StateMessage,
)
from gcs.bus.runs import RUN_JOIN_AGE_S
from gcs.bus.state import HeardVehicle, StateBook, snapshot_of, vehicle_id
from gcs.bus.topics import command_topic, parse_topic, presence_topic, run_topic, vehicle_topic
from gcs.bus.url import BrokerUrl
from gcs.errors import LinkTimeout
from gcs.fleet.logs import alerts as log_alerts
from gcs.fleet.manager import plan_key
from gcs.link import Link
from gcs.snapshot import VehicleSnapshot
from gcs.telemetry import TelemetryHub
from planner.errors import InputError
from planner.io.planfile import plan_to_json
from planner.plan_model import Plan
from planner.scenario import Scenario
from planner.terrain import Dem
from web import db as tables
from web.broker_run import BrokerRun
from web.db import Database
from web.errors import Conflict, NotFound
from web.events import EventBus
from web.fleet_json import alert_json, snapshot_json
from web.fleet_run import FleetRun, VehicleResult
from web.fleet_service import MODE_COMMANDS, FleetService, alert_fields
from web.planning import PlanService

log = logging.getLogger(__name__)

#: How long an upload waits for the workers to upload and verify every assigned vehicle (s).
UPLOAD_TIMEOUT_S = 120.0

#: Alerts a console keeps (the oldest are forgotten first).
ALERTS_KEPT = 500
#: What a console subscribes to: every hub's vehicle topics but commands, and presence.
SUBSCRIPTIONS = (*(vehicle_topic("+", "+", k) for k in ("state", "alert", "drop", "ack")),
                 presence_topic("+", "+"), run_topic("+", "+", "progress"),
                 run_topic("+", "+", "request"))


def alert_number(worker_alert_id: str) -> int:
    """A worker's alert id as the console's alert number (the same on every console, as the
    acknowledgements of a shared database need; 1 .. 2**31 - 1).

    Examples
    --------
    >>> alert_number("w1-1765000000-1") == alert_number("w1-1765000000-1")
    True
    >>> 0 < alert_number("w1-1765000000-2") < 2**31
    True
    """
    digest = hashlib.blake2b(worker_alert_id.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1) + 1


class BrokerHub(TelemetryHub):
    """The telemetry of the vehicles heard on the bus, read like a hub's (no link of its
    own: :meth:`link_of` is always None)."""

    def __init__(self, book: StateBook) -> None:
        super().__init__(stream_rate_hz=0.0, serve_terrain=False)
        self.book = book

    @property
    def vehicles(self) -> tuple[int, ...]:
        """Console ids of every vehicle heard on the bus, by hub and system id."""
        return tuple(h.key for h in _by_hub(self.book))

    def link_of(self, sysid: int) -> Link | None:
        """None: vehicles are reached through their workers."""
        return None

    def snapshot(self, sysid: int) -> VehicleSnapshot | None:
        """What the bus last told of the vehicle of console id ``sysid`` (None: nothing)."""
        heard = self.book.get(sysid)
        return None if heard is None else snapshot_of(heard)

    def snapshots(self) -> tuple[VehicleSnapshot, ...]:
        """Snapshots of every vehicle heard on the bus, by hub and system id."""
        return tuple(snapshot_of(h) for h in _by_hub(self.book))


def _by_hub(book: StateBook) -> list[HeardVehicle]:
    return sorted(book.vehicles().values(), key=lambda h: (h.hub, h.sysid))


def hub_fields(heard: HeardVehicle | None) -> dict[str, Any]:
    """The hub and system id of a vehicle, for display (none: not heard)."""
    return {} if heard is None else {"hub": heard.hub, "hub_sysid": heard.sysid}


class _Waiting:
    """A command waiting for its ack."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ack: AckMessage | None = None


class _Upload:
    """An upload request waiting for the workers' answers: system id -> progress."""

    def __init__(self, sysids: set[int]) -> None:
        self.sysids = sysids
        self.answers: dict[int, RunProgress] = {}
        self.refusals: list[RunProgress] = []
        self.done = threading.Event()

    def heard(self, msg: RunProgress) -> None:
        if msg.state == "refused":
            self.refusals.append(msg)
        elif msg.state in ("verified", "not_verified") and msg.sysid in self.sysids:
            self.answers[msg.sysid] = msg
            if set(self.answers) == self.sysids:
                self.done.set()


class BrokerFleet(FleetService):
    """The console's fleet through the broker (see the module's description).

    Parameters
    ----------
    broker
        The broker and the console's login.
    console_id
        This console's id on the broker (default: a new random one).
    command_timeout_s
        How long a command waits for its worker's ack.
    """

    def __init__(self, broker: BrokerUrl, database: Database, data_dir: Path,
                 events: EventBus, *, console_id: str | None = None,
                 command_timeout_s: float = 10.0, connect_timeout_s: float = 10.0) -> None:
        super().__init__([], database, data_dir, events, time_scale=None)
        self.broker = broker
        self.console_id = console_id or f"console-{uuid.uuid4().hex[:12]}"
        self.command_timeout_s = command_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.book = StateBook(key=vehicle_id)
        self.hub = BrokerHub(self.book)
        self.client = BusClient(broker, self.console_id, on_message=self._on_bus)
        #: Messages dropped as malformed.
        self.dropped = 0
        self._waiting: dict[str, _Waiting] = {}
        self._uploads: dict[str, _Upload] = {}
        #: Run requests heard (retained ones included), by topic, for :meth:`_clear_requests`.
        self._requests_seen: dict[str, RunRequest] = {}
        self._bus_alerts: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._workers: dict[tuple[str, str], Presence] = {}
        self._bus_lock = threading.Lock()
        #: The plan uploaded to (or flown by) the workers.
        self.broker_run: BrokerRun | None = None
        self._run_poller = threading.Thread(target=self._run_poll_loop, daemon=True,
                                            name="broker-run-poll")

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect to the broker and subscribe to the hubs' topics.

        Raises
        ------
        BusError, BrokerUnreachable
            The broker refused the console's login or did not answer.
        """
        for topic in SUBSCRIPTIONS:
            self.client.subscribe(topic, qos=1)
        self.client.connect(self.connect_timeout_s)
        self._run_poller.start()
        log.info("console %s on the broker at %s", self.console_id, self.broker.address)

    def resume(self, plans: PlanService) -> None:
        """Show the unfinished run of the shared flight log, which the workers fly (a console
        started while it flies, or restarted): its plan version (read from this console's
        plans), its vehicles as recorded, its drops and phases as the workers record them."""
        record = self.flight_log.unfinished_run()
        if record is None or record.plan_path is None:
            return
        try:
            version = plans.version_at(Path(record.plan_path))
            plan = plans.plan_of(version)
        except Exception as exc:  # a plan of another console's folder, or removed: not shown
            log.warning("run %d: its plan %s is not readable here: %s", record.id,
                        record.plan_path, exc)
            return
        assignment = self.flight_log.vehicles(record.id)
        if plan_key(plan) != record.plan_key or not assignment:
            return
        request = RunRequest(id=f"run-{record.id}", plan_id=version.id,
                             plan_key=record.plan_key, plan_json="{}", vehicles=assignment,
                             console=self.console_id, user="console",
                             sent_at_s=record.started_at, plan_path=record.plan_path)
        run = BrokerRun(plan_id=version.id, plan=plan, hub=self._hub_of(assignment),
                        assignment=assignment, request=request, flight_log=self.flight_log)
        run.started = True
        run.run_id = record.id
        self.broker_run = run
        log.info("showing run %d of plan %s, flown by the workers", record.id, version.id)

    def _hub_of(self, assignment: Mapping[str, int]) -> str:
        """The one hub that has heard every system id of ``assignment`` ("": none, or
        several)."""
        hubs: dict[str, set[int]] = {}
        for heard in self.book.vehicles().values():
            hubs.setdefault(heard.hub, set()).add(heard.sysid)
        fits = [h for h, ids in hubs.items() if set(assignment.values()) <= ids]
        return fits[0] if len(fits) == 1 else ""

    def close(self) -> None:
        """Leave the broker and release the flight log."""
        self._stop.set()
        self.client.close()
        if self._run_poller.is_alive():
            self._run_poller.join(5.0)
        super().close()

    # -- the bus ------------------------------------------------------------------------------
    def _on_bus(self, topic: str, payload: bytes) -> None:
        try:
            parts = parse_topic(topic)
            if parts.kind == "presence":
                presence = Presence.from_payload(topic, payload)
                with self._bus_lock:
                    self._workers[(parts.hub, presence.worker)] = presence
                return
            if parts.kind == "run_progress":
                self._on_progress(parts.run, RunProgress.from_payload(topic, payload))
                return
            if parts.kind == "run_request":
                if payload:   # (empty: a cleared request)
                    request = RunRequest.from_payload(topic, payload)
                    if not request.upload:
                        with self._bus_lock:
                            self._requests_seen[topic] = request
                return
            assert parts.sysid is not None
            if parts.kind == "state":
                self._on_state(parts.hub, parts.sysid, StateMessage.from_payload(topic, payload))
            elif parts.kind == "ack":
                self._on_ack(AckMessage.from_payload(topic, payload))
            elif parts.kind == "alert":
                self._on_alert(parts.hub, parts.sysid,
                               AlertMessage.from_payload(topic, payload))
            elif parts.kind == "drop":
                drop = DropMessage.from_payload(topic, payload)
                run = self.broker_run
                planned = None if run is None else run.drop_event(drop.drop_id, drop.state)
                self.events.publish("drop", {"type": "drop", "drop": {
                    **(planned or {}), "drop_id": drop.drop_id, "state": drop.state,
                    "sysid": vehicle_id(parts.hub, parts.sysid), "hub": parts.hub,
                    "hub_sysid": parts.sysid, "sortie_id": drop.sortie_id, "at": drop.at_s}})
        except MalformedMessage as exc:
            self.dropped += 1
            log.warning("dropped: %s", exc)

    def _on_state(self, hub: str, sysid: int, msg: StateMessage) -> None:
        heard = self.book.apply(hub, sysid, msg)
        if heard is None:
            return
        speedup = heard.fields.get("speedup")
        if isinstance(speedup, float) and speedup > 0:
            self.speedups[heard.key] = speedup
        self._on_snapshot(snapshot_of(heard))

    def _on_snapshot(self, snap: VehicleSnapshot) -> None:
        data = {**snapshot_json(snap), **hub_fields(self.book.get(snap.sysid))}
        self._track(snap)
        data["speedup"] = self.speedups.get(snap.sysid)
        self.events.publish("vehicle", {"type": "vehicle", "vehicle": data})

    def _on_progress(self, request_id: str | None, msg: RunProgress) -> None:
        with self._bus_lock:
            upload = self._uploads.get(request_id or "")
        if upload is not None:
            upload.heard(msg)
            return
        run = self.broker_run
        if run is None or run.request.id != request_id:
            return
        run.heard(msg)
        self.events.publish("run", {"type": "run", "plan_id": run.plan_id,
                                    "state": f"worker {msg.worker}: {msg.state}",
                                    "worker": msg.worker,
                                    "sysid": None if msg.sysid is None
                                    else run.vehicle_id(msg.sysid),
                                    "hub_sysid": msg.sysid, "detail": msg.detail})

    def _run_poll_loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self._run_poll()
                self._clear_requests()
            except Exception:
                log.exception("run poll failed")

    def _clear_requests(self) -> None:
        """Clear the retained run requests whose runs are over (left by a console stopped
        before its run ended): a request older than :data:`gcs.bus.runs.RUN_JOIN_AGE_S` whose
        plan has no run in progress in the shared flight log."""
        with self._bus_lock:
            seen = list(self._requests_seen.items())
        for topic, request in seen:
            if time.time() - request.sent_at_s <= RUN_JOIN_AGE_S or \
                    self.flight_log.unfinished_run(request.plan_key) is not None:
                continue
            self.client.publish(topic, b"", qos=1, retain=True)
            with self._bus_lock:
                self._requests_seen.pop(topic, None)
            log.info("cleared run request %s of plan %s: its run is over", request.id,
                     request.plan_id)

    def _run_poll(self) -> None:
        run = self.broker_run
        if run is None or not run.started:
            return
        if not run.hub and (hub := self._hub_of(run.assignment)):
            run.on_hub(hub)
        for sysid, status in run.vehicles().items():
            if self._last_status.get(sysid) != status:
                self._last_status[sysid] = status
                self.events.publish("status", {"type": "status", "sysid": sysid,
                                               "status": status})
        for a in self._run_alerts(run)[self._seen_alerts:]:
            self._seen_alerts += 1
            self.events.publish("alert", {"type": "alert", "alert": a})
        if run.poll():
            # the run is over: its request is no longer left for workers starting later
            self.client.publish(run_topic(run.hub, run.request.id, "request"), b"", qos=1,
                                retain=True)
            drops = run.drops()
            self.events.publish("run", {"type": "run", "plan_id": run.plan_id,
                                        "state": "finished", "all_delivered": all(
                                            d["state"] == "delivered" for d in drops)})

    def _run_alerts(self, run: BrokerRun) -> list[dict[str, Any]]:
        """The alerts the workers recorded in the run, with their acknowledgement."""
        run_id = run.find_run()
        if run_id is None:
            return []
        recorded = self.flight_log.alerts(run_id)
        if not recorded:
            return []
        acks = {r.alert_id: r for r in self.db.rows(
            sa.select(tables.alert_acks).where(
                tables.alert_acks.c.alert_id.in_([a["id"] for a in recorded])))}
        out = []
        for a in recorded:
            shown = {**alert_json(a, None if (ack := acks.get(a["id"])) is None
                                  else ack.username), **alert_fields(a)}
            if a.get("sysid") is not None:   # recorded by its system id on the run's hub
                shown.update(sysid=run.vehicle_id(int(a["sysid"])), hub=run.hub,
                             hub_sysid=a["sysid"])
            out.append(shown)
        return out

    def _on_ack(self, ack: AckMessage) -> None:
        with self._bus_lock:
            waiting = self._waiting.get(ack.command_id)
        if waiting is not None and not waiting.done.is_set():
            waiting.ack = ack
            waiting.done.set()

    def _on_alert(self, hub: str, sysid: int, msg: AlertMessage) -> None:
        number = alert_number(msg.id)
        alert = {"id": number, "sysid": vehicle_id(hub, sysid), "hub": hub,
                 "hub_sysid": sysid, "sortie_id": msg.sortie_id, "at": msg.at_s,
                 "kind": msg.kind, "severity": msg.severity, "message": msg.message,
                 "action": msg.action, "worker": msg.worker}
        with self._bus_lock:
            if number in self._bus_alerts:   # delivered again
                return
            self._bus_alerts[number] = alert
            while len(self._bus_alerts) > ALERTS_KEPT:
                self._bus_alerts.popitem(last=False)
        self.events.publish("alert", {"type": "alert", "alert": _alert_out(alert, None)})

    # -- what the page shows ------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """Every worker heard of: its hub, id, presence and vehicles."""
        with self._bus_lock:
            held = sorted(self._workers.items())
        return [{"hub": hub, "worker": worker, "state": p.state, "at": p.at_s,
                 "vehicles": list(p.vehicles)} for (hub, worker), p in held]

    def live_run(self) -> BrokerRun | None:
        """The run uploaded to the workers or flown by them (None: none)."""
        return self.broker_run

    def statuses(self, run: FleetRun | None = None) -> dict[int, dict[str, Any]]:
        """The status of each vehicle of the workers' run once started (none before), by the
        console's vehicle id (``run`` is not used: this console flies no run of its own)."""
        broker_run = self.broker_run
        if broker_run is None or not broker_run.started:
            return {}
        return broker_run.vehicles()

    def state(self) -> dict[str, Any]:
        """The fleet page's state; its ``links`` are the workers (open while online)."""
        out = super().state()
        out["links"] = [{"url": f"mqtt worker {w['worker']} (hub {w['hub']})",
                         "open": w["state"] == "online",
                         "error": None if w["state"] == "online" else "worker offline"}
                        for w in self.workers()]
        out["workers"] = self.workers()
        out["unconfirmed"] = [{"sysid": vehicle_id(hub, s), "hub": hub, "hub_sysid": s,
                               "link_url": f"a listening link of hub {hub}", "address": None}
                              for hub, s in self._unconfirmed()]
        run = self.broker_run
        if run is not None:
            statuses = self.statuses()
            for vehicle in out["vehicles"]:
                vehicle.update(statuses.get(vehicle["sysid"], {}))
            out["run"] = run.json()
            out["drops"] = run.drops()
        for vehicle in out["vehicles"]:
            vehicle.update(hub_fields(self.book.get(vehicle["sysid"])))
        return out

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts heard from the workers, newest last, with their acknowledgement."""
        with self._bus_lock:
            held = list(self._bus_alerts.values())
        run = self.broker_run
        recorded = [] if run is None else self._run_alerts(run)
        if not held:
            return recorded
        acks = {r.alert_id: r for r in self.db.rows(
            sa.select(tables.alert_acks).where(
                tables.alert_acks.c.alert_id.in_([a["id"] for a in held])))}
        return recorded + [
            _alert_out(a, None if (ack := acks.get(a["id"])) is None else ack.username)
            for a in held]

    def acknowledge(self, alert_id: int, username: str) -> dict[str, Any]:
        """Mark an alert heard from a worker as seen by ``username``."""
        with self._bus_lock:
            known = alert_id in self._bus_alerts
        if not known:
            with self.flight_log.engine.connect() as conn:
                known = conn.execute(sa.select(log_alerts.c.id)
                                     .where(log_alerts.c.id == alert_id)).first() is not None
        if not known:
            raise NotFound(f"no alert {alert_id}")
        with self.db.transaction() as conn:
            done = conn.execute(sa.select(tables.alert_acks.c.alert_id)
                                .where(tables.alert_acks.c.alert_id == alert_id)).first()
            if done is None:
                conn.execute(sa.insert(tables.alert_acks).values(
                    alert_id=alert_id, username=username, at=time.time()))
        self.events.publish("ack", {"type": "ack", "alert_id": alert_id, "by": username})
        return {"id": alert_id, "acked_by": username}

    # -- commands -----------------------------------------------------------------------------
    def upload(self, plan_id: str, plan: Plan, scenario: Scenario, dem: Dem,
               plan_path: Path, *, resend_delivered: bool = False,
               delivered_before: Mapping[str, str] | None = None) -> list[VehicleResult]:
        """Assign the plan's vehicles to vehicles heard on one hub (sorted names to sorted
        system ids on the hub hearing the most) for its workers to fly, and have them
        upload and verify each vehicle's first sortie still to fly (a result per vehicle,
        naming the worker); nothing flies until :meth:`start_broker_run`. Refused while a
        run flies, while an assigned vehicle is armed, when the hub has too few vehicles,
        when every parcel was delivered already (unless delivered parcels are re-sent), or
        when the console's database is SQLite (the workers could not share its flight
        log)."""
        if sqldb.database_url(self.db.url).get_backend_name() == "sqlite":
            raise Conflict("flying plans through workers needs this console's DATABASE_URL on "
                           "the PostgreSQL database the workers share (--database)")
        run = self.broker_run
        if run is not None and run.started and not run.poll() \
                and not run.finished:
            raise Conflict("a plan is being flown by the workers; wait until it is done")
        served = [d for s in plan.sorties for d in s.drop_ids]
        delivered = {**(delivered_before or {}),
                     **self.flight_log.delivered_drops(plan_key(plan))}
        if served and not resend_delivered and all(d in delivered for d in served):
            raise Conflict(f"every parcel of plan {plan_id} was delivered already "
                           f"({', '.join(served)}); re-send delivered parcels to fly them "
                           f"again")
        names = sorted({s.vehicle for s in plan.sorties})
        hubs: dict[str, list[int]] = {}
        for heard in self.book.vehicles().values():
            hubs.setdefault(heard.hub, []).append(heard.sysid)
        if not hubs:
            raise Conflict("no vehicle is heard from any worker")
        hub, sysids = max(sorted(hubs.items()), key=lambda h: len(h[1]))
        if len(sysids) < len(names):
            raise Conflict(f"plan {plan_id} needs {len(names)} vehicles; hub {hub} has "
                           f"{len(sysids)}")
        assignment = dict(zip(names, sorted(sysids), strict=False))
        armed = [s for s in assignment.values()
                 if (snap := self.hub.snapshot(vehicle_id(hub, s))) is not None and snap.armed]
        if armed:
            raise Conflict(f"vehicle {', '.join(map(str, armed))} of hub {hub} is flying; "
                           f"upload once it has landed")
        who = g.get("user") if has_app_context() else None
        request = RunRequest(id=uuid.uuid4().hex, plan_id=plan_id, plan_key=plan_key(plan),
                             plan_json=plan_to_json(plan), vehicles=assignment,
                             console=self.console_id,
                             user=getattr(who, "username", None) or "console", sent_at_s=0.0,
                             plan_path=str(plan_path), reset_battery=self.reset_battery,
                             delivered_before=dict(delivered_before or {}),
                             resend_delivered=resend_delivered)
        self.broker_run = BrokerRun(plan_id=plan_id, plan=plan, hub=hub,
                                    assignment=assignment, request=request,
                                    flight_log=self.flight_log)
        self._seen_alerts = 0
        self._last_status = {}
        return self._upload(hub, assignment, request)

    def _upload(self, hub: str, assignment: Mapping[str, int],
                request: RunRequest) -> list[VehicleResult]:
        """Have the workers of ``hub`` upload and verify each assigned vehicle's first sortie
        (an upload request) and wait for their answers, at most :data:`UPLOAD_TIMEOUT_S`."""
        upload_request = dataclasses.replace(request, id=uuid.uuid4().hex, upload=True,
                                             sent_at_s=round(time.time(), 3))
        waiting = _Upload(set(assignment.values()))
        with self._bus_lock:
            self._uploads[upload_request.id] = waiting
        try:
            sent = self.client.publish(run_topic(hub, upload_request.id, "request"),
                                       upload_request.to_payload(), qos=1,
                                       wait_s=self.command_timeout_s)
            if sent:
                waiting.done.wait(UPLOAD_TIMEOUT_S)
        finally:
            with self._bus_lock:
                self._uploads.pop(upload_request.id, None)
        refused = "; ".join(f"{p.worker}: {p.detail}" for p in waiting.refusals)
        results = []
        for name, sysid in assignment.items():
            answer = waiting.answers.get(sysid)
            where = f"hub {hub}, system {sysid}"
            if answer is None:
                error = LinkTimeout(
                    f"the upload to {where} by its worker" + (f" (refused: {refused})"
                                                              if refused else ""),
                    timeout_s=UPLOAD_TIMEOUT_S if sent else self.command_timeout_s,
                    sysid=sysid)
                results.append(VehicleResult(sysid=vehicle_id(hub, sysid), name=name,
                                             ok=False, detail=str(error), error=error))
                continue
            results.append(VehicleResult(
                sysid=vehicle_id(hub, sysid), name=name, ok=answer.state == "verified",
                detail=f"{answer.detail} (worker {answer.worker}, {where})"))
        return results

    def start_broker_run(self) -> BrokerRun:
        """Send the uploaded plan's run request to its hub's workers.

        Raises
        ------
        Conflict
            No plan uploaded, or it was started already.
        """
        run = self.broker_run
        if run is None:
            raise Conflict("upload a plan to the vehicles first")
        if run.started:
            raise Conflict("this plan is flying already")
        request = dataclasses.replace(run.request, sent_at_s=round(time.time(), 3))
        run.request = request
        # retained while the run flies: a worker started later joins it
        sent = self.client.publish(run_topic(run.hub, request.id, "request"),
                                   request.to_payload(), qos=1, retain=True,
                                   wait_s=self.command_timeout_s)
        if not sent:
            raise LinkTimeout(f"the broker's acknowledgement of the run request for hub "
                              f"{run.hub}", timeout_s=self.command_timeout_s)
        run.started = True
        self.events.publish("run", {"type": "run", "plan_id": run.plan_id, "state": "started"})
        return run

    def start_run(self) -> FleetRun:
        """Refused: a run through workers starts with :meth:`start_broker_run`."""
        raise Conflict("this console flies plans through workers (start_broker_run)")

    def command(self, verb: str, sysid: int, user: str | None = None) -> VehicleResult:
        """Send ``verb`` (pause, resume, rtl, land) to the worker of the vehicle of console id
        ``sysid`` and wait for its ack; the result names the worker, the hub and the system
        id. ``user`` defaults to the request's logged-in user."""
        if verb not in MODE_COMMANDS:
            raise InputError(f"Expected one of {', '.join(MODE_COMMANDS)}, got {verb!r}",
                             field="command")
        heard = self.book.get(sysid)
        if heard is None:
            raise NotFound(f"no vehicle {sysid} is heard")
        if user is None:
            who = g.get("user") if has_app_context() else None
            user = getattr(who, "username", None) or "console"
        return self._send(verb, sysid, heard.hub, heard.sysid, user)

    def accept(self, sysid: int) -> VehicleResult:
        """An operator accepts the vehicle of console id ``sysid`` waiting on a worker's
        listening link (listed in the workers' presence): the worker it waits on counts its
        packets from now on and answers."""
        waiting = {vehicle_id(hub, s): (hub, s) for hub, s in self._unconfirmed()}
        if sysid not in waiting:
            raise NotFound(f"no vehicle {sysid} is waiting to be accepted")
        hub, hub_sysid = waiting[sysid]
        who = g.get("user") if has_app_context() else None
        return self._send("accept", sysid, hub, hub_sysid,
                          getattr(who, "username", None) or "console")

    def _unconfirmed(self) -> list[tuple[str, int]]:
        """(hub, system id) of every vehicle waiting on an online worker's listening link."""
        with self._bus_lock:
            held = list(self._workers.items())
        return sorted({(hub, s) for (hub, _), p in held if p.state == "online"
                       for s in p.unconfirmed})

    def _send(self, verb: str, sysid: int, hub: str, hub_sysid: int,
              user: str) -> VehicleResult:
        """Publish command ``verb`` for system ``hub_sysid`` of ``hub`` (console id ``sysid``)
        and wait for the worker's ack; the result names the worker, the hub and the system."""
        cmd = CommandMessage(id=uuid.uuid4().hex, verb=verb, console=self.console_id,
                             user=user, sent_at_s=round(time.time(), 3))
        waiting = _Waiting()
        with self._bus_lock:
            self._waiting[cmd.id] = waiting
        try:
            self.client.publish(command_topic(hub, hub_sysid), cmd.to_payload(), qos=1)
            answered = waiting.done.wait(self.command_timeout_s)
        finally:
            with self._bus_lock:
                self._waiting.pop(cmd.id, None)
        ack = waiting.ack
        if not answered or ack is None:
            error = LinkTimeout(f"the ack of {verb} from a worker of hub {hub} "
                                f"(system {hub_sysid})",
                                timeout_s=self.command_timeout_s, sysid=hub_sysid)
            return VehicleResult(sysid=sysid, name=None, ok=False, detail=str(error),
                                 error=error)
        return VehicleResult(sysid=sysid, name=None, ok=ack.ok,
                             detail=f"{ack.detail} (worker {ack.worker}, hub {hub}, "
                                    f"system {hub_sysid})")


def _alert_out(alert: Mapping[str, Any], acked_by: str | None) -> dict[str, Any]:
    """An alert heard from a worker as the fleet page shows it, with its hub and system id."""
    return {**alert_json(alert, acked_by), **alert_fields(alert),
            "hub": alert["hub"], "hub_sysid": alert["hub_sysid"]}
