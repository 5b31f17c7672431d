"""Monitoring one flight from mission start (or from a restart) to landing and disarm.

Mission progress comes from MISSION_CURRENT messages heard after the start and reporting an
active mission (a stale item number from the previous mission must never release a drop), gripper
releases from STATUSTEXT, payload places from MISSION_ITEM_REACHED, position and battery from the
telemetry hub. The failsafe monitor's alerts are recorded and its RTL requests carried out. The
flight ends when a fresh heartbeat shows the vehicle disarmed after it was seen armed, or when
nothing was heard from it for ``lost_vehicle_s``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gcs.fleet.failsafe import AlertKind, FailsafeMonitor, Severity
from gcs.fleet.tracking import DropState
from planner.plan_model import Sortie

if TYPE_CHECKING:
    from gcs.fleet.worker import VehicleWorker

MISSION_ACTIVE, MISSION_PAUSED, MISSION_COMPLETE = 3, 4, 5
_TICK_S = 0.05
#: A heartbeat younger than this (vehicle seconds; at least 0.5 s of wall time) is fresh.
_FRESH_S = 3.0
_EVENT_TYPES = frozenset({"STATUSTEXT", "MISSION_ITEM_REACHED", "MISSION_CURRENT"})


class _Progress:
    """Mission progress heard since monitoring began."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.state: int | None = None
        self.heard = False

    def take(self, msg: Any, mode: str | None) -> bool:
        """A MISSION_CURRENT; True when its item number is trustworthy and was taken."""
        state = int(getattr(msg, "mission_state", 0) or 0)
        self.heard = True
        if state:
            self.state = state
        if state in (MISSION_ACTIVE, MISSION_PAUSED) or (state == 0 and mode == "AUTO"):
            self.seq = int(msg.seq)
            return True
        return False


def monitor_flight(w: VehicleWorker, sortie: Sortie, flight_id: int, *, resumed: bool) -> None:
    """Watch the flight until the vehicle has landed (or the fleet stops)."""
    from gcs.fleet.manager import Phase

    fleet = w.fleet
    clock = fleet.clock
    tracker = fleet.trackers[sortie.id]
    limits = dataclasses.replace(w.opts.failsafe, reserve_pct=fleet.reserve_pct(sortie))
    monitor = FailsafeMonitor(sortie, sysid=w.sysid, limits=limits, time_scale=w.scale)
    w.monitor = monitor
    last_nav = max((i for i, m in enumerate(sortie.mission) if m.is_nav), default=0)
    sysid = w.sysid
    events = w.link.subscribe(lambda m: m.get_srcSystem() == sysid
                              and m.get_type() in _EVENT_TYPES)
    progress = _Progress()
    if resumed:
        w._phase(Phase.FLYING, ready=False, message="monitoring resumed")
    else:
        fleet._flight_state(flight_id, "flying")
        fleet._drop_events(tracker, tracker.start(clock()), flight_id)
        w._phase(Phase.FLYING, ready=False, message=None)
    seen_armed = False
    rtl_pending = False
    lost = False
    phase = Phase.FLYING
    unheard_since = clock()
    try:
        while not w._stopping():
            now = clock()
            snap = fleet.hub.snapshot(sysid)
            if snap is not None:
                unheard_since = now
            mode = None if snap is None else snap.mode
            lat = None if snap is None else snap.lat_deg
            lon = None if snap is None else snap.lon_deg
            while (msg := events.get(0)) is not None:
                kind = msg.get_type()
                if kind == "MISSION_CURRENT":
                    if progress.take(msg, mode):
                        fleet._drop_events(tracker, tracker.update(
                            now, seq=progress.seq, lat_deg=lat, lon_deg=lon), flight_id)
                elif kind == "STATUSTEXT":
                    text = str(msg.text)
                    fleet._drop_events(tracker, tracker.on_text(now, text), flight_id)
                    for alert in monitor.on_text(text, now):
                        fleet._record_alert(alert, flight_id)
                else:
                    fleet._drop_events(tracker, tracker.on_item_reached(now, int(msg.seq)),
                                       flight_id)
            if snap is None:
                if (now - unheard_since) * w.scale > w.opts.lost_vehicle_s:
                    lost = True
                    break
                fleet._stop.wait(_TICK_S)
                continue
            fresh = snap.heartbeat_age_s <= max(_FRESH_S / w.scale, 0.5)
            fleet._drop_events(tracker, tracker.update(now, seq=progress.seq, lat_deg=lat,
                                                       lon_deg=lon), flight_id)
            for alert in monitor.check(snap, now, seq=progress.seq):
                fleet._record_alert(alert, flight_id)
                rtl_pending = rtl_pending or alert.action == "RTL"
            if rtl_pending and fresh and snap.armed:
                rtl_pending = not w.command_rtl(monitor, sortie, flight_id)
            if fresh and snap.armed:
                seen_armed = True
            wanted = Phase.RETURNING if monitor.returning else Phase.FLYING
            if wanted != phase:
                phase = wanted
                w._phase(phase)
            if fresh and not snap.armed and (seen_armed or resumed):
                if resumed and not progress.heard:
                    _await_progress(w, events, progress, mode)
                break
            if snap.heartbeat_age_s * w.scale > w.opts.lost_vehicle_s:
                lost = True
                break
            fleet._stop.wait(_TICK_S)
    finally:
        events.close()
        w.monitor = None
    if w._stopping():
        return
    _finish(w, sortie, flight_id, monitor, progress, last_nav, lost)


def _await_progress(w: VehicleWorker, events: Any, progress: _Progress, mode: str | None) -> None:
    """After a restart, wait briefly for a MISSION_CURRENT to learn how the mission ended."""
    end = w.fleet.clock() + 3.0
    while w.fleet.clock() < end:
        msg = events.get(0.1)
        if msg is not None and msg.get_type() == "MISSION_CURRENT":
            progress.take(msg, mode)
            return


def _finish(w: VehicleWorker, sortie: Sortie, flight_id: int, monitor: FailsafeMonitor,
            progress: _Progress, last_nav: int, lost: bool) -> None:
    from gcs.fleet.manager import Phase

    fleet = w.fleet
    tracker = fleet.trackers[sortie.id]
    now = fleet.clock()
    completed = not lost and not monitor.returning and (
        progress.state == MISSION_COMPLETE or (progress.seq is not None
                                               and progress.seq >= last_nav))
    if lost:
        reason = "lost contact with the vehicle"
    elif monitor.returning:
        reason = "the sortie was cut short (returned or landed before this drop)"
    else:
        reason = "the vehicle landed before this drop"
    fleet._drop_events(tracker, tracker.finish(now, completed=completed, reason=reason),
                       flight_id)
    delivered = all(s.state == DropState.DELIVERED for s in tracker.statuses())
    if delivered:
        fleet._end_flight(flight_id, "completed", None)
    else:
        failed = [s.drop_id for s in tracker.statuses() if s.state != DropState.DELIVERED]
        fleet._end_flight(flight_id, "failed", f"{reason}: {', '.join(failed)} not delivered")
        w._alert(AlertKind.SORTIE_FAILED, Severity.WARNING,
                 f"{', '.join(failed)} not delivered: {reason}", sortie, flight_id)
    w._phase(Phase.LANDED, ready=False,
             message="all delivered" if delivered else "not every drop delivered")
