"""Where a fleet's vehicles report: statuses, alerts, preflight reports and the flight log.

The manager creates one :class:`FleetRecorder` per fleet and hands it to every vehicle's thread;
the threads report through it and the manager reads from it. It owns every write to the flight
log made while the fleet flies, and the lock guarding the statuses and alerts.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from gcs.fleet.failsafe import Alert
from gcs.fleet.logs import FlightLog, RunRecord
from gcs.fleet.preflight import PreflightReport
from gcs.fleet.status import VehicleStatus
from gcs.fleet.tracking import DropEvent

log = logging.getLogger(__name__)


class FleetRecorder:
    """Statuses, alerts and preflight reports of one fleet, and its writes to the flight log.

    Safe to use from several threads.

    Parameters
    ----------
    flight_log
        Where flights, alerts and delivery events are recorded (None: nowhere).
    clock
        Monotonic clock (s), the one drop events are stamped with.
    fence
        Asked before every write to the flight log: False drops the write (the vehicles'
        owner lost them to another worker; :mod:`gcs.fleet.ownership`). None: always write.
    """

    def __init__(self, flight_log: FlightLog | None, *,
                 clock: Callable[[], float] = time.monotonic,
                 fence: Callable[[], bool] | None = None) -> None:
        self.flight_log = flight_log
        self.clock = clock
        self.fence = fence
        self._fenced = False
        #: The run of the flight log the fleet records into (None until one is opened).
        self.run: RunRecord | None = None
        self._lock = threading.Lock()
        self._status: dict[str, VehicleStatus] = {}
        self._alerts: list[Alert] = []
        self._preflight_reports: dict[str, PreflightReport] = {}
        self._on_alert: list[Callable[[Alert], None]] = []

    def _recording(self) -> bool:
        """A flight log and a run to write to, and the fence lets the write through."""
        if self.flight_log is None or self.run is None:
            return False
        if self.fence is not None and not self.fence():
            if not self._fenced:
                log.warning("run %d: nothing more recorded: the vehicle's lease is lost",
                            self.run.id)
            self._fenced = True
            return False
        return True

    # -- the run ------------------------------------------------------------------------------
    def open_run(self, *, plan_key: str, plan_name: str, plan_path: str | None,
                 resume: bool) -> RunRecord | None:
        """Open the run of the plan recorded from now on (see :meth:`FlightLog.start_run`).

        Returns it, or None without a flight log.
        """
        if self.flight_log is None:
            return None
        self.run = self.flight_log.start_run(plan_key=plan_key, plan_name=plan_name,
                                             plan_path=plan_path, resume=resume)
        return self.run

    def end_run(self, outcome: str) -> None:
        """The run is over (``outcome`` e.g. ``"all delivered"``)."""
        if self._recording() and self.flight_log is not None and self.run is not None:
            self.flight_log.end_run(self.run.id, outcome)

    # -- vehicles -----------------------------------------------------------------------------
    def add_vehicle(self, status: VehicleStatus) -> None:
        """A vehicle joins the fleet with ``status`` (and is recorded in the run)."""
        with self._lock:
            self._status[status.name] = status
        if self._recording() and self.flight_log is not None and self.run is not None:
            self.flight_log.record_vehicle(self.run.id, name=status.name, sysid=status.sysid,
                                           link_url=status.link_url)

    def set_status(self, name: str, **changes: object) -> None:
        """Change fields of vehicle ``name``'s :class:`VehicleStatus`."""
        with self._lock:
            self._status[name] = dataclasses.replace(self._status[name],
                                                     **changes)  # type: ignore[arg-type]

    def statuses(self) -> tuple[VehicleStatus, ...]:
        """Every vehicle's status, by plan name."""
        with self._lock:
            return tuple(self._status[n] for n in sorted(self._status))

    # -- alerts -------------------------------------------------------------------------------
    def alert(self, alert: Alert, flight_id: int | None) -> None:
        """Record ``alert`` (of flight ``flight_id``, if any) and tell the callbacks."""
        with self._lock:
            self._alerts.append(alert)
        log.info("vehicle %d%s: %s: %s", alert.sysid,
                 f" sortie {alert.sortie_id}" if alert.sortie_id else "", alert.kind,
                 alert.message)
        if self._recording() and self.flight_log is not None and self.run is not None:
            self.flight_log.record_alert(self.run.id, alert, flight_id=flight_id)
        for callback in list(self._on_alert):
            try:
                callback(alert)
            except Exception:
                log.exception("alert callback failed")

    def alerts(self) -> tuple[Alert, ...]:
        """Every alert so far."""
        with self._lock:
            return tuple(self._alerts)

    def on_alert(self, callback: Callable[[Alert], None]) -> None:
        """Call ``callback(alert)`` for every alert from now on (from the recording thread)."""
        self._on_alert.append(callback)

    # -- preflight ----------------------------------------------------------------------------
    def set_preflight_report(self, sortie_id: str, report: PreflightReport) -> None:
        """The preflight checks of ``sortie_id`` ran and gave ``report``."""
        with self._lock:
            self._preflight_reports[sortie_id] = report

    def preflight_report(self, sortie_id: str) -> PreflightReport | None:
        """The preflight report of a sortie, once its checks ran."""
        with self._lock:
            return self._preflight_reports.get(sortie_id)

    # -- flights and drops --------------------------------------------------------------------
    def drop_events(self, events: Iterable[DropEvent], flight_id: int | None) -> None:
        """Record changes of drop states (of flight ``flight_id``, if any)."""
        if not self._recording() or self.flight_log is None or self.run is None:
            return
        offset = time.time() - self.clock()
        for event in events:
            eta = None if event.eta_at_s is None else event.eta_at_s + offset
            self.flight_log.record_drop_event(self.run.id, event, flight_id=flight_id,
                                              eta_at=eta)

    def open_flight(self, *, sortie_id: str, vehicle: str, sysid: int) -> int:
        """A new flight of ``sortie_id`` by ``vehicle``; its id (-1 when nothing is recorded)."""
        if not self._recording() or self.flight_log is None or self.run is None:
            return -1
        return self.flight_log.open_flight(self.run.id, sortie_id=sortie_id, vehicle=vehicle,
                                           sysid=sysid)

    def set_flight_state(self, flight_id: int, state: str, *, reason: str | None = None) -> None:
        """Move flight ``flight_id`` to ``state`` (nothing for a flight not recorded)."""
        if self.flight_log is not None and flight_id >= 0 and \
                (self.fence is None or self.fence()):
            self.flight_log.set_flight_state(flight_id, state, reason=reason)

    def tlog_path(self, flight_id: int) -> Path | None:
        """Where the ``.tlog`` of flight ``flight_id`` goes (None when nothing is recorded)."""
        if self.flight_log is None or flight_id < 0:
            return None
        return self.flight_log.flight_tlog_path(flight_id)
