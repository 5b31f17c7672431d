"""Where a flown track entered a no-fly zone or left its geofence, and how deep.

No-fly zones are the scenario's own polygons (not the planner's buffered ones): being inside one
is an incursion. Fence items are read as ArduPilot stores them: polygon vertices (5001 inclusion,
5002 exclusion) in runs of ``param1`` items, circles (5003, 5004) with ``param1`` the radius.
The vehicle must stay inside every inclusion area and outside every exclusion area. An
incursion is one run of consecutive samples breaking one area; its depth is the largest
distance from the area's boundary reached during the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import shapely

from planner.geo import FloatArray, LocalProjection
from planner.items import Cmd, MissionItem
from planner.scenario import NoFlyZone

_POLYGONS: dict[int, bool] = {Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION: True,
                              Cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION: False}
_CIRCLES: dict[int, bool] = {Cmd.NAV_FENCE_CIRCLE_INCLUSION: True,
                             Cmd.NAV_FENCE_CIRCLE_EXCLUSION: False}


class Incursion(NamedTuple):
    """One stay inside a no-fly zone (or outside an inclusion fence).

    ``name`` is the zone's name or ``"fence inclusion N"`` / ``"fence exclusion N"`` (N counting
    the fence's areas from 1); ``t_s`` when it began (the samples' clock); ``depth_m`` the
    deepest point reached, in metres from the boundary.
    """

    name: str
    t_s: float
    depth_m: float


class Area(NamedTuple):
    """A named area in local metres; ``keep_in`` for inclusion fences."""

    name: str
    geometry: shapely.Geometry
    keep_in: bool


def zone_areas(zones: Sequence[NoFlyZone], projection: LocalProjection) -> list[Area]:
    """Every no-fly zone as a keep-out area in the projection's metres."""
    out = []
    for zone in zones:
        polygons = []
        for rings in zone.polygons:
            xy_rings = []
            for ring in rings:
                x, y = projection.to_xy([p[0] for p in ring], [p[1] for p in ring])
                xy_rings.append(np.column_stack([x, y]))
            polygons.append(shapely.Polygon(xy_rings[0], xy_rings[1:]))
        out.append(Area(zone.name, shapely.union_all(polygons), False))
    return out


def fence_areas(fence: Sequence[MissionItem], projection: LocalProjection) -> list[Area]:
    """The fence's polygons and circles as areas; malformed runs are skipped."""
    out: list[Area] = []
    counts = {True: 0, False: 0}

    def add(keep_in: bool, geometry: shapely.Geometry) -> None:
        counts[keep_in] += 1
        kind = "inclusion" if keep_in else "exclusion"
        out.append(Area(f"fence {kind} {counts[keep_in]}", geometry, keep_in))

    j = 0
    while j < len(fence):
        item = fence[j]
        if item.command in _CIRCLES:
            if math.isfinite(item.param1) and item.param1 > 0:
                x, y = projection.to_xy([item.lon_deg], [item.lat_deg])
                add(_CIRCLES[item.command], shapely.Point(x[0], y[0]).buffer(item.param1))
            j += 1
            continue
        if item.command not in _POLYGONS:
            j += 1
            continue
        n = int(item.param1) if math.isfinite(item.param1) else 0
        run = fence[j:j + n]
        if n >= 3 and len(run) == n and all(v.command == item.command for v in run):
            x, y = projection.to_xy([v.lon_deg for v in run], [v.lat_deg for v in run])
            add(_POLYGONS[item.command], shapely.Polygon(np.column_stack([x, y])).buffer(0))
            j += n
        else:
            j += 1
    return out


def incursions(areas: Sequence[Area], t_s: FloatArray, x_m: FloatArray,
               y_m: FloatArray) -> list[Incursion]:
    """Every run of samples breaking an area, in time order."""
    out: list[Incursion] = []
    if not len(t_s):
        return out
    points = shapely.points(x_m, y_m)
    for area in areas:
        inside = shapely.contains_xy(area.geometry, x_m, y_m)
        bad = ~inside if area.keep_in else inside
        if not bad.any():
            continue
        depth = np.asarray(shapely.distance(area.geometry.boundary, points), dtype=float)
        start = None
        for k in range(len(bad) + 1):
            if k < len(bad) and bad[k]:
                if start is None:
                    start = k
            elif start is not None:
                out.append(Incursion(area.name, float(t_s[start]),
                                     float(depth[start:k].max())))
                start = None
    out.sort(key=lambda i: (i.t_s, i.name))
    return out
