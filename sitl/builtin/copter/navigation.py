"""How fast a simulated copter may fly, and where its RTL returns to.

Speed limits come from ``WPNAV_SPEED``, ``WPNAV_SPEED_UP`` and ``WPNAV_SPEED_DN`` unless a
DO_CHANGE_SPEED overrode them (until the next disarm or reboot); accelerations and jerk are the
share of ``WPNAV_ACCEL`` and ``WPNAV_JERK`` that ArduCopter's S-curves reach in the measured
traces. RTL returns to the nearest rally point within ``RALLY_LIMIT_KM`` unless home is nearer.
"""

from __future__ import annotations

from typing import Protocol

from sitl.builtin.flight import tasks as flight
from sitl.builtin.flight.auto import MissionRunner
from sitl.builtin.flight.geo import LocalFrame
from sitl.builtin.flight.physics import Limits
from sitl.builtin.mission import RALLY, StoredItem, rally_return_point

#: Share of WPNAV_ACCEL / WPNAV_JERK the S-curves reach in practice (fitted to the traces).
ACCEL_SHARE = 0.7
#: DO_CHANGE_SPEED speed types and the limit each overrides.
_SPEED_KEYS = {0: "xy", 1: "xy", 2: "up", 3: "dn"}


class NavigationHost(flight.FlightHost, Protocol):
    """What navigation needs from its vehicle."""

    @property
    def frame(self) -> LocalFrame: ...

    @property
    def task(self) -> flight.Task: ...

    @property
    def runner(self) -> MissionRunner: ...

    def home_ne(self) -> tuple[float, float]: ...

    def items(self, mission_type: int) -> list[StoredItem]: ...


class Navigation:
    """Speed limits and the return point of one vehicle.

    Parameters
    ----------
    host
        The vehicle navigated.
    """

    def __init__(self, host: NavigationHost) -> None:
        self._v = host
        #: DO_CHANGE_SPEED overrides (m/s) of the "xy", "up" and "dn" speed limits.
        self.speed_override: dict[str, float] = {}

    def limits(self) -> Limits:
        """Speed and acceleration limits from WPNAV_* and DO_CHANGE_SPEED."""
        p = self._v.params
        override = self.speed_override
        return Limits(speed_xy=override.get("xy", p["WPNAV_SPEED"] / 100.0),
                      speed_up=override.get("up", p["WPNAV_SPEED_UP"] / 100.0),
                      speed_dn=override.get("dn", p["WPNAV_SPEED_DN"] / 100.0),
                      accel_xy=p["WPNAV_ACCEL"] / 100.0 * ACCEL_SHARE,
                      accel_z=p["WPNAV_ACCEL_Z"] / 100.0,
                      jerk_xy=max(p["WPNAV_JERK"], 0.1) * ACCEL_SHARE)

    def change_speed(self, speed_type: int, speed_m_s: float) -> None:
        """DO_CHANGE_SPEED (0/1 horizontal, 2 climb, 3 descent); the leg being flown follows."""
        if speed_m_s <= 0:
            return
        key = _SPEED_KEYS.get(speed_type)
        if key is None:
            return
        self.speed_override[key] = speed_m_s
        v = self._v
        for task in (v.task, v.runner.task):
            if isinstance(task, flight.GoTo) and not task.done:
                task.retarget_speed(v)

    def return_point(self) -> tuple[float, float]:
        """Nearest rally point (within RALLY_LIMIT_KM) unless home is nearer, local metres."""
        v = self._v
        rally = [v.frame.to_ne(item.lat_deg, item.lon_deg) for item in v.items(RALLY)]
        return rally_return_point((v.body.n_m, v.body.e_m), v.home_ne(), rally,
                                  limit_km=v.params["RALLY_LIMIT_KM"],
                                  include_home=v.params["RALLY_INCL_HOME"] >= 1)

    def rtl_task(self) -> flight.Rtl:
        """RTL to the best rally point or home."""
        n, e = self.return_point()
        return flight.Rtl(n, e, self._v.ground_alt_m(n, e))
