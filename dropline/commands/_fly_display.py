"""The live progress display of ``dropline fly`` and the one-line vehicle summary of ``status``.

On a terminal the block of vehicle lines and the drop summary is redrawn in place every second;
otherwise (a pipe, a log file) only changes are printed, one line each.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import IO

from gcs.fleet.failsafe import Alert
from gcs.fleet.manager import FleetManager
from gcs.fleet.status import VehicleStatus
from gcs.fleet.tracking import DropState
from gcs.snapshot import VehicleSnapshot


def _num(value: float | None, fmt: str, unit: str) -> str:
    return "?" if value is None else f"{value:{fmt}}{unit}"


def describe_snapshot(snap: VehicleSnapshot) -> str:
    """One line: system id, mode, armed, position, altitudes, speed, battery, GPS, link."""
    armed = "ARMED" if snap.armed else "disarmed"
    where = "no position" if snap.lat_deg is None or snap.lon_deg is None else \
        f"{snap.lat_deg:.6f},{snap.lon_deg:.6f}"
    item = "" if snap.mission_seq is None else \
        f" item {snap.mission_seq}/{snap.mission_total if snap.mission_total else '?'}"
    ekf = "?" if snap.ekf_ok is None else ("ok" if snap.ekf_ok else "BAD")
    t = snap.terrain
    terrain = "" if t is None else \
        (f" terrain {t.terrain_height_amsl_m:.0f} m AMSL, {t.current_height_m:.0f} m above it,"
         if t.has_data else " terrain none here,") + \
        f" {t.loaded_tiles} tiles loaded, {t.pending_tiles} pending,"
    return (f"system {snap.sysid:3d} {snap.mode:<9} {armed:<8} {where} "
            f"alt {_num(snap.alt_rel_m, '.0f', ' m')} rel, "
            f"{_num(snap.alt_agl_m, '.0f', ' m')} AGL, {_num(snap.groundspeed_m_s, '.1f', ' m/s')}"
            f", battery {_num(snap.battery_pct, 'd', ' %')}, GPS fix {snap.gps_fix_type} "
            f"({snap.satellites} sats), EKF {ekf},{item}{terrain} heartbeat "
            f"{snap.heartbeat_age_s:.1f} s ago, loss {snap.loss_rate:.0%} [{snap.link_url}]")


class ProgressDisplay:
    """Shows the fleet's vehicles and drops on ``out``.

    Parameters
    ----------
    manager
        The fleet being flown.
    out
        Where to write.
    live
        Show progress at all (alerts and the final summary are always shown).
    """

    def __init__(self, manager: FleetManager, out: IO[str], *, live: bool = True) -> None:
        self.manager = manager
        self.out = out
        self.live = live
        self.tty = live and bool(getattr(out, "isatty", lambda: False)())
        self._drawn = 0
        self._lock = threading.Lock()
        self._last_vehicle: dict[str, tuple[object, ...]] = {}
        self._last_drop: dict[str, DropState] = {}

    def _vehicle_line(self, v: VehicleStatus) -> str:
        snap = self.manager.hub.snapshot(v.sysid)
        parts = [f"{v.name:<24} sys {v.sysid:<3} {v.phase.value:<11} {v.sortie_id or '-':<6}"]
        if snap is not None:
            parts.append(f"{snap.mode:<8} alt {_num(snap.alt_rel_m, '.0f', '')} m "
                         f"(AGL {_num(snap.alt_agl_m, '.0f', '')}) "
                         f"{_num(snap.groundspeed_m_s, '.1f', '')} m/s "
                         f"bat {_num(snap.battery_pct, 'd', '')} %")
            if snap.heartbeat_age_s > 3:
                parts.append(f"NO LINK {snap.heartbeat_age_s:.0f} s")
        if v.message:
            parts.append(v.message)
        return "  ".join(parts)

    def _drops_line(self) -> str:
        drops = self.manager.drops()
        counts = Counter(d.state for d in drops)
        text = (f"drops: {counts[DropState.DELIVERED]}/{len(drops)} delivered, "
                f"{counts[DropState.RELEASED]} released, {counts[DropState.EN_ROUTE]} en route, "
                f"{counts[DropState.QUEUED]} queued, {counts[DropState.FAILED]} failed")
        coming = sorted((d for d in drops if d.eta_remaining_s is not None),
                        key=lambda d: d.eta_remaining_s or 0.0)
        if coming:
            nxt = coming[0]
            secs = int(nxt.eta_remaining_s or 0)
            text += f"; next {nxt.drop_id} in {secs // 60}:{secs % 60:02d} (vehicle time)"
        return text

    def update(self, *, final: bool = False) -> None:
        """Redraw (terminal) or print what changed (otherwise); ``final`` prints the summary."""
        with self._lock:
            if self.tty:
                self._redraw()
            elif self.live:
                self._changes()
            if final:
                self._summary()
            self.out.flush()

    def _redraw(self) -> None:
        lines = [self._vehicle_line(v) for v in self.manager.vehicles()]
        lines.append(self._drops_line())
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self._drawn = len(lines)

    def _changes(self) -> None:
        for v in self.manager.vehicles():
            key = (v.phase, v.sortie_id, v.message)
            if self._last_vehicle.get(v.name) != key:
                self._last_vehicle[v.name] = key
                self.out.write(self._vehicle_line(v) + "\n")
        for d in self.manager.drops():
            if self._last_drop.get(d.drop_id, DropState.QUEUED) != d.state:
                self._last_drop[d.drop_id] = d.state
                where = "" if d.release_error_m is None else \
                    f" ({d.release_error_m:.1f} m from the drop position)"
                why = f": {d.reason}" if d.reason else ""
                self.out.write(f"drop {d.drop_id} ({d.sortie_id}, {d.vehicle}): "
                               f"{d.state.value}{where}{why}\n")

    def _summary(self) -> None:
        drops = self.manager.drops()
        self.out.write(self._drops_line() + "\n")
        for d in drops:
            if d.state != DropState.DELIVERED:
                self.out.write(f"  {d.drop_id} ({d.sortie_id}): {d.state.value}"
                               f"{': ' + d.reason if d.reason else ''}\n")

    def alert(self, alert: Alert) -> None:
        """Print one alert as it happens."""
        with self._lock:
            if self.tty and self._drawn:
                self.out.write(f"\x1b[{self._drawn}F\x1b[J")
                self._drawn = 0
            action = f" -> {alert.action}" if alert.action else ""
            sortie = f" {alert.sortie_id}" if alert.sortie_id else ""
            self.out.write(f"ALERT {alert.severity.value} system {alert.sysid}{sortie}: "
                           f"{alert.kind.value}: {alert.message}{action}\n")
            self.out.flush()
