"""The cost table of a scenario: what energy, batteries, drones, crew and the road cost.

Every price is in yuan. The table is the ``[costs]`` table of ``scenario.toml``; every key is
optional and defaults to the value below (:class:`CostTable`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The currency of every ``*_yuan`` figure.
CURRENCY = "yuan"
#: Largest price or rate accepted in a cost table.
MAX_PRICE_YUAN = 1_000_000.0


def _check(name: str, value: float, *, low: float = 0.0, low_open: bool = False,
           high: float = MAX_PRICE_YUAN) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise ValueError(f"Expected {name} to be a finite number, got {value!r}")
    if (value <= low) if low_open else (value < low):
        raise ValueError(f"Expected {name} {'>' if low_open else '>='} {low:g}, got {value:g}")
    if value > high:
        raise ValueError(f"Expected {name} <= {high:g}, got {value:g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CostTable:
    """Prices the cost report uses (yuan), with their defaults.

    Parameters
    ----------
    electricity_yuan_per_kwh
        Price of grid electricity (default 0.8).
    charger_efficiency
        Battery energy per grid energy when charging, in (0, 1] (default 0.9): a sortie drawing
        ``energy_kwh`` from its battery costs ``energy_kwh / charger_efficiency`` kWh of grid.
    battery_yuan_per_kwh
        Price of a battery pack per kWh of capacity (default 1500).
    battery_cycle_life
        Full charge cycles a pack lasts (default 500). A sortie wears ``energy_wh / battery_wh``
        cycles of its drone type's pack.
    depreciation_yuan_per_flight_h
        Drone depreciation and maintenance per flight hour (default 25).
    crew_yuan_per_h
        Ground crew pay per hour; each sortie takes its drone type's ``turnaround_s`` of crew
        time (default 40).
    road_yuan_per_parcel
        What the road delivers a parcel for (default 5), used unless ``road_yuan_per_km`` is set.
    road_yuan_per_km
        Van cost per road km (default unset). When set, a parcel's road cost is this times its
        road distance: the straight line from its depot times ``road_detour_factor``, one way.
    road_detour_factor
        Road distance per straight-line distance, >= 1 (default 1.3).

    Examples
    --------
    >>> CostTable().road_yuan_per_parcel
    5.0
    >>> CostTable(crew_yuan_per_h=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: Expected crew_yuan_per_h >= 0, got -1
    """

    electricity_yuan_per_kwh: float = 0.8
    charger_efficiency: float = 0.9
    battery_yuan_per_kwh: float = 1500.0
    battery_cycle_life: float = 500.0
    depreciation_yuan_per_flight_h: float = 25.0
    crew_yuan_per_h: float = 40.0
    road_yuan_per_parcel: float = 5.0
    road_yuan_per_km: float | None = None
    road_detour_factor: float = 1.3

    def __post_init__(self) -> None:
        for name in ("electricity_yuan_per_kwh", "battery_yuan_per_kwh",
                     "depreciation_yuan_per_flight_h", "crew_yuan_per_h", "road_yuan_per_parcel"):
            _check(name, getattr(self, name))
        _check("charger_efficiency", self.charger_efficiency, low_open=True, high=1.0)
        _check("battery_cycle_life", self.battery_cycle_life, low_open=True, high=1_000_000.0)
        if self.road_yuan_per_km is not None:
            _check("road_yuan_per_km", self.road_yuan_per_km)
        _check("road_detour_factor", self.road_detour_factor, low=1.0, high=10.0)
