"""Small spherical-earth helpers for ground control: distances, local offsets, track geometry.

Accurate to well under a metre over the tens of kilometres a delivery sortie spans, which is all
monitoring needs (the planner's own geodesics live in ``planner``).
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp, dl = p2 - p1, math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def local_ne_m(lat0_deg: float, lon0_deg: float, lat_deg: float,
               lon_deg: float) -> tuple[float, float]:
    """North and east offsets (m) of a point from (lat0, lon0), equirectangular."""
    north = math.radians(lat_deg - lat0_deg) * EARTH_RADIUS_M
    east = math.radians(lon_deg - lon0_deg) * EARTH_RADIUS_M * math.cos(math.radians(lat0_deg))
    return north, east


def segment_projection(lat_a: float, lon_a: float, lat_b: float, lon_b: float, lat_p: float,
                       lon_p: float) -> tuple[float, float]:
    """Where point P falls on segment AB: (fraction along AB in [0, 1], distance from AB in m)."""
    bn, be = local_ne_m(lat_a, lon_a, lat_b, lon_b)
    pn, pe = local_ne_m(lat_a, lon_a, lat_p, lon_p)
    length2 = bn * bn + be * be
    t = 0.0 if length2 <= 1e-9 else min(1.0, max(0.0, (pn * bn + pe * be) / length2))
    return t, math.hypot(pn - t * bn, pe - t * be)
