"""One vehicle's thread in the fleet manager: its sorties in turn, each prepared, flown, tracked.

For every sortie: configure the vehicle (:mod:`gcs.fleet.config`), upload mission, fence and rally
and verify each by read-back (only then is the vehicle *ready*), wait for GPS/EKF and run the
preflight checks, arm in GUIDED and start the mission, monitor it (delivery tracking, failsafe
monitor, RTL when the battery reserve would be broken) until the vehicle has landed and
disarmed, then wait the turnaround. A failed step fails the sortie's drops with the reason and
takes the vehicle out of service; it is never left marked ready.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gcs import commands, transfer
from gcs import mavlink as mav
from gcs.errors import CommandRejected, GroundControlError, PreflightFailed
from gcs.fleet.config import ConfigOptions, configure, needs_terrain
from gcs.fleet.failsafe import Alert, AlertKind, FailsafeMonitor, Severity
from gcs.fleet.preflight import Uploads, evaluate, terrain_check, wait_until_ready
from gcs.link import Link
from gcs.storage import as_stored
from gcs.tlog.writer import TlogWriter
from gcs.transfer import DEFAULT_RETRY, Retry, Target
from planner.items import MissionType
from planner.plan_model import Sortie

if TYPE_CHECKING:
    from gcs.fleet.manager import FleetManager, Phase

log = logging.getLogger(__name__)
_D = mav.dialect


#: How long (vehicle seconds) an arm refused by the vehicle is asked again, and the least
#: wall time that is at any speed-up.
ARM_RETRY_VEHICLE_S = 10.0
ARM_RETRY_MIN_S = 2.0
#: The least wall time the GPS/EKF readiness wait lasts at any speed-up: a simulator starved of
#: CPU runs slower than its SIM_SPEEDUP (real SITL needs about 42 simulated seconds to settle).
READY_MIN_WAIT_S = 60.0


class SortieFailed(Exception):
    """A sortie could not start or went wrong; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def prepare_vehicle(link: Link, target: Target, sortie: Sortie, *,
                    config: ConfigOptions | None = None, retry: Retry = DEFAULT_RETRY,
                    attempts: int = 2, on_upload: Callable[[], None] | None = None,
                    stopping: Callable[[], bool] = lambda: False) -> Uploads:
    """Configure a vehicle for ``sortie``, then upload mission, fence and rally, each verified.

    Returns only when every list's read-back matched; otherwise raises (an upload is tried
    ``attempts`` times).

    Raises
    ------
    VehicleNotCapable
        The vehicle lacks the gripper or winch the sortie uses.
    MissionTransferError, LinkTimeout, CommandRejected
        Configuration or an upload failed for good.
    """
    configure(link, target, sortie, config, retry)
    if on_upload is not None:
        on_upload()
    lists = ((MissionType.MISSION, sortie.mission), (MissionType.FENCE, sortie.fence),
             (MissionType.RALLY, sortie.rally))
    for kind, planned in lists:
        items = as_stored(planned, kind)
        for attempt in range(attempts):
            try:
                if items:
                    transfer.upload_verified(link, target, items, kind, retry)
                else:
                    transfer.clear(link, target, kind, retry)
                break
            except GroundControlError as exc:
                if attempt + 1 >= attempts or stopping():
                    raise
                log.warning("vehicle %d: %s upload failed (%s), again", target.sysid,
                            kind.name.lower(), exc)
    return Uploads(mission=True, fence=True, rally=True)


class VehicleWorker:
    """Flies the sorties of one plan vehicle on one MAVLink vehicle."""

    def __init__(self, fleet: FleetManager, *, name: str, sysid: int, link: Link,
                 sorties: list[Sortie]) -> None:
        self.fleet = fleet
        self.name = name
        self.sysid = sysid
        self.link = link
        self.target = Target(sysid=sysid)
        self.sorties = sorties
        self.opts = fleet.options
        self.scale = fleet.options.time_scale
        #: The failsafe monitor of the flight in progress (None on the ground).
        self.monitor: FailsafeMonitor | None = None

    # -- helpers ------------------------------------------------------------------------------
    def _phase(self, phase: Phase, **changes: Any) -> None:
        self.fleet._set_status(self.name, phase=phase, **changes)

    def _stopping(self) -> bool:
        return self.fleet._stop.is_set()

    def _sleep_vehicle_s(self, vehicle_s: float) -> None:
        self.fleet._stop.wait(max(vehicle_s, 0.0) / self.scale)

    def _alert(self, kind: AlertKind, severity: Severity, message: str, sortie: Sortie | None,
               flight_id: int | None, action: str | None = None) -> None:
        self.fleet._record_alert(Alert(kind=kind, severity=severity, message=message,
                                       sysid=self.sysid,
                                       sortie_id=None if sortie is None else sortie.id,
                                       at_s=self.fleet.clock(), action=action), flight_id)

    # -- the queue ----------------------------------------------------------------------------
    def run(self) -> None:
        """Fly every sortie in turn (the thread's body)."""
        from gcs.fleet.manager import Phase

        out_of_service: str | None = None
        for i, sortie in enumerate(self.sorties):
            if self._stopping():
                return
            tracker = self.fleet.trackers[sortie.id]
            if out_of_service is not None:
                self.fleet._drop_events(tracker, tracker.finish(
                    self.fleet.clock(), completed=False, reason=out_of_service), None)
                continue
            resumed = self.fleet._resume_flights.get(sortie.id)
            if self.fleet._sortie_done(sortie.id):
                continue
            if resumed is None and not self.fleet._fly_new:
                continue
            self._phase(Phase.WAITING, sortie_id=sortie.id)
            try:
                if resumed is not None:
                    self._monitor(sortie, resumed, resumed=True)
                else:
                    self._fly(sortie)
            except SortieFailed as exc:
                out_of_service = f"vehicle out of service after sortie {sortie.id}: {exc.reason}"
                self._phase(Phase.FAILED, ready=False, message=exc.reason)
                continue
            self.fleet._set_status(self.name, sorties_done=i + 1)
            if i + 1 < len(self.sorties) and not self._stopping():
                self._turnaround(sortie)
        if out_of_service is None and not self._stopping():
            self._phase(Phase.DONE, sortie_id=None, ready=False, message=None)

    def _turnaround(self, sortie: Sortie) -> None:
        from gcs.fleet.manager import Phase

        wait_s = self.fleet.turnaround_s(sortie)
        self._phase(Phase.TURNAROUND, message=f"turnaround {wait_s:.0f} s")
        self._sleep_vehicle_s(wait_s)
        if self.opts.reset_battery and not self._stopping():
            try:
                commands.command(self.link, self.target, _D.MAV_CMD_BATTERY_RESET, (0xFF, 100),
                                 self.opts.retry)
            except GroundControlError as exc:
                log.warning("%s: battery reset refused: %s", self.name, exc)

    # -- one sortie ---------------------------------------------------------------------------
    def _fly(self, sortie: Sortie) -> None:
        fleet = self.fleet
        tracker = fleet.trackers[sortie.id]
        flight_id = fleet._open_flight(sortie, self)
        writer = self._start_tlog(sortie)
        try:
            try:
                uploads = self._prepare(sortie)
                self._preflight(sortie, uploads)
                self._start(sortie)
            except (GroundControlError, SortieFailed) as exc:
                reason = exc.reason if isinstance(exc, SortieFailed) else str(exc)
                fleet._set_status(self.name, ready=False)
                self._alert(AlertKind.SORTIE_FAILED, Severity.CRITICAL, reason, sortie, flight_id)
                fleet._drop_events(tracker, tracker.finish(fleet.clock(), completed=False,
                                                           reason=reason), flight_id)
                fleet._end_flight(flight_id, "failed", reason)
                raise SortieFailed(reason) from exc
            self._monitor(sortie, flight_id, resumed=False, writer=writer)
        finally:
            if writer is not None:
                writer[1]()
                writer[0].close()

    def _start_tlog(self, sortie: Sortie) -> tuple[TlogWriter, Callable[[], None]] | None:
        path = self.fleet._tlog_path(sortie, self.sysid)
        if path is None:
            return None
        writer = TlogWriter(path)
        remove = self.fleet.hub.add_hook(self.sysid, writer.write)
        return writer, remove

    def _prepare(self, sortie: Sortie) -> Uploads:
        """Configure, then upload and verify mission, fence and rally: the vehicle is ready."""
        from gcs.fleet.manager import Phase

        self._phase(Phase.CONFIGURING, ready=False, message=None)
        uploads = prepare_vehicle(self.link, self.target, sortie, config=self.opts.config,
                                  retry=self.opts.retry, attempts=self.opts.upload_attempts,
                                  on_upload=lambda: self._phase(Phase.UPLOADING),
                                  stopping=self._stopping)
        self.fleet._set_status(self.name, ready=True)
        self._phase(Phase.READY)
        return uploads

    def _preflight(self, sortie: Sortie, uploads: Uploads) -> None:
        from gcs.fleet.manager import Phase

        self._phase(Phase.PREFLIGHT)
        limits = dataclasses.replace(self.opts.preflight,
                                     reserve_pct=self.fleet.reserve_pct(sortie))
        snap = wait_until_ready(lambda: self.fleet.hub.snapshot(self.sysid),
                                max(self.opts.ready_timeout_s / self.scale,
                                    READY_MIN_WAIT_S), limits=limits,
                                clock=self.fleet.clock, stop=self._stopping)
        fence_enabled = None
        if sortie.fence:
            fence_enabled = commands.param_get(self.link, self.target, "FENCE_ENABLE",
                                               self.opts.retry) >= 1
        terrain = None
        if self.opts.config.terrain and needs_terrain(sortie):
            terrain = terrain_check(self.link, self.sysid, sortie, clock=self.fleet.clock,
                                    timeout_s=max(limits.terrain_wait_s / self.scale,
                                                  limits.terrain_min_wait_s),
                                    first_report_s=3.0 if snap and snap.terrain else 0.5,
                                    stop=self._stopping)
        report = evaluate(snap, sortie, uploads=uploads, fence_enabled=fence_enabled,
                          limits=limits, terrain=terrain)
        self.fleet._preflight_reports[sortie.id] = report
        if not report.ok:
            raise PreflightFailed(list(report.failures), sysid=self.sysid, sortie_id=sortie.id)

    def _start(self, sortie: Sortie) -> None:
        from gcs.fleet.manager import Phase

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
        end = self.fleet.clock() + max(ARM_RETRY_VEHICLE_S / self.scale, ARM_RETRY_MIN_S)
        while True:
            try:
                commands.arm(self.link, self.target, retry=self.opts.retry)
                return
            except CommandRejected:
                if self.fleet.clock() >= end or self._stopping():
                    raise
                self.fleet._stop.wait(0.2)

    # -- monitoring ---------------------------------------------------------------------------
    def _monitor(self, sortie: Sortie, flight_id: int, *, resumed: bool,
                 writer: tuple[TlogWriter, Callable[[], None]] | None = None) -> None:
        from gcs.fleet.monitor import monitor_flight

        own = writer is None and resumed
        if own:
            writer = self._start_tlog(sortie)
        try:
            monitor_flight(self, sortie, flight_id, resumed=resumed)
        finally:
            if own and writer is not None:
                writer[1]()
                writer[0].close()

    def operator_mode(self, mode: str) -> Callable[[], None]:
        """Tell the flight's monitor an operator is switching to ``mode``; returns the undo."""
        monitor = self.monitor
        if monitor is None:
            return lambda: None
        log.info("%s: operator commands %s", self.name, mode)
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
