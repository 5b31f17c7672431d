"""How a fleet flies: :class:`FlyOptions`, and the reserve and turnaround each sortie gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gcs.fleet.config import ConfigOptions
from gcs.fleet.failsafe import FailsafeLimits
from gcs.fleet.preflight import PreflightLimits
from gcs.transfer import DEFAULT_RETRY, Retry
from planner.plan_model import Sortie
from planner.scenario import DroneType


@dataclass(frozen=True, slots=True, kw_only=True)
class FlyOptions:
    """How the fleet flies.

    ``time_scale`` is vehicle seconds per wall second (a simulator's speedup; 1 for real
    vehicles): turnaround, readiness and lost-vehicle times are in vehicle seconds.
    ``turnaround_s`` overrides the drone type's turnaround (0 without drone types).
    ``reset_battery`` sends MAV_CMD_BATTERY_RESET after each turnaround, standing for the battery
    swap on simulators whose pack is never changed; None (the default) does it on simulators
    only (vehicles with a ``SIM_SPEEDUP`` parameter), never on a real flight controller.
    ``reserve_pct`` applies to sorties whose drone type is unknown. ``vehicle_types`` gives the
    drone type id of system ids known to be of one (a plan drone then only takes a vehicle of its
    type, :func:`gcs.fleet.assign.assign_vehicles`).
    """

    time_scale: float = 1.0
    turnaround_s: float | None = None
    ready_timeout_s: float = 180.0
    lost_vehicle_s: float = 900.0
    reset_battery: bool | None = None
    stream_rate_hz: float = 4.0
    max_release_error_m: float = 30.0
    upload_attempts: int = 2
    reserve_pct: float = 20.0
    preflight: PreflightLimits = field(default_factory=PreflightLimits)
    failsafe: FailsafeLimits = field(default_factory=FailsafeLimits)
    config: ConfigOptions = field(default_factory=ConfigOptions)
    retry: Retry = DEFAULT_RETRY
    vehicle_types: Mapping[int, str] | None = None

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"Expected time_scale > 0, got {self.time_scale}")
        if self.turnaround_s is not None and not self.turnaround_s >= 0:
            raise ValueError(f"Expected turnaround_s >= 0, got {self.turnaround_s}")
        if self.upload_attempts < 1:
            raise ValueError(f"Expected upload_attempts >= 1, got {self.upload_attempts}")


def sortie_reserve_pct(sortie: Sortie, options: FlyOptions,
                       drone_types: Mapping[str, DroneType]) -> float:
    """Battery percentage that must be left on landing from ``sortie``.

    The reserve of the sortie's drone type, else ``options.reserve_pct``.
    """
    drone = drone_types.get(sortie.drone_type_id)
    return options.reserve_pct if drone is None else drone.reserve_fraction * 100.0


def sortie_turnaround_s(sortie: Sortie, options: FlyOptions,
                        drone_types: Mapping[str, DroneType]) -> float:
    """Vehicle seconds between landing from ``sortie`` and preparing the next one.

    ``options.turnaround_s`` when set, else the turnaround of the sortie's drone type (0 when
    the type is unknown).
    """
    if options.turnaround_s is not None:
        return options.turnaround_s
    drone = drone_types.get(sortie.drone_type_id)
    return 0.0 if drone is None else drone.turnaround_s
