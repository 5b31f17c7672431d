"""Preflight checks before a sortie starts; every failed check is named.

Checks (names as reported):

``heartbeat``
    the vehicle's heartbeat is recent;
``gps``
    GPS_RAW_INT fix type at least 3 (3D);
``ekf``
    EKF_STATUS_REPORT has attitude, velocity and absolute position estimates and is not in
    constant-position mode;
``prearm``
    SYS_STATUS reports the pre-arm checks passing (when the vehicle reports it);
``battery``
    battery percentage at least the sortie's planned energy plus the reserve;
``home``
    the vehicle (and its home, once known) within ``home_max_distance_m`` of the sortie's depot;
``mission``, ``fence``, ``rally``
    each list was uploaded and its read-back matched;
``fence_enabled``
    ``FENCE_ENABLE`` is 1 when the sortie has a geofence;
``terrain``
    when the sortie's altitudes need terrain (:func:`gcs.fleet.config.needs_terrain`): the vehicle
    holds terrain data at every point along its legs and has no tiles pending
    (:func:`terrain_check`, which sends TERRAIN_CHECKs there and waits, bounded, for the
    TERRAIN_REPORTs).

:func:`evaluate` is pure (snapshot and facts in, report out); :func:`wait_until_ready` waits for
GPS/EKF to settle first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gcs.geo import distance_m
from gcs.link import Link, Message
from gcs.snapshot import VehicleSnapshot
from gcs.terrain import TerrainReport, leg_points_deg, send_checks
from planner.plan_model import Sortie


@dataclass(frozen=True, slots=True, kw_only=True)
class PreflightLimits:
    """Thresholds of the checks (the reserve in percent of the battery).

    ``terrain_wait_s`` bounds the wait for terrain along the legs, in vehicle seconds (at least
    ``terrain_min_wait_s`` of the caller's clock).
    """

    heartbeat_max_age_s: float = 3.0
    min_fix_type: int = 3
    home_max_distance_m: float = 50.0
    reserve_pct: float = 20.0
    terrain_wait_s: float = 60.0
    terrain_min_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.home_max_distance_m > 0:
            raise ValueError(f"Expected home_max_distance_m > 0, got {self.home_max_distance_m}")
        if not 0 <= self.reserve_pct < 100:
            raise ValueError(f"Expected reserve_pct in [0, 100), got {self.reserve_pct}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Uploads:
    """Which lists of the sortie were uploaded and verified by read-back."""

    mission: bool = False
    fence: bool = False
    rally: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PreflightCheck:
    """One check: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PreflightReport:
    """Every check of one vehicle before one sortie."""

    sysid: int
    sortie_id: str
    checks: tuple[PreflightCheck, ...]

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[str, ...]:
        """``"name: detail"`` of every failed check."""
        return tuple(f"{c.name}: {c.detail}" for c in self.checks if not c.ok)


def _check(name: str, ok: bool, detail: str) -> PreflightCheck:
    return PreflightCheck(name=name, ok=ok, detail=detail)


def _home_check(snap: VehicleSnapshot, sortie: Sortie, limit_m: float) -> PreflightCheck:
    depot = sortie.mission[0]
    if snap.lat_deg is None or snap.lon_deg is None:
        return _check("home", False, "no position from the vehicle")
    here = distance_m(depot.lat_deg, depot.lon_deg, snap.lat_deg, snap.lon_deg)
    if here > limit_m:
        return _check("home", False, f"vehicle is {here:.0f} m from depot {sortie.depot_id} "
                                     f"(limit {limit_m:.0f} m)")
    if snap.home_lat_deg is not None and snap.home_lon_deg is not None:
        home = distance_m(depot.lat_deg, depot.lon_deg, snap.home_lat_deg, snap.home_lon_deg)
        if home > limit_m:
            return _check("home", False, f"home is {home:.0f} m from depot {sortie.depot_id} "
                                         f"(limit {limit_m:.0f} m)")
    return _check("home", True, f"{here:.0f} m from depot {sortie.depot_id}")


def _battery_check(snap: VehicleSnapshot, sortie: Sortie, reserve_pct: float) -> PreflightCheck:
    need = battery_needed_pct(sortie, reserve_pct)
    if snap.battery_pct is None:
        return _check("battery", False, "no battery reading")
    ok = snap.battery_pct >= need
    return _check("battery", ok, f"{snap.battery_pct} %, sortie needs "
                                 f"{sortie.metrics.energy_pct:.1f} % + {reserve_pct:.0f} % "
                                 f"reserve")


def evaluate(snap: VehicleSnapshot | None, sortie: Sortie, *, uploads: Uploads,
             fence_enabled: bool | None, limits: PreflightLimits | None = None,
             terrain: PreflightCheck | None = None) -> PreflightReport:
    """Run every check on what is known of the vehicle.

    Parameters
    ----------
    snap
        The vehicle's telemetry (None if never heard).
    sortie
        The sortie about to start.
    uploads
        Which lists were verified by read-back.
    fence_enabled
        The vehicle's ``FENCE_ENABLE`` (None when unknown).
    limits
        Thresholds (defaults of :class:`PreflightLimits` when None).
    terrain
        The result of :func:`terrain_check` (None when the sortie needs no terrain).

    Returns
    -------
    PreflightReport
        Every check, passed or not.
    """
    lim = limits or PreflightLimits()
    sysid = snap.sysid if snap is not None else -1
    if snap is None:
        return PreflightReport(sysid=sysid, sortie_id=sortie.id, checks=(
            _check("heartbeat", False, "vehicle never heard"),))
    checks = [
        _check("heartbeat", snap.heartbeat_age_s <= lim.heartbeat_max_age_s,
               f"last heartbeat {snap.heartbeat_age_s:.1f} s ago"),
        _check("gps", snap.gps_fix_type >= lim.min_fix_type,
               f"fix type {snap.gps_fix_type}, {snap.satellites} satellites"),
        _check("ekf", bool(snap.ekf_ok), "no EKF_STATUS_REPORT" if snap.ekf_flags is None
               else f"EKF flags {snap.ekf_flags:#x}"),
    ]
    if snap.prearm_ok is not None:
        checks.append(_check("prearm", snap.prearm_ok,
                             "pre-arm checks " + ("pass" if snap.prearm_ok else "failing")))
    checks.append(_battery_check(snap, sortie, lim.reserve_pct))
    checks.append(_home_check(snap, sortie, lim.home_max_distance_m))
    for name, done, count in (("mission", uploads.mission, len(sortie.mission)),
                              ("fence", uploads.fence, len(sortie.fence)),
                              ("rally", uploads.rally, len(sortie.rally))):
        checks.append(_check(name, done, f"{count} items verified" if done
                             else f"{count} items not uploaded and verified"))
    if sortie.fence:
        checks.append(_check("fence_enabled", fence_enabled is True,
                             "FENCE_ENABLE 1" if fence_enabled else
                             f"FENCE_ENABLE {'unknown' if fence_enabled is None else 0}"))
    if terrain is not None:
        checks.append(terrain)
    return PreflightReport(sysid=sysid, sortie_id=sortie.id, checks=tuple(checks))


def wait_until_ready(get: Callable[[], VehicleSnapshot | None], timeout_s: float, *,
                     limits: PreflightLimits | None = None,
                     clock: Callable[[], float] = time.monotonic,
                     stop: Callable[[], bool] = lambda: False) -> VehicleSnapshot | None:
    """Wait (up to ``timeout_s``) until the vehicle has a position, GPS fix and a good EKF.

    Returns the last snapshot seen (ready or not).
    """
    lim = limits or PreflightLimits()
    end = clock() + timeout_s
    snap = get()
    while clock() < end and not stop():
        snap = get()
        if snap is not None and snap.has_position and snap.gps_fix_type >= lim.min_fix_type \
                and snap.ekf_ok and snap.prearm_ok is not False and snap.battery_pct is not None:
            return snap
        time.sleep(0.05)
    return snap


def battery_needed_pct(sortie: Sortie, reserve_pct: float) -> float:
    """Battery percentage a sortie needs at take-off: its planned energy plus the reserve."""
    return sortie.metrics.energy_pct + reserve_pct


def wait_for_battery(get: Callable[[], VehicleSnapshot | None], need_pct: float,
                     timeout_s: float, *, clock: Callable[[], float] = time.monotonic,
                     stop: Callable[[], bool] = lambda: False) -> VehicleSnapshot | None:
    """The vehicle's latest snapshot once its battery reads at least ``need_pct``, else after
    ``timeout_s`` (caller's clock).

    The battery figure is the one the fleet page shows (the snapshot's ``battery_pct``), read
    when the checks run: a pack swapped or reset during the turnaround is reported a moment
    after the vehicle is otherwise ready, and a reading from before that must not fail it.
    """
    end = clock() + timeout_s
    snap = get()
    while not stop():
        snap = get()
        if snap is not None and snap.battery_pct is not None and snap.battery_pct >= need_pct:
            return snap
        if clock() >= end:
            break
        time.sleep(0.05)
    return snap


def sortie_path_deg(sortie: Sortie) -> list[tuple[float, float]]:
    """Home and every positioned NAV item of the sortie, in order (lat, lon degrees)."""
    out = [(sortie.mission[0].lat_deg, sortie.mission[0].lon_deg)]
    out += [(m.lat_deg, m.lon_deg) for m in sortie.mission[1:]
            if m.is_nav and (m.lat_deg != 0.0 or m.lon_deg != 0.0)]
    return out


def terrain_check(link: Link, sysid: int, sortie: Sortie, *, timeout_s: float,
                  first_report_s: float = 3.0, step_m: float = 1000.0,
                  clock: Callable[[], float] = time.monotonic,
                  stop: Callable[[], bool] = lambda: False) -> PreflightCheck:
    """Whether the vehicle holds the terrain along the sortie's legs, nothing pending.

    Sends a TERRAIN_CHECK at every point of the legs (their ends and every ``step_m`` between;
    each check also makes the vehicle fetch that block, which the ground station's terrain
    server answers) and again every second for the points without data, until every point was
    reported with data and the last report has no tiles pending, or ``timeout_s`` passed. A
    vehicle that sends no TERRAIN_REPORT within ``first_report_s`` has no terrain database to
    ask: the check passes, saying so.
    """
    points = leg_points_deg(sortie_path_deg(sortie), step_m)
    keys = {(round(lat * 1e7), round(lon * 1e7)): (lat, lon) for lat, lon in points}
    loaded: set[tuple[int, int]] = set()
    last: TerrainReport | None = None

    def accept(msg: Message) -> bool:
        return bool(msg.get_type() == "TERRAIN_REPORT" and msg.get_srcSystem() == sysid)

    start = clock()
    with link.subscribe(accept) as sub:
        resend_at = start
        while not stop():
            now = clock()
            if now >= resend_at:
                send_checks(link, [p for k, p in keys.items() if k not in loaded])
                resend_at = now + 1.0
            if last is None and now - start > first_report_s:
                return _check("terrain", True, "the vehicle sends no TERRAIN_REPORT: it keeps "
                                               "no terrain to check")
            if last is not None and len(loaded) == len(keys) and last.pending_tiles == 0:
                return _check("terrain", True, f"terrain loaded at {len(keys)} points along "
                                               f"the legs, {last.loaded_tiles} tiles, none "
                                               f"pending ({now - start:.1f} s)")
            if now - start > timeout_s:
                break
            msg = sub.get(min(0.2, max(resend_at - now, 0.01)))
            if msg is None:
                continue
            last = TerrainReport.from_message(msg)
            if last.has_data and (msg.lat, msg.lon) in keys:
                loaded.add((msg.lat, msg.lon))
    pending = "?" if last is None else str(last.pending_tiles)
    return _check("terrain", False,
                  f"the vehicle lacks terrain at {len(keys) - len(loaded)} of {len(keys)} "
                  f"points along its legs, {pending} tiles pending after "
                  f"{clock() - start:.0f} s: its altitudes need terrain (relative altitudes "
                  f"below home or descents to the ground); is the ground station serving "
                  f"the scenario's DEM (--scenario)?")
