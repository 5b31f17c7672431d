"""Geofence, battery, GCS-heartbeat and EKF failsafes, configured by ArduCopter's parameters.

The fence follows AC_Fence: breaches are tracked whenever the fence is enabled (arming is
refused while breaching), a fresh breach in flight triggers ``FENCE_ACTION`` (RTL, or LAND
further than 100 m past the fence), and any mode change while breached starts a 10 s manual
recovery during which no new breach acts. Battery failsafes follow AP_BattMonitor and
ArduCopter's ``handle_battery_failsafe`` texts.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.flight.geo import distance_to_polygon_edge_m, point_in_polygon
from sitl.builtin.flight.host import VehicleView
from sitl.builtin.mission import FENCE, fence_circles, fence_polygons
from sitl.builtin.modes import MODE, POSITION_MODES

ALT_MAX, CIRCLE, POLYGON, ALT_MIN = 1, 2, 4, 8
_NAMES = ((ALT_MAX, "Max Alt"), (ALT_MIN, "Min Alt"), (CIRCLE, "Circle"), (POLYGON, "Polygon"))
RECOVERY_S = 10.0
GIVE_UP_DISTANCE_M = 100.0
EKF_FAILSAFE_S = 1.0


def fence_names(mask: int) -> str:
    """"Polygon fence", "Max Alt and Circle fences"... as AC_Fence names them."""
    names = [name for bit, name in _NAMES if mask & bit]
    if not names:
        return "fence"
    if len(names) == 1:
        return f"{names[0]} fence"
    return f"{', '.join(names[:-1])} and {names[-1]} fences"


class FenceReporter(Protocol):
    """Builds the FENCE_STATUS message sent on a fresh breach."""

    def fence_status(self) -> Any: ...


class FailsafeHost(VehicleView, Protocol):
    """What the failsafes need from their vehicle."""

    @property
    def telemetry(self) -> FenceReporter: ...

    @property
    def last_gcs_heartbeat_s(self) -> float | None: ...

    def home_alt_m(self) -> float: ...

    def text(self, severity: int, text: str) -> None: ...

    def set_mode(self, mode: int, *, reason: str = "gcs") -> bool: ...

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool: ...


class Failsafes:
    """All failsafe state of one vehicle."""

    def __init__(self, vehicle: FailsafeHost) -> None:
        self.v = vehicle
        self.breached = 0
        self.breach_count = 0
        self.breach_type = 0
        self.breach_time_s = 0.0
        self.recovery_start_s: float | None = None
        self.battery_level = 0  # 0 ok, 1 low, 2 critical
        self._low_volt_s = 0.0
        self._crt_volt_s = 0.0
        self.gcs = False
        self.ekf = False
        self._ekf_bad_s = 0.0
        self._fence_cache: tuple[int, list[tuple[int, list[tuple[float, float]]]],
                                 list[tuple[int, float, float, float]]] | None = None

    @property
    def critical(self) -> bool:
        """HEARTBEAT system_status CRITICAL (a battery failsafe has triggered)."""
        return self.battery_level > 0

    def active(self) -> tuple[str, ...]:
        """Names of the failsafes in effect."""
        out = []
        if self.battery_level == 1:
            out.append("battery_low")
        if self.battery_level == 2:
            out.append("battery_critical")
        if self.gcs:
            out.append("gcs")
        if self.ekf:
            out.append("ekf")
        if self.breached:
            out.append("fence")
        return tuple(out)

    # -- fence --------------------------------------------------------------------------------
    def _geometry(self) -> tuple[list[tuple[int, list[tuple[float, float]]]],
                                 list[tuple[int, float, float, float]]]:
        items = self.v.missions[FENCE]
        key = id(items)
        if self._fence_cache is None or self._fence_cache[0] != key:
            frame = self.v.frame
            polys = [(cmd, [frame.to_ne(lat, lon) for lat, lon in verts])
                     for cmd, verts in fence_polygons(items)]
            circles = [(cmd, *frame.to_ne(lat, lon), r) for cmd, lat, lon, r in
                       fence_circles(items)]
            self._fence_cache = (key, polys, circles)
        return self._fence_cache[1], self._fence_cache[2]

    def _enabled_types(self) -> int:
        p = self.v.params
        if p["FENCE_ENABLE"] < 1:
            return 0
        return int(p["FENCE_TYPE"]) & 0xF

    def _check(self) -> tuple[int, float]:
        """Bitmask of breached fence types and the largest breach distance (m)."""
        v = self.v
        types = self._enabled_types()
        if not types:
            return 0, 0.0
        breached, depth = 0, 0.0
        n, e, alt = v.body.n_m, v.body.e_m, v.body.alt_m
        rel = alt - v.home_alt_m()
        p = v.params
        if types & ALT_MAX and rel >= p["FENCE_ALT_MAX"]:
            breached |= ALT_MAX
            depth = max(depth, rel - p["FENCE_ALT_MAX"])
        if types & ALT_MIN and v.flying and rel <= p["FENCE_ALT_MIN"]:
            breached |= ALT_MIN
            depth = max(depth, p["FENCE_ALT_MIN"] - rel)
        if types & CIRCLE:
            hn, he = v.home_ne()
            dist = math.hypot(n - hn, e - he)
            if dist >= p["FENCE_RADIUS"]:
                breached |= CIRCLE
                depth = max(depth, dist - p["FENCE_RADIUS"])
        if types & POLYGON:
            polys, circles = self._geometry()
            for cmd, verts in polys:
                inside = point_in_polygon(n, e, verts)
                if (cmd == 5002 and inside) or (cmd == 5001 and not inside):
                    breached |= POLYGON
                    depth = max(depth, distance_to_polygon_edge_m(n, e, verts))
            for cmd, cn, ce, radius in circles:
                dist = math.hypot(n - cn, e - ce)
                if (cmd == 5004 and dist < radius) or (cmd == 5003 and dist > radius):
                    breached |= POLYGON
                    depth = max(depth, abs(dist - radius))
        return breached, depth

    def fence_prearm(self) -> str | None:
        """Fence pre-arm failure text, or None."""
        p = self.v.params
        if p["FENCE_ENABLE"] < 1:
            return None
        if int(p["FENCE_TYPE"]) & 0xF == 0:
            return "Fences enabled, but none selected"
        if self.breached:
            return f"Vehicle breaching {fence_names(self.breached)}"
        return None

    def on_mode_change(self) -> None:
        """A mode change while breached starts manual recovery."""
        if self.breached:
            self.recovery_start_s = self.v.t
            self.v.text(mav.MAV_SEVERITY_INFO, "Manual recovery started")

    def _update_fence(self) -> None:
        v = self.v
        before = self.breached
        now, depth = self._check()
        fresh = now & ~before
        if fresh:
            if not before:
                self.breach_time_s = v.t
            self.breach_count += 1
            self.breach_type = mav.FENCE_BREACH_BOUNDARY if fresh & (CIRCLE | POLYGON) else (
                mav.FENCE_BREACH_MAXALT if fresh & ALT_MAX else mav.FENCE_BREACH_MINALT)
        self.breached = now
        if not now:
            self.breach_type = 0
        if fresh:
            v.send(v.telemetry.fence_status())
        if self.recovery_start_s is not None:
            if v.t - self.recovery_start_s < RECOVERY_S:
                fresh = 0
            else:
                self.recovery_start_s = None
        if not v.armed:
            return
        if fresh:
            self._fence_action(fresh, depth)
        elif before and not now:
            v.text(mav.MAV_SEVERITY_NOTICE, "Fence breach cleared")

    def _fence_action(self, fresh: int, depth: float) -> None:
        v = self.v
        action = int(v.params["FENCE_ACTION"])
        if action == 0:
            v.text(mav.MAV_SEVERITY_NOTICE, f"{fence_names(fresh)} breached")
            return
        if not v.flying:
            v.text(mav.MAV_SEVERITY_NOTICE, f"{fence_names(fresh)} breached")
            v.disarm(reason="fence", force=True)
            return
        if action in (1, 3, 5) and depth <= GIVE_UP_DISTANCE_M and v.mode not in (
                MODE["RTL"], MODE["LAND"]):
            v.set_mode(MODE["RTL"], reason="internal")
        elif action == 4:
            v.set_mode(MODE["BRAKE"], reason="internal")
        elif v.mode != MODE["LAND"]:
            v.set_mode(MODE["LAND"], reason="internal")
        v.text(mav.MAV_SEVERITY_NOTICE, f"{fence_names(fresh)} breached")
        self.on_mode_change()

    # -- battery ------------------------------------------------------------------------------
    def battery_prearm(self) -> str | None:
        """Battery pre-arm failure text, or None."""
        v = self.v
        p = v.params
        b = v.battery
        if p["BATT_ARM_MAH"] > 0 and b.remaining_mah < p["BATT_ARM_MAH"]:
            return "Battery 1 below minimum arming capacity"
        if p["BATT_ARM_VOLT"] > 0 and b.voltage_v < p["BATT_ARM_VOLT"]:
            return "Battery 1 below minimum arming voltage"
        if self.battery_level == 2 or (p["BATT_CRT_MAH"] > 0
                                       and b.remaining_mah < p["BATT_CRT_MAH"]):
            return "Battery 1 critical capacity failsafe"
        if self.battery_level == 1 or (p["BATT_LOW_MAH"] > 0
                                       and b.remaining_mah < p["BATT_LOW_MAH"]):
            return "Battery 1 low capacity failsafe"
        return None

    def _update_battery(self, dt: float) -> None:
        v = self.v
        if not v.armed:
            return
        p = v.params
        b = v.battery
        volt = b.voltage_v
        self._low_volt_s = self._low_volt_s + dt if 0 < volt < p["BATT_LOW_VOLT"] else 0.0
        self._crt_volt_s = self._crt_volt_s + dt if 0 < volt < p["BATT_CRT_VOLT"] else 0.0
        timer = max(p["BATT_LOW_TIMER"], 0.0)
        level = 0
        if (p["BATT_CRT_MAH"] > 0 and b.remaining_mah < p["BATT_CRT_MAH"]) or \
                (p["BATT_CRT_VOLT"] > 0 and self._crt_volt_s > timer):
            level = 2
        elif (p["BATT_LOW_MAH"] > 0 and b.remaining_mah < p["BATT_LOW_MAH"]) or \
                (p["BATT_LOW_VOLT"] > 0 and self._low_volt_s > timer):
            level = 1
        if level <= self.battery_level:
            return
        self.battery_level = level
        kind = "critical" if level == 2 else "low"
        action = int(p["BATT_FS_CRT_ACT"] if level == 2 else p["BATT_FS_LOW_ACT"])
        text = f"Battery 1 is {kind} {volt:.2f}V used {b.consumed_mah:.0f} mAh"
        self._do_action(action, "Battery", text)

    def _do_action(self, action: int, kind: str, first_text: str | None = None) -> None:
        """ArduCopter's do_failsafe_action with the announcement texts."""
        v = self.v
        if not v.flying:
            if first_text:
                v.text(mav.MAV_SEVERITY_WARNING, first_text)
            if v.armed and action != 0:
                v.disarm(reason="failsafe", force=True)
                v.text(mav.MAV_SEVERITY_WARNING, f"{kind} Failsafe - Disarming")
            else:
                v.text(mav.MAV_SEVERITY_WARNING, f"{kind} Failsafe")
            return
        target = {1: MODE["LAND"], 2: MODE["RTL"], 3: MODE["RTL"], 4: MODE["RTL"],
                  6: MODE["RTL"], 7: MODE["LAND"]}.get(action)
        if action == 5:
            v.disarm(reason="failsafe", force=True)
        elif target is not None and v.mode != target and not v.set_mode(target,
                                                                          reason="internal"):
            v.set_mode(MODE["LAND"], reason="internal")
        if first_text:
            v.text(mav.MAV_SEVERITY_WARNING, first_text)
        v.text(mav.MAV_SEVERITY_WARNING, f"{kind} Failsafe")
        self.on_mode_change()

    # -- GCS heartbeat and EKF ----------------------------------------------------------------
    def _update_gcs(self) -> None:
        v = self.v
        p = v.params
        enabled = int(p["FS_GCS_ENABLE"])
        last = v.last_gcs_heartbeat_s
        if enabled == 0 or last is None:
            self.gcs = False
            return
        lost = v.t - last > max(p["FS_GCS_TIMEOUT"], 2.0)
        if not lost:
            if self.gcs:
                self.gcs = False
                v.text(mav.MAV_SEVERITY_WARNING, "GCS Failsafe Cleared")
            return
        if self.gcs or not v.armed:
            return
        self.gcs = True
        in_auto = v.mode == MODE["AUTO"]
        if in_auto and (enabled == 2 or int(p["FS_OPTIONS"]) & 2):
            v.text(mav.MAV_SEVERITY_WARNING, "GCS Failsafe - Continuing Auto Mode")
            return
        action = {1: 2, 2: 2, 3: 3, 4: 4, 5: 1, 6: 6, 7: 7}.get(enabled, 2)
        self._do_action(action, "GCS")

    def _update_ekf(self, dt: float) -> None:
        v = self.v
        bad = v.gps_lost and v.armed and v.flying
        if not bad:
            self._ekf_bad_s = 0.0
            if self.ekf and not v.gps_lost:
                self.ekf = False
                v.text(mav.MAV_SEVERITY_CRITICAL, "EKF Failsafe Cleared")
            return
        self._ekf_bad_s += dt
        if self.ekf or self._ekf_bad_s < EKF_FAILSAFE_S:
            return
        self.ekf = True
        v.text(mav.MAV_SEVERITY_CRITICAL, "EKF Failsafe")
        if int(v.params["FS_EKF_ACTION"]) != 0 and v.mode in POSITION_MODES and \
                v.mode != MODE["LAND"]:
            v.set_mode(MODE["LAND"], reason="ekf")

    def update(self, dt: float) -> None:
        """Run every check once."""
        if self.v.params["FENCE_ENABLE"] >= 1 or self.breached:
            self._update_fence()
        self._update_battery(dt)
        self._update_gcs()
        self._update_ekf(dt)
