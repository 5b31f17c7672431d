"""The mission item model shared by the compiler, the exports, the verifier and ground control.

A :class:`MissionItem` mirrors MAVLink's MISSION_ITEM_INT with degrees instead of 1e7 integers:
``command`` and ``frame`` are MAVLink enum values, ``param1..4`` the command parameters, and
``lat_deg``/``lon_deg``/``alt_m`` the position in the item's frame. Only the numbers the project
uses are named here, so that ``planner`` never imports pymavlink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class Frame(IntEnum):
    """MAV_FRAME values used in missions."""

    GLOBAL = 0  # altitude AMSL
    MISSION = 2
    GLOBAL_RELATIVE_ALT = 3  # altitude above home
    GLOBAL_INT = 5
    GLOBAL_RELATIVE_ALT_INT = 6
    GLOBAL_TERRAIN_ALT = 10  # altitude above terrain
    GLOBAL_TERRAIN_ALT_INT = 11


class Cmd(IntEnum):
    """MAV_CMD values used in missions, fences and rally lists."""

    NAV_WAYPOINT = 16
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    NAV_DELAY = 93
    NAV_PAYLOAD_PLACE = 94
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_GRIPPER = 211
    DO_WINCH = 42600
    NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
    NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
    NAV_FENCE_CIRCLE_INCLUSION = 5003
    NAV_FENCE_CIRCLE_EXCLUSION = 5004
    NAV_RALLY_POINT = 5100


class MissionType(IntEnum):
    """MAV_MISSION_TYPE values."""

    MISSION = 0
    FENCE = 1
    RALLY = 2


#: Commands after which the vehicle is at the item's position (they move it).
NAV_COMMANDS: frozenset[int] = frozenset({
    Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME, Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_LAND,
    Cmd.NAV_TAKEOFF, Cmd.NAV_DELAY, Cmd.NAV_PAYLOAD_PLACE,
})

#: Commands that release a parcel (a DO_GRIPPER only with param2 = 0, release: see
#: :func:`is_release`; with param2 = 1 it grabs one, see :func:`is_grab`).
RELEASE_COMMANDS: frozenset[int] = frozenset({Cmd.DO_GRIPPER, Cmd.DO_WINCH, Cmd.NAV_PAYLOAD_PLACE})

#: DO_GRIPPER param2: GRIPPER_ACTIONS.
GRIPPER_RELEASE = 0
GRIPPER_GRAB = 1

#: Frames whose altitude is relative to home, to terrain, or absolute.
RELATIVE_FRAMES: frozenset[int] = frozenset({Frame.GLOBAL_RELATIVE_ALT,
                                             Frame.GLOBAL_RELATIVE_ALT_INT})
TERRAIN_FRAMES: frozenset[int] = frozenset({Frame.GLOBAL_TERRAIN_ALT,
                                            Frame.GLOBAL_TERRAIN_ALT_INT})
AMSL_FRAMES: frozenset[int] = frozenset({Frame.GLOBAL, Frame.GLOBAL_INT})


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionItem:
    """One mission, fence or rally item, as MISSION_ITEM_INT carries it but in degrees.

    ``alt_m`` is in the item's ``frame``: above home for GLOBAL_RELATIVE_ALT, above terrain for
    GLOBAL_TERRAIN_ALT, above mean sea level for GLOBAL. Item 0 of a mission is home (AMSL).
    """

    command: int
    frame: int = Frame.GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    autocontinue: bool = True
    mission_type: int = MissionType.MISSION

    def __post_init__(self) -> None:
        for name in ("param1", "param2", "param3", "param4", "lat_deg", "lon_deg", "alt_m"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"Expected {name} to be a number, got {value!r}")
            if name in ("lat_deg", "lon_deg", "alt_m") and not math.isfinite(value):
                raise ValueError(f"Expected {name} to be finite, got {value!r}")
        if not -90 <= self.lat_deg <= 90 or not -180 <= self.lon_deg <= 180:
            raise ValueError(
                f"Expected lat_deg in [-90, 90] and lon_deg in [-180, 180], got "
                f"{self.lat_deg}, {self.lon_deg}")

    @property
    def is_nav(self) -> bool:
        """True for commands that move the vehicle to (or hold it at) a position."""
        return self.command in NAV_COMMANDS

    @property
    def params(self) -> tuple[float, float, float, float]:
        """The four command parameters."""
        return (self.param1, self.param2, self.param3, self.param4)


def is_grab(item: MissionItem) -> bool:
    """Whether ``item`` grabs a parcel (DO_GRIPPER with param2 = 1, a pickup).

    Examples
    --------
    >>> is_grab(MissionItem(command=Cmd.DO_GRIPPER, frame=Frame.MISSION, param1=1, param2=1))
    True
    >>> is_grab(MissionItem(command=Cmd.DO_GRIPPER, frame=Frame.MISSION, param1=1, param2=0))
    False
    """
    return item.command == Cmd.DO_GRIPPER and item.param2 == GRIPPER_GRAB


def is_release(item: MissionItem) -> bool:
    """Whether ``item`` lets a parcel go: a release command that is not a gripper grab.

    Examples
    --------
    >>> is_release(MissionItem(command=Cmd.DO_WINCH, frame=Frame.MISSION, param2=1))
    True
    >>> is_release(MissionItem(command=Cmd.DO_GRIPPER, frame=Frame.MISSION, param1=1, param2=1))
    False
    """
    return item.command in RELEASE_COMMANDS and not is_grab(item)


def is_stop(item: MissionItem) -> bool:
    """Whether ``item`` hands a parcel over at a stop of the sortie: a release or a grab."""
    return item.command in RELEASE_COMMANDS
