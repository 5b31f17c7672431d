"""Compile an evaluated sortie into MAVLink mission, geofence and rally items.

Mission layout (what ArduCopter flies and :mod:`planner.verify.verifier` re-checks):

0. home: NAV_WAYPOINT, frame GLOBAL, at the depot, altitude = ground AMSL;
1. NAV_TAKEOFF to the first leg's start altitude;
2. NAV_WAYPOINTs along each leg (turns around no-fly zones, terrain breakpoints);
3. at each drop: a NAV_WAYPOINT down to ``drop_alt_agl_m``, DO_GRIPPER release (or DO_WINCH),
   NAV_DELAY for ``drop_hover_s``; for ``land`` drops NAV_LAND, DO_GRIPPER, NAV_DELAY and a
   NAV_TAKEOFF; the next leg starts with a vertical climb at the drop. A pickup has the same
   items with DO_GRIPPER grab (param2 = 1) in place of the release (DO_GRIPPER or DO_WINCH);
4. the last leg ends above the depot, then NAV_RETURN_TO_LAUNCH descends and lands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from planner.geo import FloatArray, LocalProjection
from planner.items import GRIPPER_GRAB, GRIPPER_RELEASE, Cmd, Frame, MissionItem, MissionType
from planner.legs.catalogue import LegCatalog
from planner.plan_model import Sortie, SortieMetrics
from planner.scenario import DroneType, Scenario
from planner.sorties.evaluate import SortieEval


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileContext:
    """What the compiler needs besides the sortie: ids of points, zones and the scene."""

    scenario: Scenario
    catalog: LegCatalog
    proj: LocalProjection
    point_ids: tuple[str, ...]
    zones_xy: tuple[shapely.Polygon, ...]
    depot_points: tuple[int, ...]


class _Emitter:
    """Collects mission items, converting AMSL altitudes into the chosen frame."""

    def __init__(self, ctx: CompileContext, home_amsl_m: float) -> None:
        self.ctx = ctx
        self.home_amsl_m = home_amsl_m
        self.terrain = ctx.scenario.params.altitude_frame == "terrain"
        self.items: list[MissionItem] = []

    def lonlat(self, xy: FloatArray) -> tuple[float, float]:
        """WGS84 degrees on the 1e-7 degree grid MISSION_ITEM_INT carries."""
        lon, lat = self.ctx.proj.to_lonlat([xy[0]], [xy[1]])
        return round(float(lon[0]), 7), round(float(lat[0]), 7)

    def nav(self, command: int, xy: FloatArray, alt_amsl_m: float, param1: float = 0.0) -> None:
        lon, lat = self.lonlat(xy)
        if self.terrain:
            ground = float(self.ctx.catalog.dem.elevation_amsl_m(lon, lat))
            frame, alt = Frame.GLOBAL_TERRAIN_ALT, alt_amsl_m - ground
        else:
            frame, alt = Frame.GLOBAL_RELATIVE_ALT, alt_amsl_m - self.home_amsl_m
        self.items.append(MissionItem(command=command, frame=frame, param1=param1,
                                      lat_deg=lat, lon_deg=lon, alt_m=round(alt, 2)))

    def do(self, command: int, *params: float) -> None:
        p = (*params, 0.0, 0.0, 0.0, 0.0)[:4]
        self.items.append(MissionItem(command=command, frame=Frame.MISSION, param1=p[0],
                                      param2=p[1], param3=p[2], param4=p[3]))


def _release(em: _Emitter, drone: DroneType, xy: FloatArray, ground_m: float,
             next_amsl_m: float, *, grab: bool = False) -> None:
    """Items at one drop, from overhead to the start of the climb towards the next leg.

    With ``grab`` (a pickup) the gripper grabs a parcel where a drop would release one.
    """
    if drone.drop_method == "land":
        lon, lat = em.lonlat(xy)
        em.items.append(MissionItem(command=Cmd.NAV_LAND, frame=Frame.GLOBAL_RELATIVE_ALT,
                                    lat_deg=lat, lon_deg=lon, alt_m=0.0))
        em.do(Cmd.DO_GRIPPER, 1, GRIPPER_GRAB if grab else GRIPPER_RELEASE)
        em.do(Cmd.NAV_DELAY, drone.drop_hover_s, -1, -1, -1)
        em.nav(Cmd.NAV_TAKEOFF, xy, next_amsl_m)
        return
    em.nav(Cmd.NAV_WAYPOINT, xy, ground_m + drone.drop_alt_agl_m)
    if grab:
        em.do(Cmd.DO_GRIPPER, 1, GRIPPER_GRAB)
    elif drone.drop_method == "winch":
        em.do(Cmd.DO_WINCH, 1, 1, drone.drop_alt_agl_m, 0.5)
    else:
        em.do(Cmd.DO_GRIPPER, 1, GRIPPER_RELEASE)
    em.do(Cmd.NAV_DELAY, drone.drop_hover_s, -1, -1, -1)


def compile_sortie(ctx: CompileContext, ev: SortieEval, *, sortie_id: str, vehicle: str,
                   start_s: float) -> Sortie:
    """Turn an evaluated sortie into a :class:`~planner.plan_model.Sortie` with its items."""
    scenario = ctx.scenario
    drone = scenario.drone_types[ev.drone_type_id]
    catalog = ctx.catalog
    home_xy = catalog.points_xy_m[ev.depot]
    home_amsl = catalog.ground_amsl_m(ev.depot)
    em = _Emitter(ctx, home_amsl)
    lon, lat = em.lonlat(home_xy)
    em.items.append(MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL, lat_deg=lat,
                                lon_deg=lon, alt_m=round(home_amsl, 2)))
    em.nav(Cmd.NAV_TAKEOFF, home_xy, ev.legs[0].start_alt_amsl_m)
    agl_lo, agl_hi = np.inf, -np.inf
    for k, leg in enumerate(ev.legs):
        if k > 0 and drone.drop_method != "land":
            em.nav(Cmd.NAV_WAYPOINT, leg.xy_m[0], leg.start_alt_amsl_m)
        for xy, alt in zip(leg.xy_m[1:], leg.alt_amsl_m[1:], strict=True):
            em.nav(Cmd.NAV_WAYPOINT, xy, float(alt))
        agl_lo, agl_hi = min(agl_lo, leg.min_agl_m), max(agl_hi, leg.max_agl_m)
        if k < len(ev.drops):
            point = ev.drops[k]
            _release(em, drone, catalog.points_xy_m[point], catalog.ground_amsl_m(point),
                     ev.legs[k + 1].start_alt_amsl_m, grab=point in ev.pickups)
    em.items.append(MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH, frame=Frame.MISSION))
    fence = _fence(ctx, ev)
    rally = _rally(ctx, em, ev)
    etas = {ctx.point_ids[p]: round(start_s + t, 1)
            for p, t in zip(ev.drops, ev.release_offsets_s, strict=True)}
    metrics = SortieMetrics(
        distance_m=round(ev.distance_m, 1), duration_s=round(ev.duration_s, 1),
        energy_wh=round(ev.energy_wh, 2),
        energy_pct=round(100 * ev.energy_wh / drone.battery_wh, 2),
        reserve_pct=round(100 * (1 - ev.energy_wh / drone.battery_wh), 2),
        min_agl_m=round(float(agl_lo), 1), max_agl_m=round(float(agl_hi), 1),
        payload_kg=round(ev.payload_kg, 3), drop_etas_s=etas)
    return Sortie(id=sortie_id, depot_id=ctx.point_ids[ev.depot], drone_type_id=drone.id,
                  vehicle=vehicle, drop_ids=tuple(ctx.point_ids[p] for p in ev.drops),
                  pickup_ids=tuple(ctx.point_ids[p] for p in ev.drops if p in ev.pickups),
                  start_s=round(start_s, 1), mission=tuple(em.items), fence=fence, rally=rally,
                  metrics=metrics)


def _corridor(ev: SortieEval, half_width_m: float) -> shapely.Polygon:
    """The track's corridor: segments buffered one by one and merged, holes filled.

    Buffering the whole track at once is not safe: GEOS cuts the end cap of an out-and-back
    line that nearly retraces itself.
    """
    pts = np.vstack([leg.xy_m for leg in ev.legs])
    keep = np.r_[True, np.any(np.diff(pts, axis=0) != 0, axis=1)]
    pts = pts[keep]
    if len(pts) < 2:
        return shapely.Point(pts[0]).buffer(half_width_m, quad_segs=4)
    segments = shapely.linestrings(np.stack([pts[:-1], pts[1:]], axis=1))
    merged = shapely.union_all(shapely.buffer(segments, half_width_m, quad_segs=4))
    return shapely.Polygon(merged.exterior)


def _ring_items(ctx: CompileContext, ring: shapely.LinearRing, command: int) -> list[MissionItem]:
    coords = np.asarray(ring.coords)[:-1]
    if shapely.LinearRing(ring).is_ccw is False:
        coords = coords[::-1]
    lon, lat = ctx.proj.to_lonlat(coords[:, 0], coords[:, 1])
    return [MissionItem(command=command, frame=Frame.GLOBAL, param1=float(len(coords)),
                        lat_deg=round(float(la), 7), lon_deg=round(float(lo), 7),
                        mission_type=MissionType.FENCE)
            for lo, la in zip(lon, lat, strict=True)]


def _fence(ctx: CompileContext, ev: SortieEval) -> tuple[MissionItem, ...]:
    """Inclusion polygon around the track, exclusion polygons for zones that touch it."""
    corridor = _corridor(ev, ctx.scenario.params.fence_corridor_m)
    corridor = corridor.simplify(20.0, preserve_topology=True)
    items = _ring_items(ctx, corridor.exterior, Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION)
    for zone in ctx.zones_xy:
        if zone.intersects(corridor):
            items += _ring_items(ctx, zone.exterior, Cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    return tuple(items)


def _rally(ctx: CompileContext, em: _Emitter, ev: SortieEval) -> tuple[MissionItem, ...]:
    """A rally point over every depot.

    The one at the sortie's own depot sits at the altitude the mission arrives over home with, so
    the final RTL (which flies to the nearest rally point) descends without climbing first; the
    others at the sortie's highest cruise altitude, for an RTL from anywhere on the way.
    """
    top_amsl = max(float(leg.alt_amsl_m.max()) for leg in ev.legs)
    arrive_amsl = ev.legs[-1].end_alt_amsl_m
    out = []
    for depot in ctx.depot_points:
        lon, lat = em.lonlat(ctx.catalog.points_xy_m[depot])
        alt_amsl = arrive_amsl if depot == ev.depot else top_amsl
        out.append(MissionItem(command=Cmd.NAV_RALLY_POINT, frame=Frame.GLOBAL_RELATIVE_ALT,
                               lat_deg=lat, lon_deg=lon,
                               alt_m=math.floor((alt_amsl - em.home_amsl_m) * 10) / 10,
                               mission_type=MissionType.RALLY))
    return tuple(out)
