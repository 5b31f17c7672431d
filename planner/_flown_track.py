"""The planned track of a mission as a 3D polyline, for comparing a flight with its plan.

Each mission item that moves the vehicle adds vertices where ArduCopter's AUTO mode would take
it: NAV_TAKEOFF climbs where the vehicle stands, NAV_WAYPOINT / NAV_LOITER_TIME fly a straight
line, NAV_LAND and NAV_PAYLOAD_PLACE fly there at the current altitude and descend, and
NAV_RETURN_TO_LAUNCH flies home at the current altitude and lands. ``lat = lon = 0`` means "where
the vehicle is". Altitudes are metres AMSL: home (item 0) plus the item's altitude for relative
frames, the DEM ground plus it for terrain frames (NaN without a DEM), the altitude itself for
absolute frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.geo import FloatArray, LocalProjection
from planner.items import RELATIVE_FRAMES, TERRAIN_FRAMES, Cmd, MissionItem
from planner.terrain import Dem

#: Moves shorter than this horizontally are vertical (take-off, descents at drops, landings).
VERTICAL_MAX_M = 5.0
_HORIZONTAL = frozenset({Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME})
_LANDING = frozenset({Cmd.NAV_LAND, Cmd.NAV_PAYLOAD_PLACE})


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedTrack:
    """The planned track: vertices in flight order, in WGS84 and local metres.

    ``seq[k]`` is the mission item whose move ends at vertex ``k`` (0 for home); ``terrain[k]``
    says that the move ending there keeps a linear height above ground (terrain frame).
    ``cruise_seqs`` are the items whose move is a horizontal cruise leg (not a take-off, landing
    or descent at a drop).
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


def _ground(dem: Dem | None, lon: float, lat: float) -> float:
    if dem is None:
        return math.nan
    return float(dem.elevation_amsl_m(lon, lat)[()])


def planned_track(mission: Sequence[MissionItem], dem: Dem | None) -> PlannedTrack:
    """The 3D polyline a mission flies (see the module docstring).

    Parameters
    ----------
    mission
        Mission items, item 0 being home (frame GLOBAL, altitude AMSL).
    dem
        Elevation model for terrain-frame altitudes and landings; None leaves those NaN and
        puts landings at the home altitude.

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
    return PlannedTrack(projection=projection, lon_deg=lons, lat_deg=lats,
                        alt_amsl_m=np.array([v[2] for v in verts]), x_m=x, y_m=y, seq=seqs,
                        terrain=tuple(v[4] for v in verts), cruise_seqs=frozenset(cruise),
                        home_amsl_m=home_amsl)


def planned_agl_range(track: PlannedTrack, dem: Dem | None,
                      step_m: float = 10.0) -> tuple[float, float] | None:
    """Lowest and highest planned height above ground along the cruise legs.

    Heights are above the DEM (above home without one), sampled every ``step_m`` metres; a
    terrain-frame leg varies linearly in height above ground, the others linearly in AMSL. None
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
        ground = (np.full(f.shape, track.home_amsl_m) if dem is None
                  else np.asarray(dem.elevation_amsl_m(lon, lat), dtype=float))
        a0, a1 = track.alt_amsl_m[k - 1], track.alt_amsl_m[k]
        if track.terrain[k] and dem is not None:
            g0, g1 = ground[0], ground[-1]
            agl = (a0 - g0) + f * ((a1 - g1) - (a0 - g0))
        else:
            agl = a0 + f * (a1 - a0) - ground
        agl = agl[np.isfinite(agl)]
        if agl.size:
            lows.append(float(agl.min()))
            highs.append(float(agl.max()))
    if not lows:
        return None
    return min(lows), max(highs)
