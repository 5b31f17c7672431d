"""Replay a mission item by item into the moves, hovers and releases ArduCopter would fly.

A DO_GRIPPER grab (param2 = 1) is a pickup: it is replayed like a release, marked as a grab.

The replay follows ArduCopter's AUTO semantics: NAV_TAKEOFF climbs where the vehicle stands,
NAV_WAYPOINT flies a straight 3D line (linear in height above ground when the destination is in a
terrain frame, linear in AMSL otherwise), NAV_LAND flies to its position at the current altitude
and descends to the ground, NAV_RETURN_TO_LAUNCH flies to home at the current altitude and lands.
Items the layout does not allow are reported as ``structure`` violations while replaying.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.geo import geodesic_distance_m
from planner.items import (
    AMSL_FRAMES,
    GRIPPER_RELEASE,
    RELATIVE_FRAMES,
    TERRAIN_FRAMES,
    Cmd,
    MissionItem,
    MissionType,
    is_grab,
)
from planner.plan_model import Sortie
from planner.scenario import Depot, DroneType
from planner.terrain import Dem
from planner.verify._base import (
    HOME_ALT_TOL_M,
    HOME_TOL_M,
    VERTICAL_MAX_M,
    Violation,
    cmd_name,
    violation,
    where,
)

#: Frames a positioned mission item may use.
POSITION_FRAMES: frozenset[int] = RELATIVE_FRAMES | TERRAIN_FRAMES | AMSL_FRAMES
#: Commands the verifier can replay in a mission.
MISSION_COMMANDS: frozenset[int] = frozenset({
    Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME, Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_LAND,
    Cmd.NAV_TAKEOFF, Cmd.NAV_DELAY, Cmd.DO_GRIPPER, Cmd.DO_WINCH,
})
_POSITIONED: frozenset[int] = frozenset({Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME, Cmd.NAV_LAND,
                                         Cmd.NAV_TAKEOFF})
_METHOD_COMMAND = {"gripper": Cmd.DO_GRIPPER, "winch": Cmd.DO_WINCH, "land": Cmd.DO_GRIPPER}


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """A straight move caused by mission item ``item_index``, altitudes in metres AMSL.

    ``terrain_follow`` means the height above ground varies linearly along the move (instead of
    the AMSL altitude); ``phase`` is ``cruise``, ``takeoff``, ``land`` or ``rtl``.
    """

    item_index: int
    lon0_deg: float
    lat0_deg: float
    lon1_deg: float
    lat1_deg: float
    amsl0_m: float
    amsl1_m: float
    terrain_follow: bool
    horizontal_m: float
    phase: str

    @property
    def vertical(self) -> bool:
        """True when the move is (almost) straight up or down."""
        return self.horizontal_m < VERTICAL_MAX_M


@dataclass(frozen=True, slots=True, kw_only=True)
class Hover:
    """Holding position for ``duration_s`` (NAV_DELAY, NAV_LOITER_TIME, waypoint hold)."""

    item_index: int
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """A parcel release by item ``item_index`` where the vehicle is at that moment.

    With ``grab`` the item grabs a parcel instead (DO_GRIPPER grab, at a pickup).
    """

    item_index: int
    command: int
    lon_deg: float
    lat_deg: float
    amsl_m: float
    airborne: bool
    winch_length_m: float
    grab: bool = False


Event = Move | Hover | Release


@dataclass(frozen=True, slots=True, kw_only=True)
class Track:
    """The replayed flight of one sortie, home in metres AMSL."""

    home_lon_deg: float
    home_lat_deg: float
    home_amsl_m: float
    events: tuple[Event, ...]
    violations: tuple[Violation, ...]

    @property
    def moves(self) -> tuple[Move, ...]:
        """The moves, in flight order."""
        return tuple(e for e in self.events if isinstance(e, Move))

    @property
    def stops(self) -> tuple[Release, ...]:
        """The releases and grabs (one per stop of ``drop_ids``), in flight order."""
        return tuple(e for e in self.events if isinstance(e, Release))

    @property
    def releases(self) -> tuple[Release, ...]:
        """The releases (grabs left out), in flight order."""
        return tuple(e for e in self.stops if not e.grab)


class _Replay:
    """State of the vehicle while the mission is replayed."""

    def __init__(self, sortie: Sortie, depot: Depot, drone: DroneType, dem: Dem) -> None:
        self.sortie = sortie
        self.depot = depot
        self.drone = drone
        self.dem = dem
        self.events: list[Event] = []
        self.violations: list[Violation] = []
        self.airborne = False
        self.ended = False
        self.home = (depot.lon_deg, depot.lat_deg, math.nan)
        self.lon, self.lat, self.amsl = self.home

    def bad(self, index: int | None, message: str, kind: str = "structure") -> None:
        self.violations.append(violation(self.sortie, index, kind, message))

    def ground(self, lon: float, lat: float) -> float:
        return float(self.dem.elevation_amsl_m(lon, lat)[()])

    def target_amsl(self, item: MissionItem, lon: float, lat: float) -> float:
        if item.frame in RELATIVE_FRAMES:
            return self.home[2] + item.alt_m
        if item.frame in TERRAIN_FRAMES:
            return self.ground(lon, lat) + item.alt_m
        return item.alt_m

    def target_lonlat(self, item: MissionItem) -> tuple[float, float]:
        """ArduCopter reads lat = lon = 0 as 'where the vehicle is'."""
        if item.lat_deg == 0.0 and item.lon_deg == 0.0:
            return self.lon, self.lat
        return item.lon_deg, item.lat_deg

    def move(self, index: int, lon: float, lat: float, amsl: float, *, terrain: bool,
             phase: str) -> None:
        self.events.append(Move(
            item_index=index, lon0_deg=self.lon, lat0_deg=self.lat, lon1_deg=lon, lat1_deg=lat,
            amsl0_m=self.amsl, amsl1_m=amsl, terrain_follow=terrain,
            horizontal_m=geodesic_distance_m(self.lat, self.lon, lat, lon), phase=phase))
        self.lon, self.lat, self.amsl = lon, lat, amsl

    def start(self, item: MissionItem) -> None:
        if item.command != Cmd.NAV_WAYPOINT or item.frame not in AMSL_FRAMES:
            self.bad(0, f"home is {cmd_name(item.command)} in frame {item.frame}; expected "
                        f"NAV_WAYPOINT in frame GLOBAL (0) with the ground altitude AMSL")
        self.home = (item.lon_deg, item.lat_deg, item.alt_m)
        self.lon, self.lat, self.amsl = self.home
        d = geodesic_distance_m(item.lat_deg, item.lon_deg, self.depot.lat_deg, self.depot.lon_deg)
        if d > HOME_TOL_M:
            self.bad(0, f"home {where(item.lat_deg, item.lon_deg)} is {d:.1f} m from depot "
                        f"{self.depot.id} {where(self.depot.lat_deg, self.depot.lon_deg)}; "
                        f"expected within {HOME_TOL_M:.0f} m")
        g = self.ground(self.depot.lon_deg, self.depot.lat_deg)
        if math.isnan(g):
            self.bad(0, f"depot {self.depot.id} {where(self.depot.lat_deg, self.depot.lon_deg)} "
                        f"is outside the elevation model", kind="coverage")
        elif abs(item.alt_m - g) > HOME_ALT_TOL_M:
            self.bad(0, f"home altitude {item.alt_m:.2f} m AMSL differs from the ground "
                        f"{g:.2f} m AMSL at depot {self.depot.id} by more than "
                        f"{HOME_ALT_TOL_M:.0f} m; relative altitudes would be wrong")

    def step(self, index: int, item: MissionItem) -> None:
        name = cmd_name(item.command)
        if self.ended:
            self.bad(index, f"{name} comes after NAV_RETURN_TO_LAUNCH and is never flown")
            return
        if item.mission_type != MissionType.MISSION:
            self.bad(index, f"{name} has mission_type {item.mission_type}; expected 0 (mission)")
        if item.command not in MISSION_COMMANDS:
            allowed = ", ".join(sorted(cmd_name(c) for c in MISSION_COMMANDS))
            self.bad(index, f"{name} cannot be checked; expected one of {allowed}")
            return
        if index == 1 and item.command != Cmd.NAV_TAKEOFF:
            self.bad(index, f"item 1 is {name}; expected NAV_TAKEOFF")
            self.airborne = True  # reported once; replay the rest as if it had taken off
        if item.command in _POSITIONED and item.frame not in POSITION_FRAMES:
            self.bad(index, f"{name} uses frame {item.frame}; expected one of "
                            f"{sorted(int(f) for f in POSITION_FRAMES)}")
            return
        handler = {Cmd.NAV_TAKEOFF: self.takeoff, Cmd.NAV_WAYPOINT: self.waypoint,
                   Cmd.NAV_LOITER_TIME: self.waypoint, Cmd.NAV_LAND: self.land,
                   Cmd.NAV_DELAY: self.delay, Cmd.DO_GRIPPER: self.release,
                   Cmd.DO_WINCH: self.release, Cmd.NAV_RETURN_TO_LAUNCH: self.rtl}
        handler[Cmd(item.command)](index, item)

    def takeoff(self, index: int, item: MissionItem) -> None:
        if self.airborne:
            self.bad(index, "NAV_TAKEOFF while airborne; expected it only at item 1 or after "
                            "NAV_LAND")
        if not (item.lat_deg == 0.0 and item.lon_deg == 0.0):
            d = geodesic_distance_m(item.lat_deg, item.lon_deg, self.lat, self.lon)
            if d > HOME_TOL_M:
                self.bad(index, f"NAV_TAKEOFF at {where(item.lat_deg, item.lon_deg)} is {d:.1f} m "
                                f"from where the vehicle stands {where(self.lat, self.lon)}; it "
                                f"climbs where it is")
        amsl = self.target_amsl(item, self.lon, self.lat)
        self.move(index, self.lon, self.lat, amsl, terrain=item.frame in TERRAIN_FRAMES,
                  phase="takeoff")
        self.airborne = True

    def waypoint(self, index: int, item: MissionItem) -> None:
        name = cmd_name(item.command)
        if not self.airborne:
            self.bad(index, f"{name} while on the ground; expected NAV_TAKEOFF first")
            self.airborne = True
        lon, lat = self.target_lonlat(item)
        amsl = self.target_amsl(item, lon, lat)
        self.move(index, lon, lat, amsl, terrain=item.frame in TERRAIN_FRAMES, phase="cruise")
        if not (math.isfinite(item.param1) and item.param1 >= 0):
            self.bad(index, f"{name} hold time param1 = {item.param1}; expected >= 0 s")
        elif item.param1 > 0:
            self.events.append(Hover(item_index=index, duration_s=item.param1))

    def land(self, index: int, item: MissionItem) -> None:
        if not self.airborne:
            self.bad(index, "NAV_LAND while on the ground; expected NAV_TAKEOFF first")
        lon, lat = self.target_lonlat(item)
        if geodesic_distance_m(self.lat, self.lon, lat, lon) >= VERTICAL_MAX_M:
            self.move(index, lon, lat, self.amsl, terrain=False, phase="cruise")
        self.move(index, lon, lat, self.ground(lon, lat), terrain=False, phase="land")
        self.airborne = False

    def delay(self, index: int, item: MissionItem) -> None:
        if not (math.isfinite(item.param1) and item.param1 >= 0):
            self.bad(index, f"NAV_DELAY param1 = {item.param1}; expected a delay >= 0 s (a "
                            f"time-of-day delay cannot be checked)")
            return
        self.events.append(Hover(item_index=index, duration_s=item.param1))

    def release(self, index: int, item: MissionItem) -> None:
        name = cmd_name(item.command)
        grab = is_grab(item)
        if item.command == Cmd.DO_GRIPPER and not grab and item.param2 != GRIPPER_RELEASE:
            self.bad(index, f"DO_GRIPPER action {item.param2} (param2); expected 0 (release) or "
                            f"1 (grab, at a pickup)")
            return
        if item.command == Cmd.DO_WINCH and not (
                item.param2 == 1 and item.param3 > 0 and item.param4 > 0):
            self.bad(index, f"DO_WINCH params {item.params}; expected param2 = 1 (relative "
                            f"length control), param3 = length > 0 m, param4 = rate > 0 m/s")
        method = self.drone.drop_method
        wanted = Cmd.DO_GRIPPER if grab else _METHOD_COMMAND[method]
        state = "airborne" if self.airborne else "on the ground"
        if item.command != wanted or self.airborne == (method == "land"):
            expected = ("DO_GRIPPER on the ground after NAV_LAND" if method == "land"
                        else f"{cmd_name(wanted)} while airborne")
            self.bad(index, f"{name} {state} at {where(self.lat, self.lon)}, but drone type "
                            f"{self.drone.id} drops by {method}; expected {expected}")
        self.events.append(Release(item_index=index, command=item.command, lon_deg=self.lon,
                                   lat_deg=self.lat, amsl_m=self.amsl, airborne=self.airborne,
                                   winch_length_m=0.0 if grab else item.param3, grab=grab))

    def rtl(self, index: int, item: MissionItem) -> None:
        if not self.airborne:
            self.bad(index, "NAV_RETURN_TO_LAUNCH while on the ground; expected NAV_TAKEOFF "
                            "first")
        hlon, hlat, hamsl = self.home
        d = geodesic_distance_m(self.lat, self.lon, hlat, hlon)
        if d > HOME_TOL_M:
            self.bad(index, f"the position before NAV_RETURN_TO_LAUNCH {where(self.lat, self.lon)}"
                            f" is {d:.1f} m from home {where(hlat, hlon)}; expected within "
                            f"{HOME_TOL_M:.0f} m (RTL flies a straight line nobody checked)")
        if d >= VERTICAL_MAX_M:
            self.move(index, hlon, hlat, self.amsl, terrain=False, phase="rtl")
        self.move(index, hlon, hlat, hamsl, terrain=False, phase="rtl")
        self.airborne = False
        self.ended = True


def replay(sortie: Sortie, depot: Depot, drone: DroneType, dem: Dem) -> Track:
    """Replay ``sortie.mission`` into a :class:`Track`, collecting structure violations."""
    r = _Replay(sortie, depot, drone, dem)
    mission = sortie.mission
    if not mission:
        r.bad(None, "the mission is empty; expected home, NAV_TAKEOFF, waypoints, releases and "
                    "NAV_RETURN_TO_LAUNCH")
    else:
        r.start(mission[0])
        if len(mission) == 1:
            r.bad(0, "the mission holds only home; expected NAV_TAKEOFF, waypoints, releases "
                     "and NAV_RETURN_TO_LAUNCH")
        for index in range(1, len(mission)):
            r.step(index, mission[index])
        if len(mission) > 1 and not r.ended:
            r.bad(len(mission) - 1, f"the last item is {cmd_name(mission[-1].command)}; "
                                    f"expected NAV_RETURN_TO_LAUNCH")
    return Track(home_lon_deg=r.home[0], home_lat_deg=r.home[1], home_amsl_m=r.home[2],
                 events=tuple(r.events), violations=tuple(r.violations))
