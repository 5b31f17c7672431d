"""A ground-control worker on the bus: it owns the MAVLink links of one hub's vehicles,
publishes their state, alerts and presence, and carries out the consoles' commands.

:class:`HubWorker` opens every connection (as the console does: heartbeats at least once a
second of each vehicle's time, its ``SIM_SPEEDUP`` read when it is first heard, terrain served
from a DEM once one is loaded), keeps a :class:`gcs.telemetry.TelemetryHub` on them and
publishes each vehicle's state (:class:`gcs.bus.state.StateEncoder`: at most ``publish_hz``
times a second, a full snapshot every ``full_every_s``, a keep-alive at least every
``keepalive_s``). Commands for its hub's vehicles (pause, resume, RTL, land) are carried out
from a pool of threads and each is answered with an :class:`~gcs.bus.messages.AckMessage`
naming the worker; a command repeated by the broker is answered once, one older than
``command_max_age_s`` is refused; a command for a vehicle the worker does not own is left to
its owner, unanswered. Vehicles it may own are decided by its ``ownership`` (a
lease per vehicle, :class:`gcs.bus.leases.LeaseKeeper`; None: every vehicle it hears): it
publishes and commands only those, and stops as soon as one is lost. Run requests of its hub
(:class:`~gcs.bus.messages.RunRequest`) go to ``on_run`` (:class:`gcs.bus.runs.RunServer`),
when given.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from gcs import commands
from gcs.binding import VehicleBinding
from gcs.bus.client import BusClient, Will
from gcs.bus.errors import MalformedMessage
from gcs.bus.messages import (
    VERB_MODES,
    AckMessage,
    AlertMessage,
    CommandMessage,
    Presence,
    RunRequest,
)
from gcs.bus.state import StateEncoder, state_fields
from gcs.bus.topics import (
    ack_topic,
    check_id,
    command_topic,
    parse_topic,
    presence_topic,
    run_topic,
    vehicle_topic,
)
from gcs.bus.url import BrokerUrl
from gcs.bus.watch import VehicleWatch
from gcs.errors import GroundControlError
from gcs.link import Link
from gcs.pacing import SpeedPacer, stream_rate_hz
from gcs.snapshot import VehicleSnapshot
from gcs.telemetry import TelemetryHub
from gcs.transfer import Target
from planner.errors import InputError
from planner.terrain import Dem

log = logging.getLogger(__name__)

#: Command answers kept to answer a repeated command again.
ANSWERS_KEPT = 1000


class Ownership(Protocol):
    """Which vehicles a worker may own now (a lease per vehicle of the hub:
    :class:`gcs.bus.leases.LeaseKeeper`)."""

    def owns(self, sysid: int) -> bool:
        """Whether this worker may publish and command vehicle ``sysid`` now."""

    def refresh(self, heard: Iterable[int]) -> None:
        """Take, renew or drop the vehicles' ownership (called twice a second with every
        vehicle heard)."""

    def release(self) -> None:
        """Give every vehicle up (a clean stop)."""


class HubWorker:
    """The worker of one hub (see the module's description).

    Parameters
    ----------
    hub
        The hub's id (the topics' ``<hub>``).
    worker_id
        This worker's id (unique on the broker; acks and states name it).
    broker
        The broker and this worker's login (the hub's worker user).
    connect
        MAVLink connection strings of the hub's vehicles.
    time_scale
        Vehicle seconds per wall second; None: each vehicle's ``SIM_SPEEDUP``.
    dem_source
        Loads the terrain served to the vehicles; called once from a thread of its own.
    ownership
        Which vehicles this worker may own (None: all it hears).
    on_run
        Called with each run request of the hub, from the broker connection's thread (it must
        return quickly); None: run requests are not read.
    on_command
        Called with a vehicle's system id and the mode an operator's command switches it to,
        before the mode is sent (the run flying it tells its failsafe monitor); returns the
        undo, called when the vehicle does not confirm.
    """

    def __init__(self, *, hub: str, worker_id: str, broker: BrokerUrl, connect: Sequence[str],
                 time_scale: float | None = None,
                 dem_source: Callable[[], Dem | None] | None = None,
                 ownership: Ownership | None = None, publish_hz: float = 2.0,
                 full_every_s: float = 30.0, keepalive_s: float = 2.0,
                 command_max_age_s: float = 30.0,
                 on_run: Callable[[RunRequest], None] | None = None,
                 on_command: Callable[[int, str], Callable[[], None]] | None = None) -> None:
        self.hub = check_id(hub, "hub")
        self.worker_id = check_id(worker_id, "worker")
        self.urls = list(connect)
        self.time_scale = time_scale
        self.dem_source = dem_source
        self.ownership = ownership
        self.publish_hz = publish_hz
        self.full_every_s = full_every_s
        self.keepalive_s = keepalive_s
        self.command_max_age_s = command_max_age_s
        self.on_run = on_run
        self.on_command = on_command
        # a vehicle first heard on a listening link waits for an operator (a console's accept)
        self.binding = VehicleBinding(confirm_listening=True)
        self.telemetry = TelemetryHub(stream_rate_hz=stream_rate_hz(time_scale or 1.0))
        self.links: list[Link] = []
        self.link_errors: dict[str, str] = {}
        self.client = BusClient(broker, worker_id, on_message=self._on_message,
                                will=Will(topic=presence_topic(hub, worker_id),
                                          payload=Presence(worker=worker_id,
                                                           state="offline").to_payload()))
        self._encoders: dict[int, StateEncoder] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.pacer = SpeedPacer(self.telemetry, time_scale, self._stop)
        #: Vehicle seconds per wall second of each vehicle heard (given, or its SIM_SPEEDUP).
        self.speedups = self.pacer.speedups
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bus-command")
        self._answers: OrderedDict[str, AckMessage | None] = OrderedDict()
        self._watch = VehicleWatch()
        self._alert_ids = itertools.count(1)
        self._started_at = int(time.time())
        self._announced: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self._sub: object = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, connect_timeout_s: float = 10.0) -> HubWorker:
        """Connect to the broker, open the links and start publishing; returns self.

        Raises
        ------
        BusError, BrokerUnreachable
            The broker refused the login or did not answer.
        InputError
            No link could be opened (each one's error named).
        """
        self.client.connect(connect_timeout_s)
        self.links += self.pacer.open_links(self.urls, self.binding, self.link_errors)
        if not self.links:
            self.client.close()
            raise InputError("no vehicle link could be opened: " + "; ".join(
                f"{u}: {e}" for u, e in self.link_errors.items()), field="--connect")
        self.client.subscribe(command_topic(self.hub, "+"), qos=1)
        if self.on_run is not None:
            self.client.subscribe(run_topic(self.hub, "+", "request"), qos=1)
        self._announce(force=True)
        self._sub = self.telemetry.subscribe(self._on_snapshot, rate_hz=self.publish_hz)
        for target, name in ((self._keep_loop, "bus-keep"), (self.pacer.loop, "bus-pace")):
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self._threads.append(thread)
        if self.dem_source is not None:
            threading.Thread(target=self._load_dem, daemon=True, name="bus-dem").start()
        log.info("worker %s of hub %s on %d link(s)", self.worker_id, self.hub, len(self.links))
        return self

    def close(self) -> None:
        """Say "offline", stop publishing, close the links and the broker connection."""
        if self._stop.is_set():
            return
        self._stop.set()
        close = getattr(self._sub, "close", None)
        if close is not None:
            close()
        for thread in self._threads:
            thread.join(5.0)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.client.connected.is_set():
            self.client.publish(presence_topic(self.hub, self.worker_id),
                                Presence(worker=self.worker_id, state="offline",
                                         at_s=round(time.time(), 2)).to_payload(),
                                qos=1, retain=True, wait_s=3.0)
        self.client.close()
        if self.ownership is not None:
            self.ownership.release()
        for link in self.links:
            link.close()
        self.telemetry.close()

    def __enter__(self) -> HubWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load_dem(self) -> None:
        assert self.dem_source is not None
        try:
            dem = self.dem_source()
        except Exception:  # no terrain is no reason to stop the worker
            log.exception("no terrain for the vehicles")
            return
        if dem is not None and not self._stop.is_set():
            self.telemetry.use_dem(dem)
            log.info("serving terrain to the vehicles")

    # -- ownership ----------------------------------------------------------------------------
    def owned(self) -> tuple[int, ...]:
        """The vehicles heard that this worker owns."""
        return tuple(s for s in self.telemetry.vehicles
                     if self.ownership is None or self.ownership.owns(s))

    def _owns(self, sysid: int) -> bool:
        return self.ownership is None or self.ownership.owns(sysid)

    def _announce(self, *, force: bool = False) -> None:
        vehicles = self.owned()
        waiting = tuple(sorted(b.sysid for b in self.binding.unconfirmed()))
        if not force and (vehicles, waiting) == self._announced:
            return
        self._announced = (vehicles, waiting)
        self.client.publish(presence_topic(self.hub, self.worker_id),
                            Presence(worker=self.worker_id, state="online",
                                     at_s=round(time.time(), 2), vehicles=vehicles,
                                     unconfirmed=waiting).to_payload(), qos=1, retain=True)

    # -- state --------------------------------------------------------------------------------
    def _on_snapshot(self, snap: VehicleSnapshot) -> None:
        self._publish_state(snap)

    def _publish_state(self, snap: VehicleSnapshot, *, only_if_due: bool = False) -> None:
        if not self._owns(snap.sysid) or self._stop.is_set():
            return
        fields = state_fields(snap, self.speedups.get(snap.sysid))
        now_s = time.time()
        with self._lock:
            encoder = self._encoders.get(snap.sysid)
            if encoder is None:
                encoder = self._encoders[snap.sysid] = StateEncoder(
                    self.worker_id, full_every_s=self.full_every_s,
                    keepalive_s=self.keepalive_s)
            elif only_if_due and not encoder.due(now_s):
                return
            msg = encoder.encode(fields, now_s=now_s)
            if msg is None:
                return
            self.client.publish(vehicle_topic(self.hub, snap.sysid, "state"), msg.to_payload(),
                                qos=1 if msg.full else 0, retain=msg.full)

    def _keep_loop(self) -> None:
        """Keep-alives and full snapshots of quiet vehicles, alerts, and the presence."""
        reconnected = False
        while not self._stop.wait(0.5):
            try:
                connected = self.client.connected.is_set()
                if connected and reconnected:   # a restarted broker forgot retained states
                    self._announce(force=True)
                reconnected = not connected
                if self.ownership is not None:
                    self.ownership.refresh(self.telemetry.vehicles)
                for snap in self.telemetry.snapshots():
                    if not self._owns(snap.sysid):
                        continue
                    self._publish_state(snap, only_if_due=True)
                    for raised in self._watch.check(snap):
                        self._alert(snap.sysid, raised.kind, raised.severity, raised.message)
                self._announce()
            except Exception:
                log.exception("keep-alive pass failed")

    def _alert(self, sysid: int, kind: str, severity: str, message: str) -> None:
        alert = AlertMessage(id=f"{self.worker_id}-{self._started_at}-{next(self._alert_ids)}",
                             worker=self.worker_id, at_s=round(time.time(), 2), kind=kind,
                             severity=severity, message=message)
        log.warning("alert: %s", message)
        self.client.publish(vehicle_topic(self.hub, sysid, "alert"), alert.to_payload(), qos=1)

    # -- commands -----------------------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            parts = parse_topic(topic)
            if parts.kind == "run_request" and parts.hub == self.hub and self.on_run:
                if not payload:   # a console cleared the retained request of a run over
                    return
                request = RunRequest.from_payload(topic, payload)
                if request.id != parts.run:
                    raise MalformedMessage(topic, f"request {request.id!r} on the topic of "
                                                  f"{parts.run!r}")
                self.on_run(request)
                return
            if parts.kind != "command" or parts.hub != self.hub or parts.sysid is None:
                raise MalformedMessage(topic, "not a command topic of this worker's hub")
            cmd = CommandMessage.from_payload(topic, payload)
        except MalformedMessage as exc:
            log.warning("dropped: %s", exc)
            return
        if cmd.verb == "accept":
            if parts.sysid not in {b.sysid for b in self.binding.unconfirmed()}:
                log.info("accept %s of vehicle %d: not waiting on this worker", cmd.id,
                         parts.sysid)   # the worker it waits on answers
                return
        elif not self._owns(parts.sysid) or self.telemetry.link_of(parts.sysid) is None:
            # the vehicle's owner answers (with several workers on a hub, only one owns it)
            log.info("command %s for vehicle %d: not this worker's vehicle", cmd.id,
                     parts.sysid)
            return
        with self._lock:
            if cmd.id in self._answers:
                answer = self._answers[cmd.id]
                if answer is not None:   # repeated by the broker: the same answer again
                    self._send_ack(parts.sysid, answer)
                return
            self._answers[cmd.id] = None
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        if not self._stop.is_set():
            self._pool.submit(self._execute, parts.sysid, cmd)

    def _execute(self, sysid: int, cmd: CommandMessage) -> None:
        ok, detail = self.execute(sysid, cmd)
        log.info("%s of vehicle %d from %s at %s: %s", cmd.verb, sysid, cmd.user, cmd.console,
                 detail)
        ack = AckMessage(command_id=cmd.id, ok=ok, detail=detail, worker=self.worker_id,
                         at_s=round(time.time(), 2))
        with self._lock:
            self._answers[cmd.id] = ack
        self._send_ack(sysid, ack)

    def _send_ack(self, sysid: int, ack: AckMessage) -> None:
        self.client.publish(ack_topic(self.hub, sysid), ack.to_payload(), qos=1)

    def execute(self, sysid: int, cmd: CommandMessage) -> tuple[bool, str]:
        """Carry out ``cmd`` on vehicle ``sysid``: whether it was done, and what happened."""
        age_s = time.time() - cmd.sent_at_s
        if age_s > self.command_max_age_s:
            return False, f"refused: sent {age_s:.0f} s ago (more than " \
                          f"{self.command_max_age_s:g} s)"
        if cmd.verb == "accept":
            if sysid not in {b.sysid for b in self.binding.unconfirmed()}:
                return False, f"vehicle {sysid} is not waiting on worker {self.worker_id}"
            bind = self.binding.accept(sysid)
            self._announce(force=True)
            return True, f"accepted on {bind.link_url}"
        link = self.telemetry.link_of(sysid)
        if link is None or not self._owns(sysid):
            return False, f"vehicle {sysid} is no longer owned by worker {self.worker_id}"
        mode = VERB_MODES[cmd.verb]
        undo = self.on_command(sysid, mode) if self.on_command is not None else None
        try:
            commands.set_mode(link, Target(sysid=sysid), mode)
        except GroundControlError as exc:
            if undo is not None:
                undo()
            return False, str(exc)
        return True, f"mode {mode} confirmed"
