"""Geofence and rally checks of a replayed track.

Fence items are read as ArduPilot stores them: polygon vertices (5001 inclusion, 5002 exclusion)
in runs of ``param1`` items, circles (5003, 5004) with ``param1`` the radius. The vehicle must be
inside every inclusion area and outside every exclusion area at every point of its track.
Circles are tested as polygons that never favour the plan (inscribed for inclusion,
circumscribed for exclusion).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from planner.geo import geodesic_distance_m
from planner.items import Cmd, MissionType
from planner.plan_model import Sortie
from planner.scenario import Scenario
from planner.verify._base import HOME_TOL_M, Violation, cmd_name, violation, where
from planner.verify._geom import Profile, ZoneFrame
from planner.verify._track import POSITION_FRAMES, Track

_QUAD_SEGS = 16
_POLYGONS = (Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, Cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
_CIRCLES = (Cmd.NAV_FENCE_CIRCLE_INCLUSION, Cmd.NAV_FENCE_CIRCLE_EXCLUSION)
_INCLUSIONS = (Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, Cmd.NAV_FENCE_CIRCLE_INCLUSION)

# (first fence item index, inclusion?, area in the frame's metres)
_Area = tuple[int, bool, shapely.Geometry]


def _bad(sortie: Sortie, index: int | None, kind: str, text: str) -> Violation:
    return violation(sortie, index, kind, text, part=kind)


def _read_fence(sortie: Sortie, frame: ZoneFrame) -> tuple[list[_Area], list[Violation]]:
    areas: list[_Area] = []
    out: list[Violation] = []
    fence = sortie.fence
    j = 0
    while j < len(fence):
        item = fence[j]
        if item.mission_type != MissionType.FENCE:
            out.append(_bad(sortie, j, "fence", f"mission_type "
                                                f"{item.mission_type}; expected 1 (fence)"))
        inclusion = item.command in _INCLUSIONS
        if item.command in _CIRCLES:
            radius = item.param1
            if not (math.isfinite(radius) and radius > 0):
                out.append(_bad(sortie, j, "fence", f"circle radius param1 = "
                                                    f"{radius}; expected > 0 m"))
            else:
                x, y = frame.proj.to_xy(np.array([item.lon_deg]), np.array([item.lat_deg]))
                r = radius if inclusion else radius / math.cos(math.pi / (4 * _QUAD_SEGS))
                areas.append((j, inclusion, shapely.Point(x[0], y[0]).buffer(
                    r, quad_segs=_QUAD_SEGS)))
            j += 1
            continue
        if item.command not in _POLYGONS:
            out.append(_bad(sortie, j, "fence", f"{cmd_name(item.command)}; "
                                                f"expected a fence polygon vertex or circle"))
            j += 1
            continue
        n = item.param1
        if not (math.isfinite(n) and n == int(n) and n >= 3):
            out.append(_bad(sortie, j, "fence", f"declares {n} vertices "
                                                f"(param1); expected an integer >= 3"))
            j += 1
            continue
        count = int(n)
        run = 0
        while (run < count and j + run < len(fence) and fence[j + run].command == item.command
               and fence[j + run].param1 == n):
            run += 1
        if run < count:
            out.append(_bad(sortie, j, "fence", f"the polygon starting here declares "
                                                f"{count} vertices (param1) but {run} follow"))
            j += run
            continue
        ring = [(v.lon_deg, v.lat_deg) for v in fence[j:j + count]]
        poly = frame.polygon(ring)
        if not poly.is_valid:
            out.append(_bad(sortie, j, "fence", f"the polygon starting here is "
                                                f"invalid: {shapely.is_valid_reason(poly)}"))
        else:
            shapely.prepare(poly)
            areas.append((j, inclusion, poly))
        j += count
    if not any(inc for _, inc, _ in areas):
        out.append(_bad(sortie, None, "fence", "the fence has no inclusion polygon; expected one "
                                               "around the sortie's corridor"))
    return areas, out


def check_fence(sortie: Sortie, track: Track, profiles: list[Profile],
                frame: ZoneFrame) -> list[Violation]:
    """Every position and move inside every inclusion area and outside every exclusion area.

    A position outside is reported at its mission item; a move is reported only when both its
    ends are fine.
    """
    areas, out = _read_fence(sortie, frame)
    hx, hy = frame.proj.to_xy(np.array([track.home_lon_deg]), np.array([track.home_lat_deg]))
    points = [(0, track.home_lon_deg, track.home_lat_deg, float(hx[0]), float(hy[0]))]
    points += [(m.item_index, m.lon1_deg, m.lat1_deg, float(p.x_m[-1]), float(p.y_m[-1]))
               for m, p in zip(track.moves, profiles, strict=True)]

    def breach(inclusion: bool, area: shapely.Geometry, geom: shapely.Geometry) -> bool:
        if inclusion:
            return not bool(shapely.covers(area, geom))
        return bool(shapely.relate_pattern(area, geom, "T********"))

    reported: set[tuple[int, int]] = set()
    bad_points: set[tuple[int, int]] = set()  # (point number, area)
    geoms = shapely.points([pt[3] for pt in points], [pt[4] for pt in points])
    outside = {j: (~shapely.covers(area, geoms) if inclusion
                   else shapely.relate_pattern(area, geoms, "T********"))
               for j, inclusion, area in areas}
    for p, (i, lon, lat, _, _) in enumerate(points):
        for j, inclusion, _ in areas:
            if outside[j][p]:
                bad_points.add((p, j))
                if (i, j) in reported:
                    continue
                reported.add((i, j))
                side = "outside the inclusion" if inclusion else "inside the exclusion"
                out.append(violation(sortie, i, "fence", f"position {where(lat, lon)} is {side} "
                                                         f"fence starting at fence item {j}"))
    for p, (move, prof) in enumerate(zip(track.moves, profiles, strict=True), start=1):
        if move.vertical:
            continue
        line = shapely.LineString(np.column_stack([prof.x_m, prof.y_m]))
        for j, inclusion, area in areas:
            if (p - 1, j) in bad_points or (p, j) in bad_points:
                continue
            if breach(inclusion, area, line):
                i = move.item_index
                side = "leaves the inclusion" if inclusion else "enters the exclusion"
                span = (f"{where(move.lat0_deg, move.lon0_deg)} to "
                        f"{where(move.lat1_deg, move.lon1_deg)}")
                out.append(violation(sortie, i, "fence", f"the {move.phase} move from {span} "
                                                         f"{side} fence starting at fence "
                                                         f"item {j}"))
    return out


def check_rally(sortie: Sortie, scenario: Scenario, frame: ZoneFrame, *,
                home: tuple[float, float, float] | None = None,
                arrival_amsl_m: float | None = None) -> list[Violation]:
    """Rally items are rally points, none inside a zone, and at least one is at a depot.

    With ``home`` (lat, lon, AMSL) and the altitude the mission arrives over home with before its
    final RTL, a rally point at home must not lie above that altitude: the RTL would climb to it
    before landing, which the flight's energy does not account for.
    """
    out: list[Violation] = []
    at_depot = False
    for j, item in enumerate(sortie.rally):
        at = where(item.lat_deg, item.lon_deg)
        if item.command != Cmd.NAV_RALLY_POINT or item.mission_type != MissionType.RALLY:
            out.append(_bad(sortie, j, "rally", f"{cmd_name(item.command)} "
                                                f"with mission_type {item.mission_type}; "
                                                f"expected NAV_RALLY_POINT with mission_type 2"))
            continue
        if item.frame not in POSITION_FRAMES:
            out.append(_bad(sortie, j, "rally", f"frame {item.frame}; "
                                                f"expected one of "
                                                f"{sorted(int(f) for f in POSITION_FRAMES)}"))
        x, y = frame.proj.to_xy(np.array([item.lon_deg]), np.array([item.lat_deg]))
        for name, geom in frame.zones:
            if shapely.contains_xy(geom, x[0], y[0]):
                out.append(_bad(sortie, j, "rally", f"{at} is inside no-fly zone "
                                                    f"'{name}'"))
        if (home is not None and arrival_amsl_m is not None
                and item.frame in (3, 6)
                and geodesic_distance_m(item.lat_deg, item.lon_deg, home[0], home[1]) <= HOME_TOL_M
                and home[2] + item.alt_m > arrival_amsl_m + 0.5):
            out.append(_bad(sortie, j, "rally",
                            f"rally point at home is {home[2] + item.alt_m - arrival_amsl_m:.1f} m "
                            f"above where the mission arrives over home: the final RTL would "
                            f"climb to it first; expected it at or below the arrival altitude"))
        at_depot = at_depot or any(
            geodesic_distance_m(item.lat_deg, item.lon_deg, d.lat_deg, d.lon_deg) <= HOME_TOL_M
            for d in scenario.depots)
    if not at_depot:
        out.append(_bad(sortie, None, "rally", f"no rally point lies within {HOME_TOL_M:.0f} m "
                                               f"of a depot; expected at least one"))
    return out
