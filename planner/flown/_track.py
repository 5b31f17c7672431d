"""The planned track of a mission as a 3D polyline, for comparing a flight with its plan.

Each mission item that moves the vehicle adds vertices where ArduCopter's AUTO mode would take
it: NAV_TAKEOFF climbs where the vehicle stands, NAV_WAYPOINT / NAV_LOITER_TIME fly a straight
line, NAV_LAND and NAV_PAYLOAD_PLACE fly there at the current altitude and descend, and
NAV_RETURN_TO_LAUNCH flies home at the current altitude and lands. ``lat = lon = 0`` means "where
the vehicle is". Altitudes are metres AMSL: home (item 0) plus the item's altitude for relative
frames, the DEM ground plus it for terrain frames (NaN without a DEM), the altitude itself for
absolute frames.

Drops. A *drop point* is the NAV item at which a parcel is let go: a NAV_WAYPOINT or
NAV_LOITER_TIME followed (before the next move) by a release command (DO_GRIPPER release,
DO_WINCH, or a DO_SET_SERVO / DO_SET_RELAY wired to a release), a NAV_LAND followed by one, or a
NAV_PAYLOAD_PLACE. The *drop phase* of a drop is what the vehicle flies there: every item flown
entirely at the drop point (the descent, the hover, the release, the climb back, each a vertical
move), and the part within :data:`DROP_RADIUS_M` horizontally of the drop point of a leg sloping
into it (the leg ends at the drop point item itself, or at the drop point no higher than the
drop, so the vehicle descends along it) or out of it (the leg starts at the drop point no higher
than the drop, so the vehicle climbs along it). The rest of such a leg is cruise. A drop's
planned height is the altitude of its drop point item above the DEM (above home without one);
zero for a landing or payload place with a DEM, unknown without one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.geo import FloatArray, LocalProjection
from planner.items import RELATIVE_FRAMES, TERRAIN_FRAMES, Cmd, MissionItem
from planner.terrain import Dem

#: Moves shorter than this horizontally are vertical (take-off, descents at drops, landings).
VERTICAL_MAX_M = 5.0
#: Horizontal distance from a drop point within which a leg sloping into or out of it is drop
#: phase, not cruise (see the module docstring).
DROP_RADIUS_M = 100.0
#: A leg ending or starting at most this far above the drop height (metres) descends into or
#: climbs out of the drop.
_AT_DROP_HEIGHT_M = 1.0
_HORIZONTAL = frozenset({Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME})
_LANDING = frozenset({Cmd.NAV_LAND, Cmd.NAV_PAYLOAD_PLACE})
_DO_SET_RELAY = 181
_DO_SET_SERVO = 183
_GRIPPER_GRAB = 1
#: DO commands that let a parcel go when they follow a drop point.
_RELEASE_DO = frozenset({Cmd.DO_GRIPPER, Cmd.DO_WINCH, _DO_SET_RELAY, _DO_SET_SERVO})
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class DropPoint:
    """One drop point of a mission and the items that make up its drop phase.

    ``seq`` is the NAV item at the drop (waypoint, loiter, landing or payload place) and
    ``release_seqs`` the items that let the parcel go there (``seq`` itself for a payload
    place); ``x_m``/``y_m`` its position in the track's projection. ``planned_agl_m`` is the
    planned drop height (metres above the DEM, above home without one; None when unknown).
    ``at_seqs`` are the items flown entirely at the drop; ``edge_seqs`` the legs sloping into
    or out of it, drop phase within the track's ``drop_radius_m`` of it.
    """

    seq: int
    release_seqs: tuple[int, ...]
    lon_deg: float
    lat_deg: float
    x_m: float
    y_m: float
    planned_agl_m: float | None
    at_seqs: frozenset[int]
    edge_seqs: frozenset[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedTrack:
    """The planned track: vertices in flight order, in WGS84 and local metres.

    ``seq[k]`` is the mission item whose move ends at vertex ``k`` (0 for home); ``terrain[k]``
    says that the move ending there keeps a linear height above ground (terrain frame).
    ``cruise_seqs`` are the items whose move is a horizontal cruise leg (not a take-off, landing
    or descent at a drop); the part of such a leg within ``drop_radius_m`` of a drop it slopes
    into or out of is drop phase (``drops``), not cruise.
    """

    projection: LocalProjection
    lon_deg: FloatArray
    lat_deg: FloatArray
    alt_amsl_m: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    seq: tuple[int, ...]
    terrain: tuple[bool, ...]
    cruise_seqs: frozenset[int]
    home_amsl_m: float
    drops: tuple[DropPoint, ...] = ()
    drop_radius_m: float = DROP_RADIUS_M

    def near_drop_edge(self, seqs: IntArray, x_m: FloatArray, y_m: FloatArray) -> BoolArray:
        """Which points, flying item ``seqs``, are on a leg into or out of a drop and within
        ``drop_radius_m`` of it (drop phase rather than cruise)."""
        out = np.zeros(np.shape(x_m), dtype=bool)
        for drop in self.drops:
            on_edge = np.isin(seqs, list(drop.edge_seqs))
            close = np.hypot(x_m - drop.x_m, y_m - drop.y_m) <= self.drop_radius_m
            out |= on_edge & close
        return out

    def in_drop_phase(self, drop: DropPoint, seqs: IntArray, x_m: FloatArray,
                      y_m: FloatArray) -> BoolArray:
        """Which points, flying item ``seqs``, are in the drop phase of ``drop``."""
        close = np.hypot(x_m - drop.x_m, y_m - drop.y_m) <= self.drop_radius_m
        return np.isin(seqs, list(drop.at_seqs)) | (np.isin(seqs, list(drop.edge_seqs)) & close)


def _ground(dem: Dem | None, lon: float, lat: float) -> float:
    if dem is None:
        return math.nan
    return float(dem.elevation_amsl_m(lon, lat)[()])


def planned_track(mission: Sequence[MissionItem], dem: Dem | None, *,
                  drop_radius_m: float = DROP_RADIUS_M) -> PlannedTrack:
    """The 3D polyline a mission flies (see the module docstring).

    Parameters
    ----------
    mission
        Mission items, item 0 being home (frame GLOBAL, altitude AMSL).
    dem
        Elevation model for terrain-frame altitudes and landings; None leaves those NaN and
        puts landings at the home altitude.
    drop_radius_m
        How far from a drop point a leg sloping into or out of it is drop phase.

    Returns
    -------
    PlannedTrack
        At least one vertex (home).
    """
    home = mission[0]
    home_amsl = home.alt_m
    lon, lat, amsl = home.lon_deg, home.lat_deg, home_amsl
    verts: list[tuple[float, float, float, int, bool]] = [(lon, lat, amsl, 0, False)]
    cruise: set[int] = set()

    def ground(x_lon: float, x_lat: float) -> float:
        g = _ground(dem, x_lon, x_lat)
        return home_amsl if math.isnan(g) else g

    for seq in range(1, len(mission)):
        item = mission[seq]
        if item.command not in (_HORIZONTAL | _LANDING | {Cmd.NAV_TAKEOFF,
                                                          Cmd.NAV_RETURN_TO_LAUNCH}):
            continue
        here = item.lat_deg == 0.0 and item.lon_deg == 0.0
        tlon, tlat = (lon, lat) if here else (item.lon_deg, item.lat_deg)
        terrain = item.frame in TERRAIN_FRAMES
        if item.frame in RELATIVE_FRAMES:
            talt = home_amsl + item.alt_m
        elif terrain:
            talt = _ground(dem, tlon, tlat) + item.alt_m
        else:
            talt = item.alt_m
        if item.command == Cmd.NAV_TAKEOFF:
            verts.append((lon, lat, talt, seq, terrain))
        elif item.command in _HORIZONTAL:
            verts.append((tlon, tlat, talt, seq, terrain))
            cruise.add(seq)
        elif item.command in _LANDING:
            verts.append((tlon, tlat, amsl, seq, False))
            verts.append((tlon, tlat, ground(tlon, tlat), seq, False))
            # payload place climbs back to where it started its descent; a landing stays down
            talt = amsl if item.command == Cmd.NAV_PAYLOAD_PLACE else verts[-1][2]
            if item.command == Cmd.NAV_PAYLOAD_PLACE:
                verts.append((tlon, tlat, talt, seq, False))
        else:  # return to launch
            verts.append((home.lon_deg, home.lat_deg, amsl, seq, False))
            tlon, tlat, talt = home.lon_deg, home.lat_deg, home_amsl
            verts.append((tlon, tlat, talt, seq, False))
        lon, lat, amsl = tlon, tlat, talt
    lons = np.array([v[0] for v in verts])
    lats = np.array([v[1] for v in verts])
    projection = LocalProjection(lat0_deg=home.lat_deg, lon0_deg=home.lon_deg)
    x, y = projection.to_xy(lons, lats)
    seqs = tuple(v[3] for v in verts)
    # a waypoint straight above or below the previous vertex is a descent or climb, not cruise
    for k in range(1, len(verts)):
        if seqs[k] in cruise and math.hypot(x[k] - x[k - 1], y[k] - y[k - 1]) < VERTICAL_MAX_M:
            cruise.discard(seqs[k])
    track = PlannedTrack(projection=projection, lon_deg=lons, lat_deg=lats,
                         alt_amsl_m=np.array([v[2] for v in verts]), x_m=x, y_m=y, seq=seqs,
                         terrain=tuple(v[4] for v in verts), cruise_seqs=frozenset(cruise),
                         home_amsl_m=home_amsl, drop_radius_m=drop_radius_m)
    drops = tuple(d for seq, releases in _drop_items(mission)
                  if (d := _drop_point(track, mission, seq, releases, dem)) is not None)
    return dataclasses.replace(track, drops=drops)


def _releases(item: MissionItem) -> bool:
    """Whether a DO item lets a parcel go (a gripper grab does not)."""
    if item.command not in _RELEASE_DO:
        return False
    return not (item.command == Cmd.DO_GRIPPER and item.param2 == _GRIPPER_GRAB)


def _drop_items(mission: Sequence[MissionItem]) -> list[tuple[int, tuple[int, ...]]]:
    """(drop point item, release items) of every drop, in mission order."""
    out: dict[int, list[int]] = {}
    last: int | None = None  # the NAV item a release now would happen at
    for seq in range(1, len(mission)):
        item = mission[seq]
        if item.command == Cmd.NAV_PAYLOAD_PLACE:
            out.setdefault(seq, []).append(seq)
            last = seq
        elif item.command in _HORIZONTAL or item.command == Cmd.NAV_LAND:
            last = seq
        elif item.command in (Cmd.NAV_TAKEOFF, Cmd.NAV_RETURN_TO_LAUNCH):
            last = None
        elif last is not None and _releases(item):
            out.setdefault(last, []).append(seq)
    return [(seq, tuple(releases)) for seq, releases in sorted(out.items())]


def _drop_point(track: PlannedTrack, mission: Sequence[MissionItem], seq: int,
                releases: tuple[int, ...], dem: Dem | None) -> DropPoint | None:
    """The drop at item ``seq``: its vertices at the drop point, planned height and phase."""
    mine = [k for k, s in enumerate(track.seq) if s == seq]
    if not mine:
        return None
    kd = mine[-1]
    dx, dy = float(track.x_m[kd]), float(track.y_m[kd])

    def at_drop(k: int) -> bool:
        return bool(math.hypot(track.x_m[k] - dx, track.y_m[k] - dy) < VERTICAL_MAX_M)

    k0, k1 = kd, kd
    while k0 - 1 >= 1 and at_drop(k0 - 1):
        k0 -= 1
    while k1 + 1 < len(track.seq) and at_drop(k1 + 1):
        k1 += 1
    drop_amsl = float(min(track.alt_amsl_m[k] for k in mine))
    after = track.seq[k1 + 1] if k1 + 1 < len(track.seq) else len(mission)
    at_seqs = set(range(track.seq[k0] + 1, after))
    edge_seqs: set[int] = set()
    low = drop_amsl + _AT_DROP_HEIGHT_M
    if track.seq[k0] == seq or track.alt_amsl_m[k0] <= low:
        edge_seqs.add(track.seq[k0])  # the leg there ends at the drop item or at its height
    if after < len(mission) and track.alt_amsl_m[k1] <= low:
        edge_seqs.add(after)  # the leg away starts at (or below) the drop height: it climbs
    lon, lat = float(track.lon_deg[kd]), float(track.lat_deg[kd])
    planned: float | None
    if mission[seq].command in _LANDING:
        planned = 0.0 if dem is not None else None
    else:
        ground = track.home_amsl_m if dem is None else _ground(dem, lon, lat)
        planned = drop_amsl - ground
    if planned is not None and not math.isfinite(planned):
        planned = None
    return DropPoint(seq=seq, release_seqs=releases, lon_deg=lon, lat_deg=lat, x_m=dx, y_m=dy,
                     planned_agl_m=planned, at_seqs=frozenset(at_seqs - edge_seqs),
                     edge_seqs=frozenset(edge_seqs))


def planned_agl_range(track: PlannedTrack, dem: Dem | None,
                      step_m: float = 10.0) -> tuple[float, float] | None:
    """Lowest and highest planned height above ground along the cruise legs.

    Heights are above the DEM (above home without one), sampled every ``step_m`` metres; a
    terrain-frame leg varies linearly in height above ground, the others linearly in AMSL. The
    part of a leg that is drop phase (near a drop it slopes into or out of) is left out. None
    when the mission has no cruise leg.
    """
    lows: list[float] = []
    highs: list[float] = []
    for k in range(1, len(track.seq)):
        if track.seq[k] not in track.cruise_seqs:
            continue
        length = math.hypot(track.x_m[k] - track.x_m[k - 1], track.y_m[k] - track.y_m[k - 1])
        f = np.linspace(0.0, 1.0, max(2, math.ceil(length / step_m) + 1))
        lon = track.lon_deg[k - 1] + f * (track.lon_deg[k] - track.lon_deg[k - 1])
        lat = track.lat_deg[k - 1] + f * (track.lat_deg[k] - track.lat_deg[k - 1])
        px = track.x_m[k - 1] + f * (track.x_m[k] - track.x_m[k - 1])
        py = track.y_m[k - 1] + f * (track.y_m[k] - track.y_m[k - 1])
        cruise = ~track.near_drop_edge(np.full(f.shape, track.seq[k]), px, py)
        ground = (np.full(f.shape, track.home_amsl_m) if dem is None
                  else np.asarray(dem.elevation_amsl_m(lon, lat), dtype=float))
        a0, a1 = track.alt_amsl_m[k - 1], track.alt_amsl_m[k]
        if track.terrain[k] and dem is not None:
            g0, g1 = ground[0], ground[-1]
            agl = (a0 - g0) + f * ((a1 - g1) - (a0 - g0))
        else:
            agl = a0 + f * (a1 - a0) - ground
        agl = agl[np.isfinite(agl) & cruise]
        if agl.size:
            lows.append(float(agl.min()))
            highs.append(float(agl.max()))
    if not lows:
        return None
    return min(lows), max(highs)
