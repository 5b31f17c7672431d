"""Local flat-earth geometry around a vehicle's start point (north/east metres) and polygons.

Distances of a delivery area (a few kilometres) make the equirectangular approximation exact to
well under a metre, which is what ArduPilot's own ``Location`` offsets use too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6378100.0  # ArduPilot's RADIUS_OF_EARTH
_DEG = math.pi / 180.0


class LocalFrame:
    """Conversion between lat/lon degrees and north/east metres from an origin."""

    __slots__ = ("_m_per_deg_lat", "_m_per_deg_lon", "lat0_deg", "lon0_deg")

    def __init__(self, lat0_deg: float, lon0_deg: float) -> None:
        self.lat0_deg = lat0_deg
        self.lon0_deg = lon0_deg
        self._m_per_deg_lat = EARTH_RADIUS_M * _DEG
        self._m_per_deg_lon = EARTH_RADIUS_M * _DEG * math.cos(lat0_deg * _DEG)

    def to_ne(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """North and east metres of a lat/lon from the origin."""
        return ((lat_deg - self.lat0_deg) * self._m_per_deg_lat,
                (lon_deg - self.lon0_deg) * self._m_per_deg_lon)

    def to_latlon(self, north_m: float, east_m: float) -> tuple[float, float]:
        """Lat/lon degrees of a north/east offset from the origin."""
        return (self.lat0_deg + north_m / self._m_per_deg_lat,
                self.lon0_deg + east_m / self._m_per_deg_lon)


def point_in_polygon(x: float, y: float, poly: Sequence[tuple[float, float]]) -> bool:
    """Whether (x, y) is inside the closed polygon ``poly`` (even-odd rule)."""
    inside = False
    n = len(poly)
    j = n - 1
    for i in range(n):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def distance_to_polygon_edge_m(x: float, y: float, poly: Sequence[tuple[float, float]]) -> float:
    """Shortest distance from (x, y) to the polygon's boundary."""
    best = math.inf
    n = len(poly)
    for i in range(n):
        ax, ay = poly[i]
        bx, by = poly[(i + 1) % n]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        best = min(best, math.hypot(x - (ax + t * dx), y - (ay + t * dy)))
    return best


def wrap_360(angle_deg: float) -> float:
    """An angle in [0, 360)."""
    return angle_deg % 360.0
