"""Geometric checks of a replayed track: DEM coverage, height above ground, no-fly zones.

Moves are sampled along their WGS84 geodesic no coarser than half the DEM resolution, ends
included. Zones are tested in the verifier's own azimuthal equidistant projection centred on the
scenario's depots, without any buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from planner.geo import WGS84_GEOD, LocalProjection
from planner.items import Cmd
from planner.plan_model import Sortie
from planner.scenario import DroneType, Scenario
from planner.terrain import Dem, FloatArray
from planner.verify._base import AGL_TOL_M, Violation, sample_geodesic, violation, where
from planner.verify._track import Move, Release, Track


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneFrame:
    """The verifier's metric frame and the scenario's unbuffered zones in it.

    ``proj`` is centred on the mean of the depots; ``zones`` holds each zone's name and its
    prepared geometry in ``proj`` metres.
    """

    proj: LocalProjection
    zones: tuple[tuple[str, shapely.Geometry], ...]

    def polygon(self, ring_lonlat: list[tuple[float, float]]) -> shapely.Polygon:
        """A polygon from one ring of (lon, lat) pairs."""
        arr = np.asarray(ring_lonlat, dtype=np.float64).reshape(-1, 2)
        x, y = self.proj.to_xy(arr[:, 0], arr[:, 1])
        return shapely.Polygon(np.column_stack([x, y]))


def make_zone_frame(scenario: Scenario) -> ZoneFrame:
    """Projection centred on the mean of the depots, and every zone projected and prepared."""
    proj = LocalProjection(lat0_deg=float(np.mean([d.lat_deg for d in scenario.depots])),
                           lon0_deg=float(np.mean([d.lon_deg for d in scenario.depots])))
    frame = ZoneFrame(proj=proj, zones=())
    zones = []
    for zone in scenario.nofly:
        parts = []
        for rings in zone.polygons:
            shell, *holes = (frame.polygon(list(r)).exterior for r in rings)
            parts.append(shapely.Polygon(shell, holes))
        geom = shapely.make_valid(shapely.union_all(parts))
        shapely.prepare(geom)
        zones.append((zone.name, geom))
    return ZoneFrame(proj=proj, zones=tuple(zones))


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Samples of one move: position, ground, altitude AMSL and height above ground."""

    lon_deg: FloatArray
    lat_deg: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    ground_m: FloatArray
    amsl_m: FloatArray
    agl_m: FloatArray


def profile(move: Move, dem: Dem, frame: ZoneFrame, step_m: float) -> Profile:
    """Sample ``move`` (two samples when it is vertical)."""
    if move.vertical:
        lon = np.array([move.lon0_deg, move.lon1_deg])
        lat = np.array([move.lat0_deg, move.lat1_deg])
    else:
        lon, lat = sample_geodesic(move.lat0_deg, move.lon0_deg, move.lat1_deg, move.lon1_deg,
                                   step_m)
    ground = dem.elevation_amsl_m(lon, lat)
    if move.terrain_follow and not move.vertical:
        agl = np.linspace(move.amsl0_m - ground[0], move.amsl1_m - ground[-1], lon.size)
        amsl = ground + agl
    else:
        amsl = np.linspace(move.amsl0_m, move.amsl1_m, lon.size)
        agl = amsl - ground
    x, y = frame.proj.to_xy(lon, lat)
    return Profile(lon_deg=lon, lat_deg=lat, x_m=x, y_m=y, ground_m=ground, amsl_m=amsl,
                   agl_m=agl)


def profiles(moves: Sequence[Move], dem: Dem, frame: ZoneFrame,
             step_m: float) -> list[Profile]:
    """:func:`profile` of every move, with one geodesic, DEM and projection call for all.

    Each sample is computed exactly as :func:`profile` computes it alone.
    """
    flat = [m for m in moves if not m.vertical]
    az, _, dist = WGS84_GEOD.inv([m.lon0_deg for m in flat], [m.lat0_deg for m in flat],
                                 [m.lon1_deg for m in flat], [m.lat1_deg for m in flat])
    lon0: list[FloatArray] = []
    lat0: list[FloatArray] = []
    azs: list[FloatArray] = []
    ds: list[FloatArray] = []
    for k, m in enumerate(flat):
        n = max(1, int(np.ceil(dist[k] / step_m)))
        lon0.append(np.full(n + 1, m.lon0_deg))
        lat0.append(np.full(n + 1, m.lat0_deg))
        azs.append(np.full(n + 1, az[k]))
        ds.append(np.linspace(0.0, float(dist[k]), n + 1))
    if flat:
        lon_f, lat_f, _ = WGS84_GEOD.fwd(np.concatenate(lon0), np.concatenate(lat0),
                                         np.concatenate(azs), np.concatenate(ds))
    sizes = [2 if m.vertical else 0 for m in moves]
    lons: list[FloatArray] = []
    lats: list[FloatArray] = []
    at = 0
    k = 0
    for i, m in enumerate(moves):
        if m.vertical:
            lon = np.array([m.lon0_deg, m.lon1_deg])
            lat = np.array([m.lat0_deg, m.lat1_deg])
        else:
            size = ds[k].size
            lon = np.asarray(lon_f[at:at + size], dtype=np.float64)
            lat = np.asarray(lat_f[at:at + size], dtype=np.float64)
            lon[0], lat[0], lon[-1], lat[-1] = m.lon0_deg, m.lat0_deg, m.lon1_deg, m.lat1_deg
            at += size
            k += 1
        sizes[i] = lon.size
        lons.append(lon)
        lats.append(lat)
    if not moves:
        return []
    lon_all, lat_all = np.concatenate(lons), np.concatenate(lats)
    ground_all = dem.elevation_amsl_m(lon_all, lat_all)
    x_all, y_all = frame.proj.to_xy(lon_all, lat_all)
    out: list[Profile] = []
    at = 0
    for m, lon, lat, size in zip(moves, lons, lats, sizes, strict=True):
        ground = ground_all[at:at + size]
        if m.terrain_follow and not m.vertical:
            agl = np.linspace(m.amsl0_m - ground[0], m.amsl1_m - ground[-1], size)
            amsl = ground + agl
        else:
            amsl = np.linspace(m.amsl0_m, m.amsl1_m, size)
            agl = amsl - ground
        out.append(Profile(lon_deg=lon, lat_deg=lat, x_m=x_all[at:at + size],
                           y_m=y_all[at:at + size], ground_m=ground, amsl_m=amsl, agl_m=agl))
        at += size
    return out


def check_heights(sortie: Sortie, moves: tuple[Move, ...], profiles: list[Profile],
                  scenario: Scenario) -> list[Violation]:
    """Coverage and the AGL band along every move.

    Horizontal moves stay in [clearance - tol, ceiling + tol]; vertical moves above the ground
    and below the ceiling.
    """
    out: list[Violation] = []
    clearance = scenario.terrain.clearance_agl_m
    ceiling = scenario.terrain.ceiling_agl_m
    for move, prof in zip(moves, profiles, strict=True):
        i = move.item_index
        span = (f"on the {move.phase} move from {where(move.lat0_deg, move.lon0_deg)} to "
                f"{where(move.lat1_deg, move.lon1_deg)}")
        nan = np.isnan(prof.ground_m) | np.isnan(prof.agl_m)
        if nan.any():
            k = int(np.argmax(nan))
            out.append(violation(sortie, i, "coverage",
                                  f"{where(prof.lat_deg[k], prof.lon_deg[k])} {span} is outside "
                                  f"the elevation model"))
            if nan.all():
                continue
        agl = np.where(nan, np.nan, prof.agl_m)
        lo, lo_name = ((-AGL_TOL_M, "the ground") if move.vertical
                       else (clearance - AGL_TOL_M, f"the clearance {clearance:.1f} m AGL"))
        k = int(np.nanargmin(agl))
        if agl[k] < lo:
            out.append(violation(sortie, i, "agl_low",
                                  f"height above ground {agl[k]:.1f} m at "
                                  f"{where(prof.lat_deg[k], prof.lon_deg[k])} {span} is below "
                                  f"{lo_name} (tolerance {AGL_TOL_M} m)"))
        k = int(np.nanargmax(agl))
        if agl[k] > ceiling + AGL_TOL_M:
            out.append(violation(sortie, i, "agl_high",
                                  f"height above ground {agl[k]:.1f} m at "
                                  f"{where(prof.lat_deg[k], prof.lon_deg[k])} {span} is above "
                                  f"the ceiling {ceiling:.1f} m AGL (tolerance {AGL_TOL_M} m)"))
    return out


def check_releases(sortie: Sortie, releases: tuple[Release, ...], drone: DroneType,
                   dem: Dem) -> list[Violation]:
    """Airborne releases (and grabs, at pickups) happen at the drone type's drop height (winch
    line long enough)."""
    out: list[Violation] = []
    for rel in releases:
        if not rel.airborne:
            continue
        agl = rel.amsl_m - float(dem.elevation_amsl_m(rel.lon_deg, rel.lat_deg)[()])
        if np.isnan(agl):
            continue  # reported as coverage on the move that got there
        at = where(rel.lat_deg, rel.lon_deg)
        want = drone.drop_alt_agl_m
        if agl < want - AGL_TOL_M or agl > want + AGL_TOL_M:
            kind = "agl_low" if agl < want else "agl_high"
            action = "grab" if rel.grab else "release"
            out.append(violation(sortie, rel.item_index, kind,
                                  f"{action} at {agl:.1f} m above ground at {at}; expected "
                                  f"drop_alt_agl_m {want:.1f} m of drone type {drone.id} "
                                  f"(tolerance {AGL_TOL_M} m)"))
        if rel.command == Cmd.DO_WINCH and rel.winch_length_m < agl - AGL_TOL_M:
            out.append(violation(sortie, rel.item_index, "structure",
                                  f"winch line {rel.winch_length_m:.1f} m does not reach the "
                                  f"ground {agl:.1f} m below {at}"))
    return out


def check_nofly(sortie: Sortie, track: Track, profiles: list[Profile],
                frame: ZoneFrame) -> list[Violation]:
    """No position inside a zone and no move through a zone's interior.

    A move that starts or ends inside a zone is reported through that position only.
    """
    out: list[Violation] = []
    geoms = np.array([geom for _, geom in frame.zones], dtype=object)
    boxes = shapely.bounds(geoms).reshape(-1, 4)

    hx, hy = frame.proj.to_xy(np.array([track.home_lon_deg]), np.array([track.home_lat_deg]))
    # home, then each move's end (projected with the move's samples): zones holding each
    ends_x = np.array([hx[0], *(p.x_m[-1] for p in profiles)])
    ends_y = np.array([hy[0], *(p.y_m[-1] for p in profiles)])
    holds = (shapely.contains_xy(geoms[:, None], ends_x[None, :], ends_y[None, :])
             if geoms.size else np.zeros((0, ends_x.size), dtype=bool))

    def inside(k: int) -> set[int]:
        return {int(z) for z in np.flatnonzero(holds[:, k])}

    here = inside(0)
    home = where(track.home_lat_deg, track.home_lon_deg)
    for z in sorted(here):
        out.append(violation(sortie, 0, "nofly",
                              f"home {home} is inside no-fly zone '{frame.zones[z][0]}'"))
    reported = {(0, z) for z in here}
    for k, (move, prof) in enumerate(zip(track.moves, profiles, strict=True), start=1):
        i = move.item_index
        end = inside(k)
        for z in sorted(end):
            if (i, z) not in reported:
                reported.add((i, z))
                out.append(violation(sortie, i, "nofly",
                                      f"position {where(move.lat1_deg, move.lon1_deg)} is "
                                      f"inside no-fly zone '{frame.zones[z][0]}'"))
        if not move.vertical:
            line = shapely.LineString(np.column_stack([prof.x_m, prof.y_m]))
            # A zone whose bounding box misses the move's cannot share interior with it.
            x0, y0, x1, y1 = prof.x_m.min(), prof.y_m.min(), prof.x_m.max(), prof.y_m.max()
            near = ((boxes[:, 0] <= x1) & (boxes[:, 2] >= x0) & (boxes[:, 1] <= y1)
                    & (boxes[:, 3] >= y0))
            for z in np.flatnonzero(near).tolist():
                name, geom = frame.zones[z]
                if z in here or z in end or not shapely.relate_pattern(geom, line, "T********"):
                    continue
                x, y = shapely.get_coordinates(shapely.intersection(geom, line))[0]
                lon_a, lat_a = frame.proj.to_lonlat(x, y)
                lon, lat = float(lon_a), float(lat_a)
                out.append(violation(
                    sortie, i, "nofly",
                    f"the {move.phase} move from {where(move.lat0_deg, move.lon0_deg)} to "
                    f"{where(move.lat1_deg, move.lon1_deg)} enters no-fly zone '{name}' at "
                    f"{where(lat, lon)}"))
        here = end
    return out
