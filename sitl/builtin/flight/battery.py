"""The simulated battery: its own current model, coulomb counting and pack voltage.

The current model is deliberately not the planner's energy model: it is fitted to measured
ArduCopter SITL currents (default quad: hover about 28 A, 10 m/s cruise about 30 A, 2.5 m/s climb
about 32.5 A at 12.6 V) and, for a scenario drone type, scaled from actuator-disk hover power with
a fixed figure of merit, so the planner's predictions are tested rather than echoed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from planner.scenario import DroneType

GRAVITY_M_S2 = 9.80665
#: Pack voltage of the default simulated pack (3S, full), as SITL's SIM_BATT_VOLTAGE.
NOMINAL_VOLTAGE_V = 12.6
#: Default SITL quad: mass and hover current measured on ArduCopter SITL.
DEFAULT_MASS_KG = 3.0
DEFAULT_HOVER_CURRENT_A = 27.9
#: Figure of merit times motor/ESC efficiency of the simulated propulsion.
_PROPULSION_EFFICIENCY = 0.64
#: Extra current per (m/s)^2 of airspeed, as a share of hover current (30 A at 10 m/s).
_SPEED_FACTOR = 0.000714
#: Extra current per m/s of climb and saving per m/s of descent, as a share of hover current.
_CLIMB_FACTOR = 0.066
_DESCENT_FACTOR = 0.02
#: Scenario drone types: propulsion efficiency and extra power at cruise speed (share of hover).
_DRONE_EFFICIENCY = 0.68
_DRONE_CRUISE_EXTRA = 0.03
#: Current with motors armed and idling on the ground.
_IDLE_CURRENT_A = 1.6
#: Open-circuit cell voltage against state of charge (finite packs only).
_CELL_CURVE = ((0.0, 3.30), (0.05, 3.50), (0.2, 3.62), (0.4, 3.70), (0.6, 3.78), (0.8, 3.93),
               (1.0, 4.20))
_INTERNAL_RESISTANCE_OHM = 0.0143


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerModel:
    """Hover current and how it changes with mass; the rest scales with hover current."""

    hover_current_a: float = DEFAULT_HOVER_CURRENT_A
    mass_kg: float = DEFAULT_MASS_KG
    speed_factor: float = _SPEED_FACTOR

    @classmethod
    def from_drone_type(cls, drone: DroneType) -> PowerModel:
        """Hover current of a scenario drone type from actuator-disk power over all its rotors.

        Its own propulsion efficiency (not the planner's ``power_efficiency``) and a cruise
        penalty of ``_DRONE_CRUISE_EXTRA`` at the type's cruise speed, so that flying a plan
        tests the planner's energy predictions instead of echoing them.
        """
        mass = drone.empty_mass_kg + drone.battery_mass_kg
        power_w = hover_power_w(mass, drone.rotor_disk_area_m2 * drone.rotor_count,
                                drone.air_density_kg_m3, efficiency=_DRONE_EFFICIENCY)
        return cls(hover_current_a=power_w / NOMINAL_VOLTAGE_V, mass_kg=mass,
                   speed_factor=_DRONE_CRUISE_EXTRA / drone.cruise_speed_m_s**2)

    def current_a(self, *, payload_kg: float, airspeed_m_s: float, climb_m_s: float,
                  flying: bool, armed: bool) -> float:
        """Battery current for a flight condition."""
        if not armed:
            return 0.0
        if not flying:
            return _IDLE_CURRENT_A
        hover = self.hover_current_a * ((self.mass_kg + payload_kg) / self.mass_kg) ** 1.5
        climb = _CLIMB_FACTOR * climb_m_s if climb_m_s > 0 else _DESCENT_FACTOR * climb_m_s
        return float(hover * (1.0 + self.speed_factor * airspeed_m_s * airspeed_m_s + climb))


def hover_power_w(mass_kg: float, disk_area_m2: float, air_density_kg_m3: float, *,
                  efficiency: float = _PROPULSION_EFFICIENCY) -> float:
    """Electrical hover power from momentum theory over the total disk area ``disk_area_m2``."""
    thrust_n = mass_kg * GRAVITY_M_S2
    ideal = thrust_n ** 1.5 / math.sqrt(2.0 * air_density_kg_m3 * disk_area_m2)
    return float(ideal / efficiency)


class Battery:
    """Coulomb counter against ``capacity_mah``; the pack itself may be infinite.

    Like SITL's default physics, an infinite pack stays at ``voltage_v`` while the flight
    controller still integrates current against its capacity. A finite pack sags with its state
    of charge and current.
    """

    def __init__(self, *, capacity_mah: float, voltage_v: float = NOMINAL_VOLTAGE_V,
                 finite: bool = False) -> None:
        self.capacity_mah = capacity_mah
        self.full_voltage_v = voltage_v
        self.finite = finite
        self.consumed_mah = 0.0
        self.consumed_wh = 0.0
        self.current_a = 0.0
        self.pack_loss_mah = 0.0  # capacity lost to injected sag (finite and infinite packs)

    @property
    def remaining_mah(self) -> float:
        """Capacity left by the flight controller's count."""
        return max(0.0, self.capacity_mah - self.consumed_mah)

    @property
    def remaining_pct(self) -> int:
        """Remaining percentage as BATTERY_STATUS reports it (rounded down)."""
        if self.capacity_mah <= 0:
            return -1
        return max(0, min(100, math.floor(100.0 * self.remaining_mah / self.capacity_mah)))

    @property
    def voltage_v(self) -> float:
        """Pack voltage under the present load."""
        if not self.finite:
            return self.full_voltage_v
        soc = self.remaining_mah / self.capacity_mah if self.capacity_mah > 0 else 0.0
        cells = round(self.full_voltage_v / 4.2)
        return max(0.0, cells * _cell_voltage(soc) - self.current_a * _INTERNAL_RESISTANCE_OHM)

    def step(self, current_a: float, dt_s: float) -> None:
        """Draw ``current_a`` for ``dt_s`` seconds."""
        self.current_a = current_a
        used_mah = current_a * dt_s / 3.6
        self.consumed_mah += used_mah
        self.consumed_wh += used_mah * self.voltage_v / 1000.0

    def sag(self, fraction: float) -> None:
        """Lose ``fraction`` of the remaining capacity at once (a failing cell, a cold pack)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"Expected a sag fraction in [0, 1], got {fraction}")
        lost = self.remaining_mah * fraction
        self.consumed_mah += lost
        self.pack_loss_mah += lost

    def reset(self, remaining_pct: float = 100.0) -> None:
        """MAV_CMD_BATTERY_RESET: set the count so that ``remaining_pct`` is left."""
        self.consumed_mah = self.capacity_mah * (1.0 - remaining_pct / 100.0)
        self.consumed_wh = 0.0


    def swap(self) -> None:
        """A full pack of the same capacity in place of this one (the crew's swap)."""
        self.consumed_mah = 0.0
        self.consumed_wh = 0.0
        self.pack_loss_mah = 0.0


class DepotSwap:
    """A crew swapping the pack of a vehicle that stands disarmed near its home.

    Parameters
    ----------
    enabled
        Swap at all; off, the pack is only refilled by MAV_CMD_BATTERY_RESET or a reboot.
    near_m
        A disarm within this horizontal distance of home (m) starts the turnaround.
    delay_s
        Simulated seconds the vehicle stands disarmed before it gets a full pack.
    """

    def __init__(self, *, enabled: bool, near_m: float, delay_s: float) -> None:
        self.enabled = enabled
        self.near_m = near_m
        self.delay_s = delay_s
        #: Packs swapped so far.
        self.swaps = 0
        self._due_s: float | None = None

    def cancel(self) -> None:
        """The vehicle armed: no swap is due."""
        self._due_s = None

    def disarmed(self, *, now_s: float, home_distance_m: float) -> None:
        """The vehicle disarmed ``home_distance_m`` from home at ``now_s``."""
        if self.enabled and home_distance_m <= self.near_m:
            self._due_s = now_s + self.delay_s

    def update(self, battery: Battery, *, now_s: float, armed: bool) -> bool:
        """Swap ``battery`` for a full pack when due; whether it was swapped."""
        if self._due_s is None or armed or now_s < self._due_s - 1e-9:
            return False
        self._due_s = None
        battery.swap()
        self.swaps += 1
        return True


def _cell_voltage(soc: float) -> float:
    soc = min(max(soc, 0.0), 1.0)
    for (s0, v0), (s1, v1) in itertools.pairwise(_CELL_CURVE):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return _CELL_CURVE[-1][1]
