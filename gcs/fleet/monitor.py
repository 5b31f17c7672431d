"""Monitoring one flight from mission start (or from a restart) to landing and disarm.

Mission progress comes from MISSION_CURRENT messages heard after the start and reporting an
active mission (a stale item number from the previous mission must never release a drop), gripper
releases from STATUSTEXT, payload places from MISSION_ITEM_REACHED, position and battery from the
telemetry hub. The failsafe monitor's alerts are recorded and its RTL requests carried out. The
flight ends when a fresh heartbeat shows the vehicle disarmed after it was seen armed, or when
nothing was heard from it for ``lost_vehicle_s``. A vehicle that disarmed farther than
``FIELD_LANDING_M`` from every depot of the plan landed in the field: it is "landed away", with
its location and a critical alert, and flies no further sortie until recovered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gcs.fleet.context import FleetContext
from gcs.fleet.failsafe import Alert, AlertKind, FailsafeMonitor, Severity
from gcs.fleet.status import FieldLanding, Phase
from gcs.fleet.tracking import DropState
from gcs.geo import distance_m
from gcs.link import Link
from gcs.snapshot import VehicleSnapshot
from planner.plan_model import Sortie

MISSION_ACTIVE, MISSION_PAUSED, MISSION_COMPLETE = 3, 4, 5
_TICK_S = 0.05
#: How often (wall s) a flight's failsafe monitor is checked.
CHECK_PERIOD_S = _TICK_S
#: A disarm farther than this (m) from every depot is a landing in the field.
FIELD_LANDING_M = 200.0
#: A heartbeat younger than this (vehicle seconds; at least 0.5 s of wall time) is fresh.
_FRESH_S = 3.0
_EVENT_TYPES = frozenset({"STATUSTEXT", "MISSION_ITEM_REACHED", "MISSION_CURRENT"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchedFlight:
    """One flight: the vehicle flying it (plan name, system id, link), its sortie and log id."""

    vehicle: str
    sysid: int
    link: Link
    sortie: Sortie
    flight_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FlightEnd:
    """How a watched flight ended, as far as it was heard.

    ``lost`` when nothing was heard from the vehicle for ``lost_vehicle_s``; ``mission_state``
    (MISSION_STATE) and ``seq`` (the current mission item) from the last trustworthy
    MISSION_CURRENT, None when none was heard; ``last`` the vehicle's last snapshot (where it
    came down), None when never heard.
    """

    lost: bool
    mission_state: int | None
    seq: int | None
    last: VehicleSnapshot | None = None


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


def watch_flight(ctx: FleetContext, flight: WatchedFlight, monitor: FailsafeMonitor, *,
                 resumed: bool, command_rtl: Callable[[], bool]) -> FlightEnd:
    """Watch the flight until the vehicle has landed, is lost, or the fleet stops.

    Parameters
    ----------
    ctx
        The fleet.
    flight
        The flight to watch.
    monitor
        The flight's failsafe monitor: its alerts are recorded.
    resumed
        The flight was in the air when monitoring began (after a restart).
    command_rtl
        Switches the vehicle to RTL when an alert asks for it; False when not confirmed
        (asked again on the next tick).

    Returns
    -------
    FlightEnd
        How the flight ended, as far as it was heard.
    """
    clock = ctx.clock
    recorder = ctx.recorder
    scale = ctx.time_scale
    sysid = flight.sysid
    flight_id = flight.flight_id
    tracker = ctx.trackers[flight.sortie.id]
    events = flight.link.subscribe(lambda m: m.get_srcSystem() == sysid
                                   and m.get_type() in _EVENT_TYPES)
    progress = _Progress()
    if resumed:
        recorder.set_status(flight.vehicle, phase=Phase.FLYING, ready=False,
                            message="monitoring resumed")
    else:
        recorder.set_flight_state(flight_id, "flying")
        recorder.drop_events(tracker.start(clock()), flight_id)
        recorder.set_status(flight.vehicle, phase=Phase.FLYING, ready=False, message=None)
    seen_armed = False
    rtl_pending = False
    lost = False
    phase = Phase.FLYING
    unheard_since = clock()
    last: VehicleSnapshot | None = None
    try:
        while not ctx.stopping():
            now = clock()
            snap = ctx.hub.snapshot(sysid)
            if snap is not None:
                unheard_since = now
                last = snap
            mode = None if snap is None else snap.mode
            lat = None if snap is None else snap.lat_deg
            lon = None if snap is None else snap.lon_deg
            while (msg := events.get(0)) is not None:
                kind = msg.get_type()
                if kind == "MISSION_CURRENT":
                    if progress.take(msg, mode):
                        recorder.drop_events(tracker.update(
                            now, seq=progress.seq, lat_deg=lat, lon_deg=lon), flight_id)
                elif kind == "STATUSTEXT":
                    text = str(msg.text)
                    recorder.drop_events(tracker.on_text(now, text), flight_id)
                    for alert in monitor.on_text(text, now):
                        recorder.alert(alert, flight_id)
                else:
                    recorder.drop_events(tracker.on_item_reached(now, int(msg.seq)), flight_id)
            if snap is None:
                if (now - unheard_since) * scale > ctx.options.lost_vehicle_s:
                    lost = True
                    break
                ctx.stop.wait(_TICK_S)
                continue
            fresh = snap.heartbeat_age_s <= max(_FRESH_S / scale, 0.5)
            recorder.drop_events(tracker.update(now, seq=progress.seq, lat_deg=lat,
                                                lon_deg=lon), flight_id)
            for alert in monitor.check(snap, now, seq=progress.seq):
                recorder.alert(alert, flight_id)
                rtl_pending = rtl_pending or alert.action == "RTL"
            if rtl_pending and fresh and snap.armed:
                rtl_pending = not command_rtl()
            if fresh and snap.armed:
                seen_armed = True
            wanted = Phase.RETURNING if monitor.returning else Phase.FLYING
            if wanted != phase:
                phase = wanted
                recorder.set_status(flight.vehicle, phase=phase)
            if fresh and not snap.armed and (seen_armed or resumed):
                if resumed and not progress.heard:
                    _await_progress(clock, events, progress, mode)
                break
            if monitor.link_age_s(snap, now) > ctx.options.lost_vehicle_s:
                lost = True
                break
            ctx.stop.wait(_TICK_S)
    finally:
        events.close()
    return FlightEnd(lost=lost, mission_state=progress.state, seq=progress.seq, last=last)


def _await_progress(clock: Callable[[], float], events: Any, progress: _Progress,
                    mode: str | None) -> None:
    """After a restart, wait briefly for a MISSION_CURRENT to learn how the mission ended."""
    end = clock() + 3.0
    while clock() < end:
        msg = events.get(0.1)
        if msg is not None and msg.get_type() == "MISSION_CURRENT":
            progress.take(msg, mode)
            return


def depots_deg(ctx: FleetContext) -> dict[str, tuple[float, float]]:
    """Every depot the plan's sorties fly from: id -> (lat, lon) of its launch point."""
    out: dict[str, tuple[float, float]] = {}
    for tracker in ctx.trackers.values():
        home = tracker.sortie.mission[0]
        out.setdefault(tracker.sortie.depot_id, (home.lat_deg, home.lon_deg))
    return out


def field_landing(end: FlightEnd, depots: dict[str, tuple[float, float]],
                  limit_m: float = FIELD_LANDING_M) -> FieldLanding | None:
    """Where the vehicle came down when that is farther than ``limit_m`` from every depot
    (None: at a depot, lost, or no position)."""
    snap = end.last
    if end.lost or snap is None or snap.lat_deg is None or snap.lon_deg is None or not depots:
        return None
    lat, lon = snap.lat_deg, snap.lon_deg
    depot_id, away_m = min(((d, distance_m(p[0], p[1], lat, lon)) for d, p in depots.items()),
                           key=lambda x: x[1])
    if away_m <= limit_m:
        return None
    return FieldLanding(lat_deg=lat, lon_deg=lon, alt_agl_m=snap.alt_agl_m, distance_m=away_m,
                        depot_id=depot_id)


def finish_flight(ctx: FleetContext, flight: WatchedFlight, monitor: FailsafeMonitor,
                  end: FlightEnd) -> FieldLanding | None:
    """Record how a watched flight ended: its drops' final states, the flight's, the vehicle's.

    The sortie counts as completed when the vehicle was not lost, did not return early, and its
    mission completed or reached its last navigation item; drops not delivered then fail with
    the reason, and the flight fails with an alert. A vehicle that came down away from every
    depot is "landed away" with a critical alert; its landing is returned (None otherwise).
    """
    sortie = flight.sortie
    recorder = ctx.recorder
    tracker = ctx.trackers[sortie.id]
    now = ctx.clock()
    last_nav = max((i for i, m in enumerate(sortie.mission) if m.is_nav), default=0)
    completed = not end.lost and not monitor.returning and (
        end.mission_state == MISSION_COMPLETE or (end.seq is not None and end.seq >= last_nav))
    if end.lost:
        reason = "lost contact with the vehicle"
    elif monitor.returning:
        reason = "the sortie was cut short (returned or landed before this drop)"
    else:
        reason = "the vehicle landed before this drop"
    recorder.drop_events(tracker.finish(now, completed=completed, reason=reason),
                         flight.flight_id)
    delivered = all(s.state == DropState.DELIVERED for s in tracker.statuses())
    if delivered:
        recorder.set_flight_state(flight.flight_id, "completed")
    else:
        failed = [s.drop_id for s in tracker.statuses() if s.state != DropState.DELIVERED]
        recorder.set_flight_state(flight.flight_id, "failed",
                                  reason=f"{reason}: {', '.join(failed)} not delivered")
        recorder.alert(Alert(kind=AlertKind.SORTIE_FAILED, severity=Severity.WARNING,
                             message=f"{', '.join(failed)} not delivered: {reason}",
                             sysid=flight.sysid, sortie_id=sortie.id, at_s=ctx.clock(),
                             action=None), flight.flight_id)
    away = field_landing(end, depots_deg(ctx))
    if away is not None:
        text = f"landed in the field at {away.where}: recover it"
        recorder.alert(Alert(kind=AlertKind.LANDED_AWAY, severity=Severity.CRITICAL,
                             message=text, sysid=flight.sysid, sortie_id=sortie.id,
                             at_s=ctx.clock(), action=None), flight.flight_id)
        recorder.set_status(flight.vehicle, phase=Phase.LANDED_AWAY, ready=False,
                            message=text, field_landing=away)
        return away
    recorder.set_status(flight.vehicle, phase=Phase.LANDED, ready=False,
                        message="all delivered" if delivered else "not every drop delivered")
    return None
