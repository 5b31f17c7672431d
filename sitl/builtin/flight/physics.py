"""Point-mass flight: straight 3D tracks with ArduCopter's speed, acceleration and jerk limits.

Positions are north/east metres from the vehicle's local origin and altitude above mean sea level.
The position controller holds the ground track (ArduCopter's controllers reject steady wind), so
wind only changes the airspeed and with it the power drawn. Speeds follow a trapezoid with a
jerk-limited start and a square-root stopping profile, which reproduces the leg times of the
measured SITL traces (a 200 m stop-to-stop leg at 10 m/s takes about 27 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Deceleration used for the stopping profile, as a share of the acceleration limit
#: (horizontal, vertical): ArduCopter stops a climb more gently than it starts it.
_DECEL_SHARE_XY = 1.15
_DECEL_SHARE_Z = 0.6
#: Vertical jerk (m/s^3): ArduCopter ramps vertical acceleration quickly.
_JERK_Z_M_S3 = 2.5
#: Lag before a vehicle at rest starts to accelerate along a new horizontal track (s).
_START_LAG_S = 0.1
#: Position error (m) under which a stopped vehicle counts as on its target.
_HOLD_TOL_M = 0.05


@dataclass(slots=True, kw_only=True)
class Limits:
    """Speed (m/s), acceleration (m/s/s) and jerk (m/s/s/s) limits of one track."""

    speed_xy: float = 10.0
    speed_up: float = 2.5
    speed_dn: float = 1.5
    accel_xy: float = 2.5
    accel_z: float = 1.0
    jerk_xy: float = 1.0


class Body:
    """Position and velocity of the point mass, and its current track."""

    __slots__ = ("_a_now", "_dir", "_len", "_limits", "_o", "_s", "_saved", "_v", "_v_end",
                 "alt_m", "e_m", "n_m", "on_ground", "ve", "vn", "vu", "yaw_deg")

    def __init__(self, n_m: float, e_m: float, alt_m: float) -> None:
        self.n_m, self.e_m, self.alt_m = n_m, e_m, alt_m
        self.vn = self.ve = self.vu = 0.0
        self.yaw_deg = 0.0
        self.on_ground = True
        self._limits = Limits()
        self._o = (n_m, e_m, alt_m)
        self._dir = (0.0, 0.0, 0.0)
        self._len = 0.0
        self._s = 0.0
        self._v = 0.0
        self._v_end = 0.0
        self._a_now = 0.0
        self._saved: tuple[float, float, float, float, object] = (n_m, e_m, alt_m, 0.0, self._o)

    # -- targets ------------------------------------------------------------------------------
    def track_to(self, n_m: float, e_m: float, alt_m: float, limits: Limits, *,
                 end_speed_m_s: float = 0.0) -> None:
        """Fly a straight line from here to the point, ending at ``end_speed_m_s``."""
        dn, de, du = n_m - self.n_m, e_m - self.e_m, alt_m - self.alt_m
        length = math.sqrt(dn * dn + de * de + du * du)
        if length < 1e-6:
            direction = (0.0, 0.0, 0.0)
            carried = 0.0
        else:
            direction = (dn / length, de / length, du / length)
            carried = max(0.0, self.vn * direction[0] + self.ve * direction[1]
                          + self.vu * direction[2])
            if self._v_end > 0:  # leaving a waypoint flown through: the curve keeps the speed
                speed = math.sqrt(self.vn * self.vn + self.ve * self.ve + self.vu * self.vu)
                carried = max(carried, min(speed, self._v_end))
        self._o = (self.n_m, self.e_m, self.alt_m)
        self._dir = direction
        self._len = length
        self._s = 0.0
        self._v = min(carried, self._speed_limit(limits, direction))
        self._v_end = end_speed_m_s
        self._limits = limits
        if carried >= 0.5:
            self._a_now = limits.accel_xy
        elif abs(direction[2]) < 0.5:
            self._a_now = -limits.jerk_xy * _START_LAG_S
        else:
            self._a_now = 0.0

    def stop(self, limits: Limits) -> None:
        """Brake along the current velocity and hold where the vehicle stops."""
        speed_h = math.hypot(self.vn, self.ve)
        speed = math.sqrt(speed_h * speed_h + self.vu * self.vu)
        if speed < 1e-3:
            self.track_to(self.n_m, self.e_m, self.alt_m, limits)
            return
        stop_d = speed * speed / (2.0 * limits.accel_xy * _DECEL_SHARE_XY)
        k = stop_d / speed
        self.track_to(self.n_m + self.vn * k, self.e_m + self.ve * k, self.alt_m + self.vu * k,
                      limits)

    @property
    def limits(self) -> Limits:
        """Limits of the current track."""
        return self._limits

    @property
    def remaining_m(self) -> float:
        """Distance left along the current track."""
        return max(0.0, self._len - self._s)

    @property
    def target(self) -> tuple[float, float, float]:
        """End point of the current track (north, east, altitude AMSL)."""
        o, d = self._o, self._dir
        return (o[0] + d[0] * self._len, o[1] + d[1] * self._len, o[2] + d[2] * self._len)

    @property
    def arrived(self) -> bool:
        """True once the vehicle is on the track's end point."""
        return self._len - self._s <= _HOLD_TOL_M

    def _speed_limit(self, limits: Limits, d: tuple[float, float, float]) -> float:
        horiz = math.hypot(d[0], d[1])
        cap = limits.speed_xy / horiz if horiz > 1e-6 else math.inf
        if d[2] > 1e-6:
            cap = min(cap, limits.speed_up / d[2])
        elif d[2] < -1e-6:
            cap = min(cap, limits.speed_dn / -d[2])
        return 0.0 if cap == math.inf else cap

    def _accel_limit(self, limits: Limits, d: tuple[float, float, float]) -> tuple[float, float]:
        horiz = math.hypot(d[0], d[1])
        accel = limits.accel_xy / horiz if horiz > 1e-6 else math.inf
        jerk = limits.jerk_xy / horiz if horiz > 1e-6 else math.inf
        if abs(d[2]) > 1e-6:
            accel = min(accel, limits.accel_z / abs(d[2]))
            jerk = min(jerk, _JERK_Z_M_S3 / abs(d[2]))
        return (0.0 if accel == math.inf else accel, 0.0 if jerk == math.inf else jerk)

    # -- integration --------------------------------------------------------------------------
    def step(self, dt_s: float, *, max_speed_override: float | None = None) -> None:
        """Advance ``dt_s`` seconds along the current track."""
        d = self._dir
        remaining = self._len - self._s
        if remaining <= 1e-9:
            self.vn = self.ve = self.vu = 0.0
            self._v = 0.0
            return
        limits = self._limits
        v_max = self._speed_limit(limits, d)
        if max_speed_override is not None:
            v_max = min(v_max, max_speed_override)
        accel, jerk = self._accel_limit(limits, d)
        vertical = abs(d[2])
        decel = accel * (_DECEL_SHARE_XY * (1.0 - vertical) + _DECEL_SHARE_Z * vertical)
        v_stop = math.sqrt(self._v_end * self._v_end + 2.0 * decel * remaining)
        v_target = min(v_max, v_stop)
        v = self._v
        if v < v_target:
            gap = v_target - v
            self._a_now = min(accel, self._a_now + jerk * dt_s, math.sqrt(2.0 * jerk * gap))
            v_new = min(v_target, v + max(self._a_now, 0.0) * dt_s)
        else:
            self._a_now = 0.0
            v_new = max(v_target, v - accel * 2.0 * dt_s)
        step_m = 0.5 * (v + v_new) * dt_s
        if step_m >= remaining:
            step_m = remaining
            v_new = self._v_end
        self._s += step_m
        self._v = v_new
        o = self._o
        self.n_m = o[0] + d[0] * self._s
        self.e_m = o[1] + d[1] * self._s
        self.alt_m = o[2] + d[2] * self._s
        self.vn, self.ve, self.vu = d[0] * v_new, d[1] * v_new, d[2] * v_new
        if abs(d[0]) + abs(d[1]) > 1e-3 and v_new > 0.3:
            self.yaw_deg = math.degrees(math.atan2(d[1], d[0])) % 360.0

    def checkpoint(self) -> None:
        """Remember where the vehicle is along its track (see :meth:`restore`)."""
        self._saved = (self.n_m, self.e_m, self.alt_m, self._s, self._o)

    def restore(self) -> None:
        """Back to the last :meth:`checkpoint`, at rest: something stopped the vehicle there."""
        n_m, e_m, alt_m, s, origin = self._saved
        target = self.target
        self.n_m, self.e_m, self.alt_m = n_m, e_m, alt_m
        self.vn = self.ve = self.vu = 0.0
        if origin is self._o:
            self._s = s
            self._v = 0.0
            self._a_now = 0.0
        else:  # a new track began since: start it again from here
            self._v_end, v_end = 0.0, self._v_end
            self.track_to(*target, self._limits, end_speed_m_s=v_end)

    def place(self, n_m: float, e_m: float, alt_m: float) -> None:
        """Put the vehicle at a point at rest (used on the ground)."""
        self.n_m, self.e_m, self.alt_m = n_m, e_m, alt_m
        self.vn = self.ve = self.vu = 0.0
        self.track_to(n_m, e_m, alt_m, self._limits)


def corner_speed_m_s(limits: Limits, turn_deg: float, radius_m: float) -> float:
    """Speed to carry through a waypoint where the track turns by ``turn_deg``."""
    half = math.radians(min(abs(turn_deg), 180.0)) / 2.0
    if half < math.radians(2.0):
        return limits.speed_xy
    return min(limits.speed_xy, math.sqrt(limits.accel_xy * 2.0 * radius_m / math.sin(half)))
