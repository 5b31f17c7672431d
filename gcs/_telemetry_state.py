"""The mutable per-vehicle telemetry state behind :class:`gcs.snapshot.VehicleSnapshot`.

One :class:`TelemetryState` per system id is updated from the link's reader thread with every
message the vehicle sends; :meth:`TelemetryState.snapshot` turns it into an immutable snapshot.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

from gcs import mavlink as mav
from gcs.snapshot import VehicleSnapshot
from gcs.terrain import TerrainReport

if TYPE_CHECKING:
    from gcs.link import LinkHealth
    from planner.terrain import Dem

_D = mav.dialect
ARMED_FLAG = int(_D.MAV_MODE_FLAG_SAFETY_ARMED)
PREARM_BIT = int(_D.MAV_SYS_STATUS_PREARM_CHECK)
#: EKF_STATUS_REPORT flags a position-controlled flight needs: attitude, horizontal and
#: vertical velocity, relative and absolute horizontal position, absolute vertical position.
EKF_NEEDED = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20
#: Flags that mean the estimate is not usable: constant-position mode, uninitialised.
EKF_BAD = 0x80 | 0x400


class TelemetryState:
    """Latest values heard from one vehicle (thread-safe)."""

    def __init__(self, sysid: int, link_url: str) -> None:
        self.sysid = sysid
        self.link_url = link_url
        self.lock = threading.Lock()
        self.v: dict[str, Any] = {}
        self.received_s = 0.0
        self.position_s: float | None = None
        self.streams_requested_s: float | None = None

    def update(self, msg: Any, now_s: float) -> bool:
        """Take one message in; True when it changed the state."""
        kind = msg.get_type()
        handler = _HANDLERS.get(kind)
        if handler is None:
            return False
        with self.lock:
            if handler(self.v, msg) is False:
                return False
            self.received_s = now_s
            if kind == "GLOBAL_POSITION_INT":
                self.position_s = now_s
        return True

    def flags(self) -> tuple[Any, Any, Any]:
        """Mode, arming and system status: a heartbeat changing these is published at once."""
        with self.lock:
            return self.v.get("mode"), self.v.get("armed"), self.v.get("system_status")

    def snapshot(self, now_s: float, health: LinkHealth, dem: Dem | None) -> VehicleSnapshot:
        """The present state as an immutable snapshot."""
        with self.lock:
            v = dict(self.v)
            received_s = self.received_s
            position_s = self.position_s
        lat, lon, amsl = v.get("lat_deg"), v.get("lon_deg"), v.get("alt_amsl_m")
        agl = None
        if dem is not None and lat is not None and lon is not None and amsl is not None and \
                bool(dem.covers(lon, lat)):
            agl = amsl - float(dem.elevation_amsl_m(lon, lat))
        ekf = v.get("ekf_flags")
        return VehicleSnapshot(
            sysid=self.sysid, link_url=self.link_url, time_s=now_s, received_s=received_s,
            position_age_s=None if position_s is None else now_s - position_s,
            boot_time_s=v.get("boot_time_s"), lat_deg=lat, lon_deg=lon, alt_amsl_m=amsl,
            alt_rel_m=v.get("alt_rel_m"), alt_agl_m=agl,
            groundspeed_m_s=v.get("groundspeed_m_s"), climb_m_s=v.get("climb_m_s"),
            heading_deg=v.get("heading_deg"), battery_pct=v.get("battery_pct"),
            battery_consumed_mah=v.get("battery_consumed_mah"),
            battery_voltage_v=v.get("battery_voltage_v"),
            battery_current_a=v.get("battery_current_a"), mode=v.get("mode", "UNKNOWN"),
            armed=bool(v.get("armed", False)), system_status=v.get("system_status", 0),
            mission_seq=v.get("mission_seq"), mission_total=v.get("mission_total"),
            mission_state=v.get("mission_state"), last_reached_seq=v.get("reached"),
            gps_fix_type=v.get("fix_type", 0), satellites=v.get("satellites", 0),
            ekf_flags=ekf,
            ekf_ok=None if ekf is None else bool(ekf & EKF_NEEDED == EKF_NEEDED
                                                 and not ekf & EKF_BAD),
            prearm_ok=v.get("prearm_ok"), home_lat_deg=v.get("home_lat_deg"),
            home_lon_deg=v.get("home_lon_deg"), home_alt_amsl_m=v.get("home_alt_amsl_m"),
            fence_breached=bool(v.get("fence_breached", False)),
            fence_breach_count=v.get("fence_breach_count", 0), last_text=v.get("text"),
            heartbeat_age_s=health.heartbeat_age_s, loss_rate=health.loss_rate,
            terrain=v.get("terrain"))


def _heartbeat(v: dict[str, Any], m: Any) -> bool:
    if m.type == _D.MAV_TYPE_GCS or m.autopilot == _D.MAV_AUTOPILOT_INVALID:
        return False
    v["mode"] = mav.COPTER_MODE_NAMES.get(int(m.custom_mode), f"MODE{m.custom_mode}")
    v["armed"] = bool(m.base_mode & ARMED_FLAG)
    v["system_status"] = int(m.system_status)
    return True


def _position(v: dict[str, Any], m: Any) -> None:
    v["lat_deg"] = m.lat * 1e-7
    v["lon_deg"] = m.lon * 1e-7
    v["alt_amsl_m"] = m.alt * 1e-3
    v["alt_rel_m"] = m.relative_alt * 1e-3
    v["groundspeed_m_s"] = math.hypot(m.vx, m.vy) / 100.0
    v["climb_m_s"] = -m.vz / 100.0
    if m.hdg != 65535:
        v["heading_deg"] = m.hdg / 100.0
    v["boot_time_s"] = m.time_boot_ms / 1000.0


def _vfr_hud(v: dict[str, Any], m: Any) -> None:
    v.setdefault("groundspeed_m_s", float(m.groundspeed))
    v.setdefault("heading_deg", float(m.heading))


def _sys_status(v: dict[str, Any], m: Any) -> None:
    if m.voltage_battery != 65535:
        v["battery_voltage_v"] = m.voltage_battery / 1000.0
    if m.current_battery >= 0:
        v["battery_current_a"] = m.current_battery / 100.0
    if m.battery_remaining >= 0:
        v["battery_pct"] = int(m.battery_remaining)
    v["prearm_ok"] = bool(m.onboard_control_sensors_health & PREARM_BIT)


def _battery_status(v: dict[str, Any], m: Any) -> None:
    if m.current_consumed >= 0:
        v["battery_consumed_mah"] = float(m.current_consumed)
    if m.battery_remaining >= 0:
        v["battery_pct"] = int(m.battery_remaining)


def _gps(v: dict[str, Any], m: Any) -> None:
    v["fix_type"] = int(m.fix_type)
    v["satellites"] = int(m.satellites_visible)


def _ekf(v: dict[str, Any], m: Any) -> None:
    v["ekf_flags"] = int(m.flags)


def _mission_current(v: dict[str, Any], m: Any) -> None:
    v["mission_seq"] = int(m.seq)
    total = getattr(m, "total", 0)
    if total:
        v["mission_total"] = int(total)
    state = getattr(m, "mission_state", 0)
    if state:
        v["mission_state"] = int(state)


def _home(v: dict[str, Any], m: Any) -> None:
    v["home_lat_deg"] = m.latitude * 1e-7
    v["home_lon_deg"] = m.longitude * 1e-7
    v["home_alt_amsl_m"] = m.altitude * 1e-3


def _fence(v: dict[str, Any], m: Any) -> None:
    v["fence_breached"] = bool(m.breach_status)
    v["fence_breach_count"] = int(m.breach_count)


def _text(v: dict[str, Any], m: Any) -> None:
    v["text"] = str(m.text)


def _reached(v: dict[str, Any], m: Any) -> None:
    v["reached"] = int(m.seq)


def _terrain(v: dict[str, Any], m: Any) -> bool:
    """Keep the report about where the vehicle is (a TERRAIN_CHECK's answer is elsewhere)."""
    report = TerrainReport.from_message(m)
    lat, lon = v.get("lat_deg"), v.get("lon_deg")
    if lat is not None and lon is not None and (m.lat or m.lon) and \
            math.hypot(report.lat_deg - lat, report.lon_deg - lon) > 0.002:
        return False
    v["terrain"] = report
    return True


_HANDLERS: dict[str, Any] = {
    "HEARTBEAT": _heartbeat, "GLOBAL_POSITION_INT": _position, "VFR_HUD": _vfr_hud,
    "SYS_STATUS": _sys_status, "BATTERY_STATUS": _battery_status, "GPS_RAW_INT": _gps,
    "EKF_STATUS_REPORT": _ekf, "MISSION_CURRENT": _mission_current, "HOME_POSITION": _home,
    "FENCE_STATUS": _fence, "STATUSTEXT": _text, "MISSION_ITEM_REACHED": _reached,
    "TERRAIN_REPORT": _terrain,
}
