"""Fleet telemetry: immutable vehicle snapshots, kept from every link and published at a rate.

A :class:`TelemetryHub` listens to one or more :class:`~gcs.link.Link` objects and keeps, per
vehicle (MAVLink system id, unique across links), the latest position, altitudes, speed, battery,
mode, mission progress, GPS/EKF state and link health. :meth:`TelemetryHub.snapshot` returns it
as a frozen :class:`~gcs.snapshot.VehicleSnapshot`; :meth:`TelemetryHub.subscribe` calls a
function with a fresh snapshot of each vehicle whenever it changed, at most ``rate_hz`` times a
second per vehicle, from a thread of its own (so a slow subscriber never holds up the links).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from gcs import mavlink as mav
from gcs._telemetry_state import TelemetryState
from gcs.link import Link, Message
from gcs.snapshot import STATE_TYPES, URGENT_TYPES, VehicleSnapshot
from gcs.terrain import TerrainServer
from planner.terrain import Dem

log = logging.getLogger(__name__)
_D = mav.dialect

#: Messages asked for with SET_MESSAGE_INTERVAL on top of the data streams (ArduPilot sends
#: them only when asked).
INTERVAL_MESSAGES = ("BATTERY_STATUS", "EKF_STATUS_REPORT", "FENCE_STATUS")


def request_streams(link: Link, sysid: int, rate_hz: float = 4.0,
                    status_rate_hz: float | None = 2.0) -> None:
    """Ask a vehicle for its telemetry (ArduPilot sends none until asked).

    Positions (the POSITION stream group) at ``rate_hz``; every other stream group,
    :data:`INTERVAL_MESSAGES` (by SET_MESSAGE_INTERVAL) at ``status_rate_hz`` (None: at
    ``rate_hz`` too; never faster than ``rate_hz``); and one HOME_POSITION. Fire and forget: a
    lost request is simply made again by the hub when positions stop arriving.
    """
    status_hz = rate_hz if status_rate_hz is None else min(rate_hz, status_rate_hz)
    link.send(link.mav.request_data_stream_encode(sysid, 0, _D.MAV_DATA_STREAM_ALL,
                                                  max(1, round(status_hz)), 1))
    link.send(link.mav.request_data_stream_encode(sysid, 0, _D.MAV_DATA_STREAM_POSITION,
                                                  max(1, round(rate_hz)), 1))
    interval_us = 1e6 / max(status_hz, 0.1)
    for name in INTERVAL_MESSAGES:
        msg_id = getattr(_D, f"MAVLINK_MSG_ID_{name}")
        link.send(link.mav.command_long_encode(sysid, 1, _D.MAV_CMD_SET_MESSAGE_INTERVAL, 0,
                                               msg_id, interval_us, 0, 0, 0, 0, 0))
    link.send(link.mav.command_long_encode(sysid, 1, _D.MAV_CMD_REQUEST_MESSAGE, 0,
                                           _D.MAVLINK_MSG_ID_HOME_POSITION, 0, 0, 0, 0, 0, 0))


#: Snapshots a subscription may save up per vehicle (see :class:`SnapshotSubscription`): two
#: positions that reach the station together after a delay both go out at once.
BURST = 2.0
#: Periods after the last snapshot before a change other than a position is published alone.
LAZY_PERIODS = 1.5
#: The bucket refills this much faster than the rate, so that positions arriving at the rate
#: with some jitter are not held back by it.
JITTER_ALLOWANCE = 1.25


class SnapshotSubscription:
    """Calls ``callback(snapshot)`` for changed vehicles, about ``rate_hz`` per vehicle.

    A new position (or a change of mode, arming, mission progress or a text) is published as
    soon as the rate allows. Other changes (battery, speed, GPS...) ride along with the next
    position; alone they go out no sooner than one and a half periods after the last snapshot,
    so they do not spend the rate that the next position needs, and a vehicle without
    positions is still seen. The rate is a token bucket per vehicle, refilled at
    ``rate_hz`` x :data:`JITTER_ALLOWANCE` tokens a second and holding at most :data:`BURST`:
    positions sent at ``rate_hz`` go out as they arrive even when the link delivers them
    unevenly, and a faster source is thinned to at most 1.25 x ``rate_hz``.

    Close it (or use ``with``) to stop its thread.
    """

    def __init__(self, hub: TelemetryHub, callback: Callable[[VehicleSnapshot], None],
                 rate_hz: float, sysids: Iterable[int] | None) -> None:
        if not rate_hz > 0:
            raise ValueError(f"Expected rate_hz > 0, got {rate_hz}")
        self._hub = hub
        self._callback = callback
        self.period_s = 1.0 / rate_hz
        self.sysids = None if sysids is None else frozenset(sysids)
        self._cond = threading.Condition()
        self._urgent: set[int] = set()  # vehicles with a new position (or state) to publish
        self._lazy: set[int] = set()  # vehicles with other changes only
        self._lazy_check_s = 0.0  # when the lazy ones are looked at next
        self._tokens: dict[int, tuple[float, float]] = {}  # sysid -> (tokens, at time)
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="telemetry-publish")
        self._thread.start()

    def mark(self, sysid: int, *, urgent: bool = True) -> None:
        """Vehicle ``sysid`` changed (called from reader threads); ``urgent`` for a new
        position or a change of state worth publishing at once."""
        if self.sysids is not None and sysid not in self.sysids:
            return
        with self._cond:
            if urgent:
                if sysid not in self._urgent:
                    self._urgent.add(sysid)
                    self._lazy.discard(sysid)
                    self._cond.notify()
            elif sysid not in self._urgent and sysid not in self._lazy:
                self._lazy.add(sysid)
                if sysid not in self._tokens:  # never published: at once
                    self._lazy_check_s = 0.0
                    self._cond.notify()

    def _level(self, sysid: int, now_s: float) -> float:
        """Tokens vehicle ``sysid`` has at ``now_s`` (a full bucket if never published)."""
        tokens, at_s = self._tokens.get(sysid, (BURST, now_s))
        return min(BURST, tokens + (now_s - at_s) * JITTER_ALLOWANCE / self.period_s)

    def _due(self, now_s: float) -> tuple[list[int], float | None]:
        """Vehicles to publish now, and how long until the next one may be (None: nothing
        waits). Vehicles with only lazy changes are looked at four times a period."""
        due, wait = [], None
        for sysid in self._urgent:
            at = now_s + (1.0 - self._level(sysid, now_s)) * self.period_s
            if at <= now_s + 1e-9:
                due.append(sysid)
            else:
                wait = at - now_s if wait is None else min(wait, at - now_s)
        if self._lazy:
            if now_s >= self._lazy_check_s:
                self._lazy_check_s = now_s + self.period_s / 4
                for sysid in self._lazy:
                    if sysid not in self._tokens or (self._level(sysid, now_s) >= 1.0 and \
                            now_s >= self._tokens[sysid][1] + LAZY_PERIODS * self.period_s):
                        due.append(sysid)
            left = max(0.0, self._lazy_check_s - now_s)
            wait = left if wait is None else min(wait, left)
        return due, wait

    def _run(self) -> None:
        clock = self._hub.clock
        while True:
            with self._cond:
                if self._closed:
                    return
                now = clock()
                due, wait = self._due(now)
                if not due:
                    self._cond.wait(wait if wait is not None else 1.0)
                    continue
                for sysid in due:
                    self._urgent.discard(sysid)
                    self._lazy.discard(sysid)
                    self._tokens[sysid] = (self._level(sysid, now) - 1.0, now)
            for sysid in due:
                snap = self._hub.snapshot(sysid)
                if snap is None:
                    continue
                try:
                    self._callback(snap)
                except Exception:
                    log.exception("telemetry subscriber failed")

    def close(self) -> None:
        """Stop publishing."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._hub._unsubscribe(self)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def __enter__(self) -> SnapshotSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TelemetryHub:
    """Telemetry of every vehicle heard on the attached links.

    Parameters
    ----------
    dem
        Terrain model for altitudes above ground (None: ``alt_agl_m`` stays None).
    stream_rate_hz
        Position rate asked of every new vehicle (0: never ask for telemetry).
    status_rate_hz
        Rate of the rest of the telemetry (battery, mode, mission, GPS...; None: as positions).
    clock
        Monotonic clock in seconds.
    serve_terrain
        With a ``dem``, answer the vehicles' terrain requests from it (:mod:`gcs.terrain`).
    """

    def __init__(self, *, dem: Dem | None = None, stream_rate_hz: float = 4.0,
                 status_rate_hz: float | None = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 serve_terrain: bool = True) -> None:
        self.dem = dem
        #: Answers TERRAIN_REQUESTs from ``dem`` on every attached link (None without a DEM).
        self.terrain = TerrainServer(dem) if dem is not None and serve_terrain else None
        self._serve_terrain = serve_terrain
        self.stream_rate_hz = stream_rate_hz
        self.status_rate_hz = status_rate_hz
        self.clock = clock
        self._lock = threading.Lock()
        self._states: dict[int, TelemetryState] = {}
        self._links: dict[int, Link] = {}
        self._subs: list[SnapshotSubscription] = []
        self._hooks: dict[int, list[Callable[[Message], None]]] = {}
        self._attached: list[Link] = []

    def attach(self, link: Link) -> None:
        """Listen to ``link`` from now on."""
        if link in self._attached:
            return
        self._attached.append(link)
        link.add_listener(lambda msg: self._on_message(link, msg))
        if self.terrain is not None:
            self.terrain.attach(link)

    def use_dem(self, dem: Dem) -> None:
        """Heights above ground from ``dem`` from now on, and (when serving terrain) the
        vehicles' terrain requests answered from it on every attached link."""
        self.dem = dem
        if not self._serve_terrain:
            return
        with self._lock:
            server = self.terrain
            if server is None:
                server = self.terrain = TerrainServer(dem)
        server.dem = dem
        for link in self._attached:
            server.attach(link)

    @property
    def links(self) -> tuple[Link, ...]:
        """The attached links."""
        return tuple(self._attached)

    def _on_message(self, link: Link, msg: Message) -> None:
        try:
            self._handle(link, msg)
        except Exception:  # a listener must never stop the link's reader thread
            log.exception("telemetry: message %s not handled", msg.get_type())

    def _handle(self, link: Link, msg: Message) -> None:
        sysid = msg.get_srcSystem()
        if sysid == link.source_system:
            return
        state = self._states.get(sysid)
        kind = msg.get_type()
        if state is None:
            if kind != "HEARTBEAT" or msg.type == _D.MAV_TYPE_GCS or \
                    msg.autopilot == _D.MAV_AUTOPILOT_INVALID:
                return
            with self._lock:
                state = self._states.setdefault(sysid, TelemetryState(sysid, link.url))
                self._links.setdefault(sysid, link)
        for hook in self._hooks.get(sysid, ()):
            hook(msg)
        if kind not in STATE_TYPES:
            return
        before = state.flags() if kind == "HEARTBEAT" else None
        if not state.update(msg, self.clock()):
            return
        if kind == "HEARTBEAT":
            self._keep_streams(link, state)
        urgent = kind in URGENT_TYPES or (before is not None and before != state.flags()) \
            or state.position_s is None
        for sub in list(self._subs):
            sub.mark(sysid, urgent=urgent)

    def _keep_streams(self, link: Link, state: TelemetryState) -> None:
        """Ask for streams at first sight and again whenever positions stop coming."""
        if self.stream_rate_hz <= 0:
            return
        now = self.clock()
        asked = state.streams_requested_s
        stale = state.position_s is None or now - state.position_s > 3.0
        if asked is None or (stale and now - asked > 3.0):
            state.streams_requested_s = now
            try:
                request_streams(link, state.sysid, self.stream_rate_hz, self.status_rate_hz)
            except OSError as exc:
                log.debug("streams not requested from %d: %s", state.sysid, exc)

    # -- access -------------------------------------------------------------------------------
    @property
    def vehicles(self) -> tuple[int, ...]:
        """System ids of every vehicle heard, sorted."""
        with self._lock:
            return tuple(sorted(self._states))

    def link_of(self, sysid: int) -> Link | None:
        """The link vehicle ``sysid`` was first heard on."""
        return self._links.get(sysid)

    def snapshot(self, sysid: int) -> VehicleSnapshot | None:
        """The vehicle's present snapshot, or None if it was never heard."""
        state = self._states.get(sysid)
        link = self._links.get(sysid)
        if state is None or link is None:
            return None
        return state.snapshot(self.clock(), link.health(sysid), self.dem)

    def snapshots(self) -> tuple[VehicleSnapshot, ...]:
        """Snapshots of every vehicle, by system id."""
        out = (self.snapshot(s) for s in self.vehicles)
        return tuple(s for s in out if s is not None)

    def wait_for_vehicles(self, count: int, timeout_s: float) -> tuple[int, ...]:
        """Wait until ``count`` vehicles were heard (or ``timeout_s``); the ones heard."""
        end = self.clock() + timeout_s
        while len(self.vehicles) < count and self.clock() < end:
            time.sleep(0.05)
        return self.vehicles

    def subscribe(self, callback: Callable[[VehicleSnapshot], None], *, rate_hz: float,
                  sysids: Iterable[int] | None = None) -> SnapshotSubscription:
        """Call ``callback`` with each changed vehicle's snapshot, at most ``rate_hz`` each."""
        sub = SnapshotSubscription(self, callback, rate_hz, sysids)
        with self._lock:
            self._subs.append(sub)
        for sysid in self.vehicles:
            sub.mark(sysid)
        return sub

    def _unsubscribe(self, sub: SnapshotSubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def add_hook(self, sysid: int, hook: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``hook(msg)`` from the reader thread for every message of ``sysid``.

        Returns a function that removes the hook.
        """
        with self._lock:
            self._hooks[sysid] = [*self._hooks.get(sysid, []), hook]

        def remove() -> None:
            with self._lock:
                self._hooks[sysid] = [h for h in self._hooks.get(sysid, []) if h is not hook]

        return remove

    def close(self) -> None:
        """Stop every subscription (and the terrain server)."""
        for sub in list(self._subs):
            sub.close()
        if self.terrain is not None:
            self.terrain.close()

