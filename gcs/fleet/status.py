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
    TURNAROUND = "turnaround"
    DONE = "done"
    FAILED = "failed"


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
