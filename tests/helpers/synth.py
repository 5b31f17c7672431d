"""Seeded synthetic scenarios on the real SRTM tile, for property tests and benchmarks."""

from __future__ import annotations

import math

import numpy as np
import shapely

from planner.geo import LocalProjection
from planner.scenario import Depot, Drop, NoFlyZone, Scenario, TerrainConfig
from tests.helpers.shared_data import DISTRICT_HGT, REPO
from tests.planner.helpers import drone_type

TILE = DISTRICT_HGT

#: Hubs in valleys of the White Mountains tile (Littleton and Lancaster hospitals, Berlin).
HUBS = ((44.317934, -71.825559), (44.489, -71.569), (44.486951, -71.155254))


def random_zone(rng: np.random.Generator, cx: float, cy: float) -> shapely.Polygon:
    """A star-shaped (often concave) polygon or a rotated rectangle, 300 m - 3 km across."""
    size = rng.uniform(300, 3000)
    if rng.random() < 0.4:
        w, h = size / 2, size * rng.uniform(0.2, 0.5) / 2
        box = shapely.box(-w, -h, w, h)
        ang = rng.uniform(0, 180)
        poly = shapely.affinity.rotate(box, ang, origin=(0, 0))
    else:
        n = int(rng.integers(5, 12))
        ang = np.sort(rng.uniform(0, 2 * math.pi, n))
        rad = size / 2 * rng.uniform(0.45, 1.0, n)
        poly = shapely.Polygon(np.column_stack([rad * np.cos(ang), rad * np.sin(ang)]))
        if not poly.is_valid:
            poly = poly.convex_hull
    return shapely.affinity.translate(poly, cx, cy)


def synthetic_scenario(*, n_drops: int, n_zones: int, seed: int, n_hubs: int = 2,
                       radius_m: float = 16_000.0, drones_per_hub: int = 5,
                       buffer_m: float = 50.0) -> Scenario:
    """Drops scattered within ``radius_m`` of hubs on the real tile, outside random zones."""
    rng = np.random.default_rng(seed)
    hubs = HUBS[:n_hubs]
    proj = LocalProjection.around([h[0] for h in hubs], [h[1] for h in hubs])
    hx, hy = proj.to_xy([h[1] for h in hubs], [h[0] for h in hubs])
    zones: list[shapely.Polygon] = []
    while len(zones) < n_zones:
        k = int(rng.integers(len(hubs)))
        r = radius_m * math.sqrt(rng.uniform(0.05, 1.0))
        a = rng.uniform(0, 2 * math.pi)
        z = random_zone(rng, hx[k] + r * math.cos(a), hy[k] + r * math.sin(a))
        if all(z.distance(shapely.Point(x, y)) > 2 * buffer_m + 200
               for x, y in zip(hx, hy, strict=True)):
            zones.append(z)
    union = shapely.union_all(zones).buffer(buffer_m + 20)
    pts: list[tuple[float, float]] = []
    while len(pts) < n_drops:
        k = int(rng.integers(len(hubs)))
        r = radius_m * math.sqrt(rng.uniform(0.0, 1.0))
        a = rng.uniform(0, 2 * math.pi)
        x, y = hx[k] + r * math.cos(a), hy[k] + r * math.sin(a)
        if not union.contains(shapely.Point(x, y)):
            pts.append((x, y))
    lon, lat = proj.to_lonlat([p[0] for p in pts], [p[1] for p in pts])
    drops = tuple(Drop(id=f"D{i:05d}", lat_deg=float(la), lon_deg=float(lo),
                       weight_kg=round(float(rng.uniform(0.2, 2.5)), 2))
                  for i, (lo, la) in enumerate(zip(lon, lat, strict=True)))
    nofly = []
    for i, z in enumerate(zones):
        zx, zy = z.exterior.xy
        zlon, zlat = proj.to_lonlat(np.asarray(zx), np.asarray(zy))
        ring = tuple((float(a), float(b)) for a, b in zip(zlon, zlat, strict=True))
        nofly.append(NoFlyZone(name=f"zone {i}", polygons=((ring,),)))
    depots = tuple(Depot(id=f"hub{i}", lat_deg=h[0], lon_deg=h[1],
                         drones={"quad": drones_per_hub}) for i, h in enumerate(hubs))
    return Scenario(name=f"synthetic-{n_drops}-{n_zones}-{seed}", root=REPO,
                    terrain=TerrainConfig(dem_paths=(TILE,)), nofly=tuple(nofly),
                    buffer_m=buffer_m, depots=depots, drone_types={"quad": drone_type()},
                    drops=drops)
