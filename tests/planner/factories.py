"""Small builders of valid model objects for tests."""

from __future__ import annotations

from typing import Any

from planner.scenario import DroneType

_DRONE: dict[str, Any] = {
    "id": "quad", "empty_mass_kg": 9.0, "battery_mass_kg": 4.5, "battery_wh": 900.0,
    "reserve_fraction": 0.2, "max_payload_kg": 3.0, "max_parcels": 3,
    "cruise_speed_m_s": 15.0, "climb_rate_m_s": 4.0, "descent_rate_m_s": 3.0,
    "drop_method": "gripper", "drop_alt_agl_m": 10.0, "drop_hover_s": 10.0,
    "turnaround_s": 300.0, "rotor_disk_area_m2": 0.246, "rotor_count": 8,
    "power_efficiency": 0.7,
}


def drone_type(**overrides: Any) -> DroneType:
    """A valid heavy delivery multicopter, with any field overridden."""
    return DroneType(**{**_DRONE, **overrides})
