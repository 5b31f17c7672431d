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
Alerts from workers join the console's alert list (kept in memory, newest
:data:`ALERTS_KEPT`) and are acknowledged as the run's are. Plans are not flown through
workers: an upload is refused.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context

from gcs.bus.client import BusClient
from gcs.bus.errors import MalformedMessage
from gcs.bus.messages import (
    AckMessage,
    AlertMessage,
    CommandMessage,
    DropMessage,
    Presence,
    StateMessage,
)
from gcs.bus.state import StateBook, snapshot_of
from gcs.bus.topics import command_topic, parse_topic, presence_topic, vehicle_topic
from gcs.bus.url import BrokerUrl
from gcs.errors import LinkTimeout
from gcs.link import Link
from gcs.snapshot import VehicleSnapshot
from gcs.telemetry import TelemetryHub
from planner.errors import InputError
from web import db as tables
from web.db import Database
from web.errors import Conflict, NotFound
from web.events import EventBus
from web.fleet_json import alert_json
from web.fleet_run import VehicleResult
from web.fleet_service import MODE_COMMANDS, FleetService, alert_fields
from web.planning import PlanService

log = logging.getLogger(__name__)

#: Alerts a console keeps (the oldest are forgotten first).
ALERTS_KEPT = 500
#: What a console subscribes to: every hub's vehicle topics but commands, and presence.
SUBSCRIPTIONS = (*(vehicle_topic("+", "+", k) for k in ("state", "alert", "drop", "ack")),
                 presence_topic("+", "+"))


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
        """System ids of every vehicle heard on the bus, sorted."""
        return tuple(sorted(self.book.vehicles()))

    def link_of(self, sysid: int) -> Link | None:
        """None: vehicles are reached through their workers."""
        return None

    def snapshot(self, sysid: int) -> VehicleSnapshot | None:
        """What the bus last told of vehicle ``sysid`` (None: nothing)."""
        heard = self.book.get(sysid)
        return None if heard is None else snapshot_of(heard)

    def snapshots(self) -> tuple[VehicleSnapshot, ...]:
        """Snapshots of every vehicle heard on the bus, by system id."""
        held = self.book.vehicles()
        return tuple(snapshot_of(held[s]) for s in sorted(held))


class _Waiting:
    """A command waiting for its ack."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ack: AckMessage | None = None


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
        self.book = StateBook()
        self.hub = BrokerHub(self.book)
        self.client = BusClient(broker, self.console_id, on_message=self._on_bus)
        #: Messages dropped as malformed.
        self.dropped = 0
        self._waiting: dict[str, _Waiting] = {}
        self._bus_alerts: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._workers: dict[tuple[str, str], Presence] = {}
        self._bus_lock = threading.Lock()

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
        log.info("console %s on the broker at %s", self.console_id, self.broker.address)

    def resume(self, plans: PlanService) -> None:
        """Nothing to resume: runs are not flown through workers."""

    def close(self) -> None:
        """Leave the broker and release the flight log."""
        self.client.close()
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
            assert parts.sysid is not None
            if parts.kind == "state":
                self._on_state(parts.hub, parts.sysid, StateMessage.from_payload(topic, payload))
            elif parts.kind == "ack":
                self._on_ack(AckMessage.from_payload(topic, payload))
            elif parts.kind == "alert":
                self._on_alert(parts.sysid, AlertMessage.from_payload(topic, payload))
            elif parts.kind == "drop":
                drop = DropMessage.from_payload(topic, payload)
                self.events.publish("drop", {"type": "drop", "drop": {
                    "drop_id": drop.drop_id, "state": drop.state, "sysid": parts.sysid,
                    "sortie_id": drop.sortie_id, "at": drop.at_s}})
        except MalformedMessage as exc:
            self.dropped += 1
            log.warning("dropped: %s", exc)

    def _on_state(self, hub: str, sysid: int, msg: StateMessage) -> None:
        heard = self.book.apply(hub, sysid, msg)
        if heard is None:
            return
        speedup = heard.fields.get("speedup")
        if isinstance(speedup, float) and speedup > 0:
            self.speedups[sysid] = speedup
        self._on_snapshot(snapshot_of(heard))

    def _on_ack(self, ack: AckMessage) -> None:
        with self._bus_lock:
            waiting = self._waiting.get(ack.command_id)
        if waiting is not None and not waiting.done.is_set():
            waiting.ack = ack
            waiting.done.set()

    def _on_alert(self, sysid: int, msg: AlertMessage) -> None:
        number = alert_number(msg.id)
        alert = {"id": number, "sysid": sysid, "sortie_id": msg.sortie_id, "at": msg.at_s,
                 "kind": msg.kind, "severity": msg.severity, "message": msg.message,
                 "action": msg.action, "worker": msg.worker}
        with self._bus_lock:
            if number in self._bus_alerts:   # delivered again
                return
            self._bus_alerts[number] = alert
            while len(self._bus_alerts) > ALERTS_KEPT:
                self._bus_alerts.popitem(last=False)
        self.events.publish("alert", {"type": "alert",
                                      "alert": {**alert_json(alert, None),
                                                **alert_fields(alert)}})

    # -- what the page shows ------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """Every worker heard of: its hub, id, presence and vehicles."""
        with self._bus_lock:
            held = sorted(self._workers.items())
        return [{"hub": hub, "worker": worker, "state": p.state, "at": p.at_s,
                 "vehicles": list(p.vehicles)} for (hub, worker), p in held]

    def state(self) -> dict[str, Any]:
        """The fleet page's state; its ``links`` are the workers (open while online)."""
        out = super().state()
        out["links"] = [{"url": f"mqtt worker {w['worker']} (hub {w['hub']})",
                         "open": w["state"] == "online",
                         "error": None if w["state"] == "online" else "worker offline"}
                        for w in self.workers()]
        out["workers"] = self.workers()
        return out

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts heard from the workers, newest last, with their acknowledgement."""
        with self._bus_lock:
            held = list(self._bus_alerts.values())
        if not held:
            return []
        acks = {r.alert_id: r for r in self.db.rows(
            sa.select(tables.alert_acks).where(
                tables.alert_acks.c.alert_id.in_([a["id"] for a in held])))}
        return [{**alert_json(a, None if (ack := acks.get(a["id"])) is None else ack.username),
                 **alert_fields(a)} for a in held]

    def acknowledge(self, alert_id: int, username: str) -> dict[str, Any]:
        """Mark an alert heard from a worker as seen by ``username``."""
        with self._bus_lock:
            known = alert_id in self._bus_alerts
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
    def upload(self, *args: Any, **kwargs: Any) -> list[VehicleResult]:
        """Refused: plans are not flown through workers."""
        raise Conflict("this console reaches its vehicles through workers (--broker); "
                       "uploading plans through them is not supported")

    def command(self, verb: str, sysid: int, user: str | None = None) -> VehicleResult:
        """Send ``verb`` (pause, resume, rtl, land) to vehicle ``sysid``'s worker and wait for
        its ack; the result names the worker. ``user`` defaults to the request's logged-in
        user."""
        if verb not in MODE_COMMANDS:
            raise InputError(f"Expected one of {', '.join(MODE_COMMANDS)}, got {verb!r}",
                             field="command")
        heard = self.book.get(sysid)
        if heard is None:
            raise NotFound(f"no vehicle {sysid} is heard")
        if user is None:
            who = g.get("user") if has_app_context() else None
            user = getattr(who, "username", None) or "console"
        cmd = CommandMessage(id=uuid.uuid4().hex, verb=verb, console=self.console_id,
                             user=user, sent_at_s=round(time.time(), 3))
        waiting = _Waiting()
        with self._bus_lock:
            self._waiting[cmd.id] = waiting
        try:
            self.client.publish(command_topic(heard.hub, sysid), cmd.to_payload(), qos=1)
            answered = waiting.done.wait(self.command_timeout_s)
        finally:
            with self._bus_lock:
                self._waiting.pop(cmd.id, None)
        ack = waiting.ack
        if not answered or ack is None:
            error = LinkTimeout(f"the ack of {verb} from a worker of hub {heard.hub}",
                                timeout_s=self.command_timeout_s, sysid=sysid)
            return VehicleResult(sysid=sysid, name=None, ok=False, detail=str(error),
                                 error=error)
        return VehicleResult(sysid=sysid, name=None, ok=ack.ok,
                             detail=f"{ack.detail} (worker {ack.worker})")
