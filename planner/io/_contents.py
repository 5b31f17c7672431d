"""What a ground-station plan file holds once converted to mission items."""

from __future__ import annotations

from dataclasses import dataclass

from planner.items import MissionItem


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFileContents:
    """The three item lists of a plan file.

    ``mission`` starts with the home item (NAV_WAYPOINT, frame GLOBAL, altitude AMSL); ``fence``
    holds MAV_MISSION_TYPE_FENCE items (polygon vertices with param1 = vertex count, circles
    with param1 = radius in metres) and ``rally`` MAV_MISSION_TYPE_RALLY points.
    """

    mission: tuple[MissionItem, ...]
    fence: tuple[MissionItem, ...] = ()
    rally: tuple[MissionItem, ...] = ()
