"""Payload-aware multicopter energy model.

The default model is Dorling et al. (2017), "Vehicle routing problems for drone delivery":
hover power ``P = (W + m)^1.5 * sqrt(g^3 / (2 rho zeta n))`` with ``W`` the empty mass, ``m`` the
battery plus payload mass, ``rho`` the air density, ``zeta`` the disk area of one rotor and ``n``
the rotor count. It does not depend on airspeed, so a leg costs power times the time it takes;
climbing adds the potential energy ``m g dh``. Electrical power is mechanical power divided by
``power_efficiency``. Other models plug in through :class:`EnergyModel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from planner.scenario import DroneType

G_M_S2 = 9.80665
J_PER_WH = 3600.0


class EnergyModel(Protocol):
    """Electrical power of a drone type as a function of the payload on board."""

    def power_w(self, payload_kg: float) -> float:
        """Electrical power in W while hovering or cruising with ``payload_kg`` on board."""
        ...

    def climb_energy_wh(self, payload_kg: float, climb_m: float) -> float:
        """Extra electrical energy in Wh to gain ``climb_m`` of height."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DorlingModel:
    """Dorling et al. (2017) power model for one drone type.

    Examples
    --------
    Cheng et al. (2020) use W = 1.5 kg, m = 1.5 kg, rho = 1.204, zeta = 0.0064 m2, 6 rotors,
    so ``k = 101.04`` with g = 9.81 (100.99 with standard gravity) and an empty drone hovers at
    ``k * 3^1.5`` W:

    >>> from planner.scenario import DroneType
    >>> cheng = DroneType(id="cheng", empty_mass_kg=1.5, battery_mass_kg=1.5, battery_wh=270,
    ...     reserve_fraction=0.0, max_payload_kg=1.5, max_parcels=10, cruise_speed_m_s=1.0,
    ...     climb_rate_m_s=1.0, descent_rate_m_s=1.0, drop_method="gripper", drop_alt_agl_m=0,
    ...     drop_hover_s=0, turnaround_s=0, rotor_disk_area_m2=0.0064, rotor_count=6,
    ...     air_density_kg_m3=1.204)
    >>> round(DorlingModel.of(cheng).power_w(0.0), 1)
    524.8
    """

    base_mass_kg: float
    k_w_per_kg15: float
    efficiency: float

    @classmethod
    def of(cls, drone: DroneType) -> DorlingModel:
        """The model of a drone type."""
        k = math.sqrt(G_M_S2**3 / (2.0 * drone.air_density_kg_m3 * drone.rotor_disk_area_m2
                                   * drone.rotor_count))
        return cls(base_mass_kg=drone.empty_mass_kg + drone.battery_mass_kg, k_w_per_kg15=k,
                   efficiency=drone.power_efficiency)

    def power_w(self, payload_kg: float) -> float:
        """Electrical power in W with ``payload_kg`` on board."""
        return float(self.k_w_per_kg15 * (self.base_mass_kg + payload_kg) ** 1.5 / self.efficiency)

    def climb_energy_wh(self, payload_kg: float, climb_m: float) -> float:
        """Electrical energy in Wh to lift the whole drone by ``climb_m`` (0 for descents)."""
        if climb_m <= 0:
            return 0.0
        return (self.base_mass_kg + payload_kg) * G_M_S2 * climb_m / self.efficiency / J_PER_WH


def ground_speed_m_s(airspeed_m_s: float, wind_en_m_s: tuple[float, float],
                     track_en: tuple[float, float]) -> float:
    """Speed over the ground along a track, flying at ``airspeed_m_s`` in a steady wind.

    Parameters
    ----------
    airspeed_m_s
        Speed through the air.
    wind_en_m_s
        Air mass velocity (east, north) in m/s: where the wind blows to.
    track_en
        Direction of the track (east, north); normalised here.

    Returns
    -------
    float
        Ground speed in m/s, or 0.0 when the crosswind is stronger than the airspeed or the
        head wind stops the drone.

    Examples
    --------
    >>> ground_speed_m_s(10.0, (0.0, -4.0), (0.0, 1.0))   # 4 m/s head wind
    6.0
    >>> round(ground_speed_m_s(10.0, (6.0, 0.0), (0.0, 1.0)), 6)   # 6 m/s crosswind
    8.0
    """
    norm = math.hypot(*track_en)
    if norm == 0:
        return airspeed_m_s
    tx, ty = track_en[0] / norm, track_en[1] / norm
    along = wind_en_m_s[0] * tx + wind_en_m_s[1] * ty
    cross = wind_en_m_s[0] * ty - wind_en_m_s[1] * tx
    if abs(cross) >= airspeed_m_s:
        return 0.0
    return max(0.0, along + math.sqrt(airspeed_m_s**2 - cross**2))


def move_time_s(drone: DroneType, horizontal_m: float, climb_m: float,
                ground_speed: float) -> float:
    """Time of a straight 3D move: the slowest of its horizontal and vertical parts.

    ``climb_m`` is positive up. Returns ``inf`` when the move needs horizontal progress at zero
    ground speed.
    """
    if horizontal_m > 0 and ground_speed <= 0:
        return math.inf
    t_h = horizontal_m / ground_speed if horizontal_m > 0 else 0.0
    rate = drone.climb_rate_m_s if climb_m > 0 else drone.descent_rate_m_s
    return max(t_h, abs(climb_m) / rate)
