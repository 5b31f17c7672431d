"""Shared pieces of the plan verifier: the violation record, tolerances and geodesic sampling.

The verifier measures distances on the WGS84 ellipsoid (:data:`planner.geo.WGS84_GEOD`),
independent of the planner's local projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.geo import WGS84_GEOD
from planner.items import Cmd
from planner.plan_model import Sortie
from planner.terrain import FloatArray

#: Every value :attr:`Violation.kind` takes.
VIOLATION_KINDS: tuple[str, ...] = (
    "nofly", "agl_low", "agl_high", "energy", "payload", "parcels", "drop_missing",
    "drop_duplicate", "drop_unknown", "structure", "fence", "rally", "coverage",
)

#: Height tolerance of the altitude band checks, in metres.
AGL_TOL_M = 0.5
#: Largest horizontal distance of home from its depot, and of the position before RTL from home.
HOME_TOL_M = 5.0
#: Largest difference between the home altitude (item 0) and the DEM ground at the depot.
HOME_ALT_TOL_M = 2.0
#: Largest horizontal distance of a release from its drop.
DROP_TOL_M = 2.0
#: Moves shorter than this horizontally are vertical moves.
VERTICAL_MAX_M = 1.0
#: Relative tolerance of the energy budget.
ENERGY_REL_TOL = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One reason a plan must not be flown.

    ``sortie_id`` is None for plan-level problems (drop accounting). ``item_index`` indexes
    ``sortie.mission``, or ``sortie.fence`` / ``sortie.rally`` for the ``fence`` / ``rally`` kinds
    when the problem lies in those lists (a mission position outside the fence is indexed in the
    mission); None when no single item is at fault. ``kind`` is one of :data:`VIOLATION_KINDS`;
    ``message`` is a sentence naming the item, where (lat/lon), the value and the limit.
    """

    sortie_id: str | None
    item_index: int | None
    kind: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in VIOLATION_KINDS:
            raise ValueError(f"Expected kind one of {', '.join(VIOLATION_KINDS)}, "
                             f"got {self.kind!r}")


def cmd_name(command: int) -> str:
    """The MAV_CMD name of a command number, or the number when the project does not name it."""
    try:
        return Cmd(command).name
    except ValueError:
        return f"command {command}"


def label(sortie: Sortie, index: int | None, *, part: str = "mission") -> str:
    """How a message names its place: ``sortie s1 item 4 (NAV_WAYPOINT)``, ``sortie s1 fence
    item 0``, or ``sortie s1`` when no item is at fault."""
    if index is None:
        return f"sortie {sortie.id}"
    if part == "mission":
        return f"sortie {sortie.id} item {index} ({cmd_name(sortie.mission[index].command)})"
    return f"sortie {sortie.id} {part} item {index}"


def violation(sortie: Sortie, index: int | None, kind: str, text: str, *,
              part: str = "mission") -> Violation:
    """A violation of ``sortie`` at ``index`` of its ``part`` (mission, fence or rally)."""
    return Violation(sortie_id=sortie.id, item_index=index, kind=kind,
                     message=f"{label(sortie, index, part=part)}: {text}")


def where(lat_deg: float, lon_deg: float) -> str:
    """A position as ``(lat 44.300000, lon -71.600000)``."""
    return f"(lat {lat_deg:.6f}, lon {lon_deg:.6f})"


def sample_geodesic(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float,
                    step_m: float) -> tuple[FloatArray, FloatArray]:
    """Points along the geodesic from point 1 to point 2, both ends included, at most
    ``step_m`` apart, as ``(lon_deg, lat_deg)`` arrays (the order the DEM and projections take)."""
    az, _, dist = WGS84_GEOD.inv(lon1_deg, lat1_deg, lon2_deg, lat2_deg)
    n = max(1, int(np.ceil(dist / step_m)))
    d = np.linspace(0.0, float(dist), n + 1)
    lon, lat, _ = WGS84_GEOD.fwd(np.full(n + 1, lon1_deg), np.full(n + 1, lat1_deg),
                                 np.full(n + 1, az), d)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    lon[0], lat[0], lon[-1], lat[-1] = lon1_deg, lat1_deg, lon2_deg, lat2_deg
    return lon, lat
