"""Small builders of valid model objects for tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner.scenario import DroneType
from planner.terrain import Dem, DemTile

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


LAT0, LON0 = 45.0, 10.0
SPAN_DEG = 0.2
CELL_DEG = 1 / 1200


def hills_dem(seed: int, relief_m: float) -> Dem:
    """A 3 arc-second tile of smooth random hills around (LAT0, LON0)."""
    rng = np.random.default_rng(seed)
    n = int(SPAN_DEG / CELL_DEG) + 1
    lat = LAT0 + SPAN_DEG / 2 - np.arange(n) * CELL_DEG
    lon = LON0 - SPAN_DEG / 2 + np.arange(n) * CELL_DEG
    glon, glat = np.meshgrid(lon, lat)
    h = np.full(glon.shape, 200.0)
    for _ in range(12):
        cy, cx = rng.uniform(-SPAN_DEG / 2, SPAN_DEG / 2, 2)
        sigma = rng.uniform(0.005, 0.03)
        h += rng.uniform(-0.3, 1.0) * relief_m * np.exp(
            -((glat - LAT0 - cy) ** 2 + ((glon - LON0 - cx) * math.cos(math.radians(LAT0))) ** 2)
            / (2 * sigma**2))
    return Dem(tiles=(DemTile(heights_m=h, west_deg=float(lon[0]), north_deg=float(lat[0]),
                              dlon_deg=CELL_DEG, dlat_deg=CELL_DEG),))


def square(lat: float, lon: float, half_deg: float) -> tuple[tuple[float, float], ...]:
    """A closed square ring of (lon, lat) around a centre."""
    return ((lon - half_deg, lat - half_deg), (lon + half_deg, lat - half_deg),
            (lon + half_deg, lat + half_deg), (lon - half_deg, lat + half_deg),
            (lon - half_deg, lat - half_deg))
