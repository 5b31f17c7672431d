"""What a plan is: sorties compiled to mission, fence and rally items, plus unserved drops.

A :class:`Plan` is what ``dropline plan`` writes as ``plan.json`` and what the verifier and ground
control read. Times are seconds from the plan start; energies in Wh; distances in metres.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from planner._frozen import reduce_frozen
from planner.fleet_state import VehicleStart
from planner.items import MissionItem


@dataclass(frozen=True, slots=True, kw_only=True)
class SortieMetrics:
    """Predicted figures of one sortie.

    ``energy_wh`` is the energy drawn from take-off to landing; ``reserve_pct`` the battery left on
    landing as a percentage of capacity; ``min_agl_m``/``max_agl_m`` the lowest and highest
    height above ground along the cruise legs (descents at drops excluded); ``payload_kg`` the
    most payload on board at any time (at take-off, or after a pickup); ``drop_etas_s`` the
    release time of each drop (the grab time at a pickup), seconds from plan start.
    """

    distance_m: float
    duration_s: float
    energy_wh: float
    energy_pct: float
    reserve_pct: float
    min_agl_m: float
    max_agl_m: float
    payload_kg: float
    drop_etas_s: Mapping[str, float] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return reduce_frozen(self)

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop_etas_s", MappingProxyType(dict(self.drop_etas_s)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Sortie:
    """One flight: depot -> drops -> depot, flown by one drone.

    ``drop_ids`` lists every stop in flying order; ``pickup_ids`` those of them that are pickups
    (a parcel grabbed there and brought to the depot), the others are deliveries. ``vehicle``
    names the drone (``"<depot>/<type>/<n>"``, n from 1); ``mission`` holds the
    mission items with item 0 the home position (frame GLOBAL, AMSL); ``fence`` the geofence
    items (inclusion corridor first, then exclusion zones) and ``rally`` the rally points.
    """

    id: str
    depot_id: str
    drone_type_id: str
    vehicle: str
    drop_ids: tuple[str, ...]
    start_s: float
    mission: tuple[MissionItem, ...]
    fence: tuple[MissionItem, ...]
    rally: tuple[MissionItem, ...]
    metrics: SortieMetrics
    pickup_ids: tuple[str, ...] = ()

    def is_pickup(self, drop_id: str) -> bool:
        """Whether the stop at ``drop_id`` collects a parcel rather than delivering one."""
        return drop_id in self.pickup_ids


@dataclass(frozen=True, slots=True, kw_only=True)
class Unserved:
    """A drop no sortie serves, and why (``reason`` is a sentence a user can act on)."""

    drop_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """All sorties of a scenario and the drops left unserved.

    ``vehicle_starts`` holds when vehicles were ready and with what battery, for a plan made
    from the fleet's state (a re-plan); a vehicle not listed starts at 0 on a full battery.
    """

    scenario: str
    altitude_frame: str
    sorties: tuple[Sortie, ...]
    unserved: tuple[Unserved, ...]
    seed: int = 0
    vehicle_starts: tuple[VehicleStart, ...] = ()

    @property
    def served_drop_ids(self) -> tuple[str, ...]:
        """Drop ids in the order their sorties serve them."""
        return tuple(d for s in self.sorties for d in s.drop_ids)
