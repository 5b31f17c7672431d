"""What each vehicle of a fleet is doing: its phase and its status as the fleet reports it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    """What a vehicle is doing."""

    WAITING = "waiting"
    CONFIGURING = "configuring"
    UPLOADING = "uploading"
    READY = "ready"
    PREFLIGHT = "preflight"
    ARMING = "arming"
    FLYING = "flying"
    RETURNING = "returning"
    LANDED = "landed"
    #: Disarmed away from every depot (a LAND in the field): out of service until recovered.
    LANDED_AWAY = "landed_away"
    TURNAROUND = "turnaround"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldLanding:
    """Where a vehicle landed away from every depot: WGS84 degrees, its height above the
    terrain there (None unknown) and the distance to the nearest depot ``depot_id``."""

    lat_deg: float
    lon_deg: float
    alt_agl_m: float | None
    distance_m: float
    depot_id: str

    def __post_init__(self) -> None:
        if not -90 <= self.lat_deg <= 90 or not -180 <= self.lon_deg <= 180:
            raise ValueError(f"Expected a WGS84 position, got {self.lat_deg}, {self.lon_deg}")
        if not self.distance_m >= 0:
            raise ValueError(f"Expected distance_m >= 0, got {self.distance_m}")

    @property
    def where(self) -> str:
        """``"LAT,LON, D km from DEPOT"`` as people read it."""
        return (f"{self.lat_deg:.5f},{self.lon_deg:.5f}, {self.distance_m / 1000:.1f} km from "
                f"{self.depot_id}")


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleStatus:
    """One vehicle of the fleet: its plan name, system id, phase and sortie."""

    name: str
    sysid: int
    link_url: str
    phase: Phase = Phase.WAITING
    ready: bool = False
    sortie_id: str | None = None
    sorties_done: int = 0
    sorties_total: int = 0
    message: str | None = None
    field_landing: FieldLanding | None = None
