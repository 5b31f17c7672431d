"""One vehicle's thread in the fleet manager: its sorties in turn, each prepared, flown, tracked.

For every sortie: configure the vehicle (:mod:`gcs.fleet.config`), upload mission, fence and rally
and verify each by read-back (:mod:`gcs.fleet.prepare`; only then is the vehicle *ready*), wait
for GPS/EKF and run the preflight checks, arm in GUIDED and start the mission, monitor it
(:mod:`gcs.fleet.monitor`: delivery tracking, failsafe monitor, RTL when the battery reserve would
be broken) until the vehicle has landed and disarmed, then wait the turnaround. A failed step
fails the sortie's drops with the reason and takes the vehicle out of service; it is never left
marked ready. A vehicle that landed away from every depot stays "landed away" (its location
shown) and flies nothing more. Everything the thread reports goes through the fleet's
:class:`~gcs.fleet.recorder.FleetRecorder`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Set
from typing import Any

from gcs import commands
from gcs import mavlink as mav
from gcs.errors import CommandRejected, GroundControlError, PreflightFailed, SortieFailed
from gcs.fleet.config import needs_terrain
from gcs.fleet.context import FleetContext
from gcs.fleet.failsafe import Alert, AlertKind, FailsafeMonitor, Severity
from gcs.fleet.monitor import CHECK_PERIOD_S, WatchedFlight, finish_flight, watch_flight
from gcs.fleet.preflight import (
    Uploads,
    battery_needed_pct,
    evaluate,
    terrain_check,
    wait_for_battery,
    wait_until_ready,
)
from gcs.fleet.prepare import prepare_vehicle
from gcs.fleet.status import FieldLanding, Phase
from gcs.link import Link
from gcs.tlog.writer import TlogWriter
from gcs.transfer import Target
from planner.plan_model import Sortie

log = logging.getLogger(__name__)
_D = mav.dialect


#: How long (vehicle seconds) an arm refused by the vehicle is asked again, and the least
#: wall time that is at any speed-up.
ARM_RETRY_VEHICLE_S = 10.0
ARM_RETRY_MIN_S = 2.0
#: The least wall time the GPS/EKF readiness wait lasts at any speed-up: a simulator starved of
#: CPU runs slower than its SIM_SPEEDUP (real SITL needs about 42 simulated seconds to settle).
READY_MIN_WAIT_S = 60.0
#: How long (vehicle seconds; at least ``BATTERY_MIN_WAIT_S`` of wall time) the preflight waits
#: for the battery to read enough: a pack swapped or reset in the turnaround reports late.
BATTERY_WAIT_VEHICLE_S = 30.0
BATTERY_MIN_WAIT_S = 3.0


class VehicleWorker:
    """Flies the sorties of one plan vehicle on one MAVLink vehicle.

    Parameters
    ----------
    ctx
        The fleet it flies in.
    name
        The plan vehicle's name.
    sysid
        The MAVLink vehicle's system id.
    link
        The link it is heard on.
    sorties
        The plan vehicle's sorties, in the order they are flown.
    resume_flights
        Flights of a resumed run still in the air: sortie id -> flight id (monitored, not
        flown again).
    done_sorties
        Sorties not to fly: finished in an earlier run, or skipped for their delivered parcels.
    fly_new
        False: only the resumed flights are monitored, no new sortie takes off.
    """

    def __init__(self, ctx: FleetContext, *, name: str, sysid: int, link: Link,
                 sorties: list[Sortie], resume_flights: Mapping[str, int],
                 done_sorties: Set[str], fly_new: bool) -> None:
        self.ctx = ctx
        self.name = name
        self.sysid = sysid
        self.link = link
        self.target = Target(sysid=sysid)
        self.sorties = sorties
        self.resume_flights = resume_flights
        self.done_sorties = done_sorties
        self.fly_new = fly_new
        self.opts = ctx.options
        self.scale = ctx.options.time_scale
        #: The failsafe monitor of the flight in progress (None on the ground).
        self.monitor: FailsafeMonitor | None = None
        #: Modes an operator asked for since the sortie began, before its monitor existed.
        self._operator_modes: list[str] = []

    # -- helpers ------------------------------------------------------------------------------
    def _phase(self, phase: Phase, **changes: Any) -> None:
        self.ctx.recorder.set_status(self.name, phase=phase, **changes)

    def _stopping(self) -> bool:
        return self.ctx.stopping()

    def _sleep_vehicle_s(self, vehicle_s: float) -> None:
        self.ctx.stop.wait(max(vehicle_s, 0.0) / self.scale)

    def _alert(self, kind: AlertKind, severity: Severity, message: str, sortie: Sortie | None,
               flight_id: int | None, action: str | None = None) -> None:
        self.ctx.recorder.alert(Alert(kind=kind, severity=severity, message=message,
                                      sysid=self.sysid,
                                      sortie_id=None if sortie is None else sortie.id,
                                      at_s=self.ctx.clock(), action=action), flight_id)

    # -- the queue ----------------------------------------------------------------------------
    def run(self) -> None:
        """Fly every sortie in turn (the thread's body)."""
        ctx = self.ctx
        out_of_service: str | None = None
        for i, sortie in enumerate(self.sorties):
            if self._stopping():
                return
            tracker = ctx.trackers[sortie.id]
            if out_of_service is not None:
                ctx.recorder.drop_events(tracker.finish(
                    ctx.clock(), completed=False, reason=out_of_service), None)
                continue
            resumed = self.resume_flights.get(sortie.id)
            if sortie.id in self.done_sorties:
                continue
            if resumed is None and not self.fly_new:
                continue
            self._phase(Phase.WAITING, sortie_id=sortie.id)
            self._operator_modes = []
            try:
                if resumed is not None:
                    away = self._monitor(sortie, resumed, resumed=True)
                else:
                    away = self._fly(sortie)
            except SortieFailed as exc:
                out_of_service = f"vehicle out of service after sortie {sortie.id}: {exc.reason}"
                self._phase(Phase.FAILED, ready=False, message=exc.reason)
                continue
            ctx.recorder.set_status(self.name, sorties_done=i + 1)
            if away is not None:  # stays landed away (its phase and location) until recovered
                out_of_service = f"vehicle landed away after sortie {sortie.id} at {away.where}"
                continue
            if i + 1 < len(self.sorties) and not self._stopping():
                self._turnaround(sortie)
        if out_of_service is None and not self._stopping():
            self._phase(Phase.DONE, sortie_id=None, ready=False, message=None)

    def _turnaround(self, sortie: Sortie) -> None:
        wait_s = self.ctx.turnaround_s(sortie)
        self._phase(Phase.TURNAROUND, message=f"turnaround {wait_s:.0f} s")
        self._sleep_vehicle_s(wait_s)
        if not self._stopping() and self._resets_battery():
            try:
                commands.command(self.link, self.target, _D.MAV_CMD_BATTERY_RESET, (0xFF, 100),
                                 self.opts.retry)
            except GroundControlError as exc:
                log.warning("%s: battery reset refused: %s", self.name, exc)

    def _resets_battery(self) -> bool:
        """The turnaround swaps the battery by resetting its count: when asked, or by default
        on a simulator (a vehicle with ``SIM_SPEEDUP``), whose pack is never changed."""
        if self.opts.reset_battery is not None:
            return self.opts.reset_battery
        try:
            value = commands.param_get_optional(self.link, self.target, "SIM_SPEEDUP")
        except GroundControlError as exc:
            log.warning("%s: cannot tell whether it is a simulator: %s", self.name, exc)
            return False
        return value is not None

    # -- one sortie ---------------------------------------------------------------------------
    def _fly(self, sortie: Sortie) -> FieldLanding | None:
        ctx = self.ctx
        recorder = ctx.recorder
        tracker = ctx.trackers[sortie.id]
        flight_id = recorder.open_flight(sortie_id=sortie.id, vehicle=self.name,
                                         sysid=self.sysid)
        writer = self._start_tlog(flight_id)
        try:
            try:
                uploads = self._prepare(sortie)
                self._preflight(sortie, uploads)
                self._start(sortie)
            except GroundControlError as exc:
                reason = str(exc)
                recorder.set_status(self.name, ready=False)
                self._alert(AlertKind.SORTIE_FAILED, Severity.CRITICAL, reason, sortie, flight_id)
                recorder.drop_events(tracker.finish(ctx.clock(), completed=False,
                                                    reason=reason), flight_id)
                recorder.set_flight_state(flight_id, "failed", reason=reason)
                raise SortieFailed(reason) from exc
            return self._monitor(sortie, flight_id, resumed=False, writer=writer)
        finally:
            if writer is not None:
                writer[1]()
                writer[0].close()

    def _start_tlog(self, flight_id: int) -> tuple[TlogWriter, Callable[[], None]] | None:
        path = self.ctx.recorder.tlog_path(flight_id)
        if path is None:
            return None
        writer = TlogWriter(path)
        remove = self.ctx.hub.add_hook(self.sysid, writer.write)
        return writer, remove

    def _prepare(self, sortie: Sortie) -> Uploads:
        """Configure, then upload and verify mission, fence and rally: the vehicle is ready."""
        self._phase(Phase.CONFIGURING, ready=False, message=None)
        uploads = prepare_vehicle(self.link, self.target, sortie, config=self.opts.config,
                                  retry=self.opts.retry, attempts=self.opts.upload_attempts,
                                  on_upload=lambda: self._phase(Phase.UPLOADING),
                                  stopping=self._stopping)
        self.ctx.recorder.set_status(self.name, ready=True)
        self._phase(Phase.READY)
        return uploads

    def _preflight(self, sortie: Sortie, uploads: Uploads) -> None:
        ctx = self.ctx
        self._phase(Phase.PREFLIGHT)
        limits = dataclasses.replace(self.opts.preflight, reserve_pct=ctx.reserve_pct(sortie))
        snap = wait_until_ready(lambda: ctx.hub.snapshot(self.sysid),
                                max(self.opts.ready_timeout_s / self.scale,
                                    READY_MIN_WAIT_S), limits=limits,
                                clock=ctx.clock, stop=self._stopping)
        fence_enabled = None
        if sortie.fence:
            fence_enabled = commands.param_get(self.link, self.target, "FENCE_ENABLE",
                                               self.opts.retry) >= 1
        terrain = None
        if self.opts.config.terrain and needs_terrain(sortie):
            terrain = terrain_check(self.link, self.sysid, sortie, clock=ctx.clock,
                                    timeout_s=max(limits.terrain_wait_s / self.scale,
                                                  limits.terrain_min_wait_s),
                                    first_report_s=3.0 if snap and snap.terrain else 0.5,
                                    stop=self._stopping)
        # the battery (and everything else) as it reads now, the figure the fleet page shows
        snap = wait_for_battery(lambda: ctx.hub.snapshot(self.sysid),
                                battery_needed_pct(sortie, limits.reserve_pct),
                                max(BATTERY_WAIT_VEHICLE_S / self.scale, BATTERY_MIN_WAIT_S),
                                clock=ctx.clock, stop=self._stopping) or snap
        report = evaluate(snap, sortie, uploads=uploads, fence_enabled=fence_enabled,
                          limits=limits, terrain=terrain)
        ctx.recorder.set_preflight_report(sortie.id, report)
        if not report.ok:
            raise PreflightFailed(list(report.failures), sysid=self.sysid, sortie_id=sortie.id)

    def _start(self, sortie: Sortie) -> None:
        self._phase(Phase.ARMING)
        commands.set_mode(self.link, self.target, "GUIDED", self.opts.retry)
        self._arm()
        try:
            commands.mission_start(self.link, self.target, self.opts.retry)
        except GroundControlError:
            try:
                commands.disarm(self.link, self.target, retry=self.opts.retry)
            except GroundControlError as exc:
                log.warning("%s: disarm after a failed start: %s", self.name, exc)
            raise

    def _arm(self) -> None:
        """Arm, asking again while the vehicle refuses for ``ARM_RETRY_VEHICLE_S``.

        ArduCopter re-runs its pre-arm checks at its own pace: right after an upload it can
        refuse once (a polygon fence not loaded from storage yet: "Arm: Fences enabled, but
        none selected") and accept a moment later.
        """
        end = self.ctx.clock() + max(ARM_RETRY_VEHICLE_S / self.scale, ARM_RETRY_MIN_S)
        while True:
            try:
                commands.arm(self.link, self.target, retry=self.opts.retry)
                return
            except CommandRejected:
                if self.ctx.clock() >= end or self._stopping():
                    raise
                self.ctx.stop.wait(0.2)

    # -- monitoring ---------------------------------------------------------------------------
    def _monitor(self, sortie: Sortie, flight_id: int, *, resumed: bool,
                 writer: tuple[TlogWriter, Callable[[], None]] | None = None
                 ) -> FieldLanding | None:
        own = writer is None and resumed
        if own:
            writer = self._start_tlog(flight_id)
        try:
            return self._watch(sortie, flight_id, resumed=resumed)
        finally:
            if own and writer is not None:
                writer[1]()
                writer[0].close()

    def _watch(self, sortie: Sortie, flight_id: int, *, resumed: bool) -> FieldLanding | None:
        """Watch the flight until the vehicle has landed, then record how it ended; where it
        came down when that was away from every depot."""
        ctx = self.ctx
        limits = dataclasses.replace(self.opts.failsafe, reserve_pct=ctx.reserve_pct(sortie))
        monitor = FailsafeMonitor(sortie, sysid=self.sysid, limits=limits, time_scale=self.scale,
                                  check_period_s=CHECK_PERIOD_S)
        self.monitor = monitor
        for mode in list(self._operator_modes):  # asked for before the flight was watched
            monitor.commanded(mode)
        flight = WatchedFlight(vehicle=self.name, sysid=self.sysid, link=self.link,
                               sortie=sortie, flight_id=flight_id)
        try:
            end = watch_flight(ctx, flight, monitor, resumed=resumed,
                               command_rtl=lambda: self.command_rtl(monitor, sortie, flight_id))
        finally:
            self.monitor = None
        if self._stopping():
            return None
        return finish_flight(ctx, flight, monitor, end)

    def operator_mode(self, mode: str) -> Callable[[], None]:
        """Tell the flight's monitor an operator is switching to ``mode``; returns the undo."""
        monitor = self.monitor
        log.info("%s: operator commands %s", self.name, mode)
        if monitor is None:  # taking off: the flight's monitor, once it exists, is told
            self._operator_modes.append(mode)
            return lambda: None
        return monitor.commanded(mode)

    def command_rtl(self, monitor: FailsafeMonitor, sortie: Sortie, flight_id: int) -> bool:
        """Switch to RTL; False (and an alert) if the vehicle did not confirm."""
        undo = monitor.commanded("RTL")
        try:
            commands.set_mode(self.link, self.target, "RTL", self.opts.retry)
        except GroundControlError as exc:
            undo()
            monitor.returning = True  # the reserve check asked for it: keep asking
            self._alert(AlertKind.VEHICLE_FAILSAFE, Severity.CRITICAL, f"RTL not confirmed: {exc}",
                        sortie, flight_id)
            return False
        return True
