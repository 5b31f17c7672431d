"""ArduCopter parameters the simulator understands, with ArduCopter's names, units and defaults.

Values are stored as ArduCopter stores them (centimetres per second for ``WPNAV_SPEED``,
centimetres for ``RTL_ALT``, milliseconds for ``RTL_LOIT_TIME``...). The gripper parameters are
set as the measured SITL setup in ``shared/ardupilot/NOTES.md`` sets them, so that a default
simulated copter behaves like the default SITL quad there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

#: MAV_PARAM_TYPE values.
INT8, INT16, INT32, REAL32 = 2, 4, 6, 9

_DEFAULTS: tuple[tuple[str, float, int], ...] = (
    # arming and mission
    ("ARMING_CHECK", 1, INT32), ("DISARM_DELAY", 10, INT8), ("MIS_OPTIONS", 0, INT16),
    ("MIS_RESTART", 0, INT8), ("MIS_TOTAL", 0, INT16), ("AUTO_OPTIONS", 0, INT32),
    ("FLTMODE1", 0, INT8), ("INITIAL_MODE", 0, INT8),
    # waypoint navigation (cm, cm/s, cm/s/s)
    ("WPNAV_SPEED", 1000, REAL32), ("WPNAV_SPEED_UP", 250, REAL32),
    ("WPNAV_SPEED_DN", 150, REAL32), ("WPNAV_ACCEL", 250, REAL32), ("WPNAV_ACCEL_Z", 100, REAL32),
    ("WPNAV_RADIUS", 200, REAL32), ("WPNAV_JERK", 1, REAL32), ("WPNAV_RFND_USE", 1, INT8),
    ("LOIT_SPEED", 1250, REAL32), ("LOIT_ACC_MAX", 500, REAL32), ("LOIT_BRK_ACCEL", 250, REAL32),
    ("PILOT_SPEED_UP", 250, INT16), ("PILOT_SPEED_DN", 0, INT16), ("PILOT_ACCEL_Z", 250, INT16),
    # landing and return
    ("LAND_SPEED", 50, INT16), ("LAND_SPEED_HIGH", 0, INT16), ("LAND_ALT_LOW", 1000, INT16),
    ("PLDP_SPEED_DN", 0, REAL32), ("PLDP_DELAY", 0, REAL32), ("PLDP_THRESH", 0.9, REAL32),
    ("PLDP_RNG_MAX", 0, REAL32),
    ("RTL_ALT", 1500, INT32), ("RTL_ALT_FINAL", 0, INT32), ("RTL_CLIMB_MIN", 0, INT16),
    ("RTL_SPEED", 0, INT16), ("RTL_LOIT_TIME", 5000, INT32), ("RTL_CONE_SLOPE", 3, REAL32),
    ("RTL_OPTIONS", 0, INT32),
    # fence and rally
    ("FENCE_ENABLE", 0, INT8), ("FENCE_TYPE", 7, INT8), ("FENCE_ACTION", 1, INT8),
    ("FENCE_ALT_MAX", 100, REAL32), ("FENCE_ALT_MIN", -10, REAL32), ("FENCE_RADIUS", 150, REAL32),
    ("FENCE_MARGIN", 2, REAL32), ("FENCE_TOTAL", 0, INT8), ("FENCE_AUTOENABLE", 0, INT8),
    ("FENCE_OPTIONS", 0, INT16),
    ("RALLY_TOTAL", 0, INT8), ("RALLY_LIMIT_KM", 0.3, REAL32), ("RALLY_INCL_HOME", 1, INT8),
    # battery (mAh, V)
    ("BATT_MONITOR", 4, INT8), ("BATT_CAPACITY", 3300, INT32), ("BATT_LOW_MAH", 0, INT32),
    ("BATT_CRT_MAH", 0, INT32), ("BATT_LOW_VOLT", 10.5, REAL32), ("BATT_CRT_VOLT", 0, REAL32),
    ("BATT_FS_LOW_ACT", 0, INT8), ("BATT_FS_CRT_ACT", 0, INT8), ("BATT_LOW_TIMER", 10, INT8),
    ("BATT_ARM_VOLT", 0, REAL32), ("BATT_ARM_MAH", 0, INT32), ("BATT_FS_VOLTSRC", 0, INT8),
    # failsafes
    ("FS_GCS_ENABLE", 0, INT8), ("FS_GCS_TIMEOUT", 5, REAL32), ("FS_OPTIONS", 0, INT32),
    ("FS_THR_ENABLE", 1, INT8), ("FS_EKF_ACTION", 1, INT8), ("FS_CRASH_CHECK", 1, INT8),
    # gripper and winch (as the measured SITL setup)
    ("GRIP_ENABLE", 1, INT8), ("GRIP_TYPE", 1, INT8), ("GRIP_GRAB", 1900, INT16),
    ("GRIP_RELEASE", 1100, INT16), ("GRIP_NEUTRAL", 1500, INT16), ("GRIP_REGRAB", 0, INT8),
    ("SERVO8_FUNCTION", 28, INT16), ("WINCH_TYPE", 0, INT8), ("WINCH_RATE_MAX", 1, REAL32),
    # motors and vehicle
    ("MOT_THST_HOVER", 0.35, REAL32), ("MOT_SPIN_ARM", 0.1, REAL32),
    ("TERRAIN_ENABLE", 1, INT8), ("TERRAIN_FOLLOW", 0, INT8), ("TERRAIN_SPACING", 100, INT16),
    ("SYSID_THISMAV", 1, INT16), ("SYSID_MYGCS", 255, INT16), ("BRD_OPTIONS", 0, INT32),
    ("SR0_EXTRA1", 0, INT16), ("SR0_POSITION", 0, INT16),
    # simulation
    ("SIM_SPEEDUP", 1, REAL32), ("SIM_WIND_SPD", 0, REAL32), ("SIM_WIND_DIR", 180, REAL32),
    ("SIM_GPS_DISABLE", 0, INT8), ("SIM_BATT_VOLTAGE", 12.6, REAL32),
    ("SIM_BATT_CAP_AH", 0, REAL32), ("SIM_GRPS_ENABLE", 1, INT8), ("SIM_GRPS_PIN", 8, INT8),
    ("SIM_GRPS_GRAB", 2000, INT16), ("SIM_GRPS_RELEASE", 1000, INT16),
    ("SIM_TERRAIN", 1, INT8),
)

#: Every parameter with its default value.
PARAM_DEFAULTS: dict[str, float] = {name: float(value) for name, value, _ in _DEFAULTS}
#: MAV_PARAM_TYPE of every parameter.
PARAM_TYPES: dict[str, int] = {name: kind for name, _, kind in _DEFAULTS}


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamValue:
    """One parameter as PARAM_VALUE reports it."""

    name: str
    value: float
    param_type: int
    index: int
    count: int


class ParamStore:
    """Named parameters in a fixed order, with change listeners.

    Integer parameters are rounded and clamped to their type's range when set, as ArduPilot does.

    Parameters
    ----------
    overrides
        Values that replace the defaults (unknown names raise ``KeyError``).
    """

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self._names = [name for name, _, _ in _DEFAULTS]
        self._index = {name: i for i, name in enumerate(self._names)}
        self._values = dict(PARAM_DEFAULTS)
        self._listeners: list[Callable[[str, float], None]] = []
        for name, value in (overrides or {}).items():
            if name not in self._index:
                raise KeyError(f"Unknown ArduCopter parameter {name!r}")
            self._values[name] = self._coerce(name, float(value))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def get(self, name: str, default: float = 0.0) -> float:
        """The value of ``name``, or ``default`` for an unknown name."""
        return self._values.get(name, default)

    def on_change(self, listener: Callable[[str, float], None]) -> None:
        """Call ``listener(name, value)`` after every change."""
        self._listeners.append(listener)

    def _coerce(self, name: str, value: float) -> float:
        kind = PARAM_TYPES[name]
        if kind == REAL32:
            return value
        bits = {INT8: 8, INT16: 16, INT32: 32}[kind]
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        return float(min(max(round(value), low), high))

    def set(self, name: str, value: float) -> bool:
        """Set ``name``; True if it exists. Listeners run only when the value changes."""
        if name not in self._index:
            return False
        new = self._coerce(name, float(value))
        old = self._values[name]
        self._values[name] = new
        if new != old:
            for listener in self._listeners:
                listener(name, new)
        return True

    def describe(self, name: str) -> ParamValue:
        """PARAM_VALUE fields for ``name``."""
        return ParamValue(name=name, value=self._values[name], param_type=PARAM_TYPES[name],
                          index=self._index[name], count=len(self._names))

    def name_at(self, index: int) -> str | None:
        """The name at ``index``, or None when out of range."""
        return self._names[index] if 0 <= index < len(self._names) else None
