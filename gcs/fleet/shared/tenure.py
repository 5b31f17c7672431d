"""One vehicle held by a worker of a shared run, from the lease taken to the lease lost.

A tenure opens its own link to the vehicle (a TCP endpoint serves one client at a time: a worker
connects only to the vehicles it holds, and lets go of them when it loses them), its own
telemetry hub and recorder, reads what the run holds of the vehicle's sorties, and flies them
with a :class:`~gcs.fleet.worker.VehicleWorker`: a flight still ``flying`` is monitored to its
end (no new flight row; the drops' recorded states restored, so no event is recorded twice),
the sorties over are not flown again, the later ones are flown. A flight left ``preparing`` is
monitored as in the air when the vehicle is armed, otherwise aborted and its sortie flown anew.

Its recorder writes only while the lease is held (the ``holds`` fence), and :meth:`stop`, called
the moment the lease is lost, stops the vehicle's thread and closes the link: nothing more is
sent to the vehicle or written for it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gcs import commands
from gcs.fleet.context import FleetContext
from gcs.fleet.logs import FlightLog, RunRecord
from gcs.fleet.options import FlyOptions
from gcs.fleet.recorder import FleetRecorder
from gcs.fleet.shared.run import VehicleHistory, vehicle_history
from gcs.fleet.status import VehicleStatus
from gcs.fleet.tracking import DropEvent, DropState, SortieTracker
from gcs.fleet.worker import VehicleWorker
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from gcs.transfer import Target
from planner.plan_model import Plan
from planner.scenario import DroneType
from planner.terrain import Dem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleSpec:
    """A vehicle a worker could serve: its lease key, the plan vehicle it flies as, its
    MAVLink system id and the connection string that reaches it."""

    key: str
    name: str
    sysid: int
    url: str

    def __post_init__(self) -> None:
        if not self.key or not self.name or not self.url:
            raise ValueError(f"Expected a key, a plan vehicle name and a url, got {self!r}")
        if not 1 <= self.sysid <= 255:
            raise ValueError(f"Expected sysid in 1..255, got {self.sysid}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedRun:
    """What the tenures of one worker share: the plan, its run, the flight log and how to fly.

    ``follow_speed``: each vehicle's ``SIM_SPEEDUP`` sets its time scale (1 for real vehicles),
    else ``options.time_scale`` applies. ``telemetry``: the worker's own telemetry hub, whose
    links (and terrain serving) the tenures borrow instead of opening a link of their own (a
    vehicle endpoint serving one client at a time); None: each tenure opens ``spec.url``.
    ``delivered_before``: parcels earlier versions of the plan delivered (drop id -> where,
    ``"run 3"``), not flown again, as those the plan's earlier runs delivered, unless
    ``resend_delivered``.
    """

    plan: Plan
    run: RunRecord
    flight_log: FlightLog
    options: FlyOptions
    dem: Dem | None = None
    drone_types: Mapping[str, DroneType] = dataclasses.field(default_factory=dict)
    follow_speed: bool = True
    telemetry: TelemetryHub | None = None
    delivered_before: Mapping[str, str] = dataclasses.field(default_factory=dict)
    resend_delivered: bool = False

    def delivered(self) -> dict[str, str]:
        """Parcels no sortie of this run flies again: drop id -> where they were delivered
        (none with ``resend_delivered``)."""
        return delivered_elsewhere(self.flight_log, self.run.plan_key, self.delivered_before,
                                   resend_delivered=self.resend_delivered,
                                   run_id=self.run.id)


def delivered_elsewhere(flight_log: FlightLog, key: str, delivered_before: Mapping[str, str],
                        *, resend_delivered: bool = False,
                        run_id: int | None = None) -> dict[str, str]:
    """Parcels of plan key ``key`` delivered by its runs other than ``run_id`` or by earlier
    versions (``delivered_before``): drop id -> where (``"run 3"``); none when
    ``resend_delivered``.

    Parameters
    ----------
    flight_log
        The shared flight log.
    key
        The plan key (:func:`gcs.fleet.manager.plan_key`).
    delivered_before
        Parcels earlier versions delivered, as the console knows them.
    resend_delivered
        The operator re-sends delivered parcels: nothing is left out.
    run_id
        The run being flown (its own deliveries are its sorties' state, not a reason to skip).

    Returns
    -------
    dict
        Drop id -> where it was delivered.
    """
    if resend_delivered:
        return {}
    out = dict(delivered_before)
    out.update((d, f"run {r}") for d, r in flight_log.delivered_drops(key).items()
               if r != run_id)
    return out


class VehicleTenure:
    """Flies one held vehicle's share of the run until stopped or its sorties are done.

    Parameters
    ----------
    shared
        The run and how to fly.
    spec
        The vehicle.
    holds
        Whether the lease is still held (the recorder's fence).
    on_unreachable
        Called (from the tenure's thread) when the vehicle is not heard within
        ``connect_timeout_s``: the worker gives it back.
    on_done
        Called (from the tenure's thread) when its thread ends.
    on_ready
        Called (from the tenure's thread) once the vehicle is heard and its state read back,
        as it starts monitoring the flight in the air or flying the next sortie.
    connect_timeout_s
        How long to wait for the vehicle's heartbeat.
    """

    def __init__(self, shared: SharedRun, spec: VehicleSpec, *, holds: Callable[[], bool],
                 on_unreachable: Callable[[VehicleSpec], None],
                 on_done: Callable[[VehicleSpec], None],
                 on_ready: Callable[[VehicleSpec], None] | None = None,
                 connect_timeout_s: float = 10.0) -> None:
        self.shared = shared
        self.spec = spec
        self.holds = holds
        self.on_unreachable = on_unreachable
        self.on_done = on_done
        self.on_ready = on_ready
        self.connect_timeout_s = connect_timeout_s
        self.recorder = FleetRecorder(shared.flight_log, clock=time.monotonic, fence=holds)
        self.recorder.run = shared.run
        self.sorties = sorted((s for s in shared.plan.sorties if s.vehicle == spec.name),
                              key=lambda s: (s.start_s, s.id))
        #: Sortie ids whose flight in the air this tenure took over (monitored, not flown).
        self.resumed: dict[str, int] = {}
        self._stop = threading.Event()
        self._link: Link | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._worker: VehicleWorker | None = None

    @property
    def alive(self) -> bool:
        """The tenure's thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> VehicleStatus | None:
        """The vehicle's status (None before it was heard)."""
        found = self.recorder.statuses()
        return found[0] if found else None

    def start(self) -> VehicleTenure:
        """Start the tenure's thread."""
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"tenure {self.spec.key}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: the thread is told to end and the link is closed (nothing more is
        sent to the vehicle). Does not wait for the thread (:meth:`join`)."""
        self._stop.set()
        with self._lock:
            link, self._link = self._link, None
        if link is not None:
            link.close()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the thread to end; whether it has."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return not self.alive

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        spec = self.spec
        hub: TelemetryHub | None = None
        if self.shared.telemetry is not None:
            self._run_borrowed(self.shared.telemetry)
            return
        try:
            link = self._connect()
            if link is None:
                if not self._stop.is_set():
                    log.warning("%s (system %d) not heard on %s: given back", spec.name,
                                spec.sysid, spec.url)
                    self.on_unreachable(spec)
                return
            hub = TelemetryHub(dem=self.shared.dem,
                               stream_rate_hz=self.shared.options.stream_rate_hz,
                               clock=time.monotonic)
            hub.attach(link)
            if not self._heard(hub):
                if not self._stop.is_set():
                    self.on_unreachable(spec)
                return
            self._fly(link, hub)
        except Exception:
            log.exception("%s: tenure failed", spec.key)
        finally:
            if hub is not None:
                hub.close()
            self.stop()
            self.on_done(spec)

    def _run_borrowed(self, hub: TelemetryHub) -> None:
        """Fly on the worker's own link and telemetry (neither closed at the end)."""
        spec = self.spec
        try:
            end = time.monotonic() + self.connect_timeout_s
            link = hub.link_of(spec.sysid)
            while (link is None or hub.snapshot(spec.sysid) is None) and \
                    time.monotonic() < end and not self._stop.is_set():
                self._stop.wait(0.05)
                link = hub.link_of(spec.sysid)
            if link is None or hub.snapshot(spec.sysid) is None:
                if not self._stop.is_set():
                    log.warning("%s (system %d) not heard: given back", spec.name, spec.sysid)
                    self.on_unreachable(spec)
                return
            self.spec = dataclasses.replace(spec, url=link.url)
            self._fly(link, hub)
        except Exception:
            log.exception("%s: tenure failed", spec.key)
        finally:
            self._stop.set()
            self.on_done(spec)

    def _connect(self) -> Link | None:
        scale = self.shared.options.time_scale
        link = Link(self.spec.url, heartbeat_period_s=min(1.0, 1.0 / scale))
        try:
            link.open()
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot open %s: %s", self.spec.key, self.spec.url, exc)
            return None
        with self._lock:
            if self._stop.is_set():
                link.close()
                return None
            self._link = link
        return link

    def _heard(self, hub: TelemetryHub) -> bool:
        end = time.monotonic() + self.connect_timeout_s
        while time.monotonic() < end and not self._stop.is_set():
            if hub.snapshot(self.spec.sysid) is not None:
                return True
            self._stop.wait(0.05)
        return False

    def _fly(self, link: Link, hub: TelemetryHub) -> None:
        shared, spec = self.shared, self.spec
        options = shared.options
        if shared.follow_speed:
            scale = commands.vehicle_speedup(link, Target(sysid=spec.sysid))
            options = dataclasses.replace(options, time_scale=scale)
            link.heartbeat_period_s = min(link.heartbeat_period_s, 1.0 / scale)
        if self._stop.is_set():
            return
        history = vehicle_history(shared.flight_log, shared.run.id, self.sorties)
        trackers = self._trackers(options, history)
        recorder = self.recorder
        recorder.add_vehicle(VehicleStatus(name=spec.name, sysid=spec.sysid, link_url=spec.url,
                                           sorties_total=len(self.sorties)))
        resume = dict(history.flying)
        snap = hub.snapshot(spec.sysid)
        for sortie_id, flight_id in history.preparing.items():
            if snap is not None and snap.armed:  # its owner stopped right after take-off
                recorder.set_flight_state(flight_id, "flying")
                recorder.drop_events(trackers[sortie_id].start(time.monotonic()), flight_id)
                resume[sortie_id] = flight_id
            else:
                recorder.set_flight_state(flight_id, "aborted",
                                          reason="interrupted before take-off")
        done = set(history.done)
        self._skip_delivered(trackers, done, resume)
        self.resumed = dict(resume)
        ctx = FleetContext(hub=hub, recorder=recorder, trackers=trackers, options=options,
                           drone_types=shared.drone_types, clock=time.monotonic, stop=self._stop)
        if resume:
            log.info("%s: monitoring resumed for sorties %s", spec.key, ", ".join(sorted(resume)))
        if self.on_ready is not None:
            self.on_ready(spec)
        worker = VehicleWorker(ctx, name=spec.name, sysid=spec.sysid, link=link,
                               sorties=self.sorties, resume_flights=resume, done_sorties=done,
                               fly_new=True)
        with self._lock:
            self._worker = worker
        worker.run()

    def announce(self, mode: str) -> Callable[[], None]:
        """Tell the flight's monitor an operator is switching the vehicle to ``mode`` (its
        failsafe rules then know the mode change is no failure); returns the undo."""
        with self._lock:
            worker = self._worker
        if worker is None:
            return lambda: None
        return worker.operator_mode(mode)

    def _trackers(self, options: FlyOptions,
                  history: VehicleHistory) -> dict[str, SortieTracker]:
        """A tracker per sortie of the plan (the depots come from them), this vehicle's with
        the states the run recorded."""
        trackers = {s.id: SortieTracker(s, time_scale=options.time_scale,
                                        max_release_error_m=options.max_release_error_m)
                    for s in self.shared.plan.sorties}
        for sortie in self.sorties:
            for drop_id in sortie.drop_ids:
                if drop_id in history.drop_states:
                    state, detail = history.drop_states[drop_id]
                    trackers[sortie.id].restore(drop_id, DropState(state), reason=detail)
        return trackers

    def _skip_delivered(self, trackers: Mapping[str, SortieTracker], done: set[str],
                        flying: Mapping[str, int]) -> None:
        """Sorties not flown yet whose parcels an earlier run or version of the plan delivered
        are not flown (as :class:`~gcs.fleet.manager.FleetManager` does without
        ``resend_delivered``)."""
        delivered = self.shared.delivered()
        now = time.monotonic()
        for sortie in self.sorties:
            ids = [d for d in sortie.drop_ids if d in delivered]
            if not ids or sortie.id in done or sortie.id in flying:
                continue
            tracker = trackers[sortie.id]
            events = []
            for drop_id in ids:
                where = f"delivered in {delivered[drop_id]}"
                events.append(DropEvent(drop_id=drop_id, sortie_id=sortie.id,
                                        state=DropState.DELIVERED, at_s=now, detail=where))
                tracker.restore(drop_id, DropState.DELIVERED, reason=where)
            rest = [d for d in sortie.drop_ids if d not in delivered]
            if rest:
                events += tracker.finish(now, completed=False, reason=(
                    f"sortie {sortie.id} not flown: {', '.join(ids)} delivered already and its "
                    f"mission would release them again"))
            self.recorder.drop_events(events, None)
            done.add(sortie.id)
