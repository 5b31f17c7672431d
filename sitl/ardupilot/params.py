"""The parameters every real SITL instance is started with, as an ArduPilot defaults file.

Gripper parameters only take effect at boot, so they go into the ``--defaults`` file rather than
being set over MAVLink later (``../shared/ardupilot/NOTES.md``). The fence is configured for
polygon fences (what delivery plans upload) but left disabled until a ground station enables it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from planner.scenario import DroneType

#: Voltage of SITL's simulated pack (the flight controller integrates current at this voltage).
SITL_PACK_VOLTAGE_V = 12.6

#: ArduCopter's default battery capacity of the SITL quad, in mAh.
DEFAULT_BATTERY_MAH = 3300.0

#: What dropline needs on every vehicle, on top of ArduCopter's own defaults.
PROJECT_PARAMETERS: Mapping[str, float] = {
    "BATT_CAPACITY": DEFAULT_BATTERY_MAH,
    "GRIP_ENABLE": 1,
    "GRIP_TYPE": 1,
    "SERVO8_FUNCTION": 28,
    "SIM_GRPS_ENABLE": 1,
    "SIM_GRPS_PIN": 8,
    "FENCE_TYPE": 4,
    "FENCE_ACTION": 1,
    "FENCE_MARGIN": 2,
}


def drone_type_parameters(drone_type: DroneType, *,
                          pack_voltage_v: float = SITL_PACK_VOLTAGE_V) -> dict[str, float]:
    """ArduCopter parameters that make a vehicle fly like a scenario drone type.

    Parameters
    ----------
    drone_type
        The scenario drone type.
    pack_voltage_v
        Voltage used to turn the battery energy (Wh) into the capacity ArduPilot counts (mAh).

    Returns
    -------
    dict[str, float]
        ``WPNAV_SPEED``, ``WPNAV_SPEED_UP``, ``WPNAV_SPEED_DN`` (cm/s) and ``BATT_CAPACITY``
        (mAh).
    """
    if not (pack_voltage_v > 0 and math.isfinite(pack_voltage_v)):
        raise ValueError(f"Expected pack_voltage_v > 0, got {pack_voltage_v}")
    return {
        "WPNAV_SPEED": round(drone_type.cruise_speed_m_s * 100.0, 1),
        "WPNAV_SPEED_UP": round(drone_type.climb_rate_m_s * 100.0, 1),
        "WPNAV_SPEED_DN": round(drone_type.descent_rate_m_s * 100.0, 1),
        "BATT_CAPACITY": round(drone_type.battery_wh / pack_voltage_v * 1000.0),
    }


def instance_parameters(*, sysid: int, drone_type: DroneType | None = None,
                        params: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every parameter of one instance's defaults file.

    Parameters
    ----------
    sysid
        The instance's ``SYSID_THISMAV`` (1..255).
    drone_type
        Fly like this scenario drone type (speeds and battery), if given.
    params
        Extra parameters; they override everything else.

    Returns
    -------
    dict[str, float]
        Parameter names (upper case) to values, in file order.
    """
    if not (isinstance(sysid, int) and 1 <= sysid <= 255):
        raise ValueError(f"Expected sysid in 1..255, got {sysid!r}")
    values: dict[str, float] = {"SYSID_THISMAV": sysid, **PROJECT_PARAMETERS}
    if drone_type is not None:
        values.update(drone_type_parameters(drone_type))
    for name, value in (params or {}).items():
        key = name.strip().upper()
        if not key or len(key) > 16 or not key.replace("_", "").isalnum():
            raise ValueError(f"Expected an ArduPilot parameter name (<= 16 characters), got "
                             f"{name!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"Expected a finite value for {key}, got {value!r}")
        values[key] = value
    return values


def format_param_file(values: Mapping[str, float]) -> str:
    """The text of an ArduPilot parameter file (``NAME VALUE`` per line).

    Examples
    --------
    >>> print(format_param_file({"GRIP_ENABLE": 1, "WPNAV_SPEED": 1250.5}), end="")
    GRIP_ENABLE 1
    WPNAV_SPEED 1250.5
    """
    lines = []
    for name, value in values.items():
        number = float(value)
        text = str(int(number)) if number.is_integer() else repr(number)
        lines.append(f"{name} {text}")
    return "\n".join(lines) + "\n"


def write_param_file(path: str | Path, values: Mapping[str, float]) -> Path:
    """Write ``values`` as an ArduPilot parameter file; return its path."""
    target = Path(path)
    target.write_text(format_param_file(values))
    return target
