"""Brute-force reference for no-fly routing, and seeded random no-fly instances.

The reference builds the full visibility graph over every vertex of the merged buffered polygons
of a :class:`planner.legs.nofly.ZoneMap` plus the two query points, with no pruning, decides
visibility with exact GEOS predicates (a segment is blocked when its interior meets a polygon
interior) and runs Dijkstra. It is slow and simple on purpose: tests and benchmarks compare the
fast planner against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
import shapely
import shapely.affinity
from numpy.typing import NDArray
from scipy.sparse import csgraph

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class NoflyInstance:
    """Raw zones and free points in local metres, with the buffer they were drawn for."""

    zones_xy: tuple[shapely.Polygon, ...]
    names: tuple[str, ...]
    buffer_m: float
    points_xy: FloatArray = field(repr=False, compare=False)


def star_polygon(rng: np.random.Generator, centre: FloatArray, size_m: float) -> shapely.Polygon:
    """A random concave star with 4 to 8 spikes, ``size_m`` across."""
    k = int(rng.integers(4, 9))
    outer = size_m / 2
    inner = outer * rng.uniform(0.35, 0.75)
    angles = np.sort(rng.uniform(0, 2 * math.pi, 1)) + np.arange(2 * k) * math.pi / k
    angles += rng.uniform(-0.2, 0.2, 2 * k) * math.pi / k
    radii = np.where(np.arange(2 * k) % 2 == 0, outer, inner) * rng.uniform(0.85, 1.0, 2 * k)
    xy = centre + np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    return shapely.Polygon(xy)


def rectangle_polygon(rng: np.random.Generator, centre: FloatArray,
                      size_m: float) -> shapely.Polygon:
    """A random rotated rectangle whose diagonal is ``size_m``."""
    aspect = rng.uniform(0.2, 1.0)
    w = size_m / math.hypot(1.0, aspect)
    box = shapely.box(-w / 2, -aspect * w / 2, w / 2, aspect * w / 2)
    rotated = shapely.affinity.rotate(box, float(rng.uniform(0, 180)), origin=(0, 0))
    return shapely.affinity.translate(rotated, float(centre[0]), float(centre[1]))


def convex_polygon(rng: np.random.Generator, centre: FloatArray,
                   size_m: float) -> shapely.Polygon:
    """The convex hull of 5 to 12 random points in a disc ``size_m`` across."""
    k = int(rng.integers(5, 13))
    r = size_m / 2 * np.sqrt(rng.uniform(0.3, 1.0, k))
    a = rng.uniform(0, 2 * math.pi, k)
    pts = shapely.multipoints(centre + np.column_stack([r * np.cos(a), r * np.sin(a)]))
    hull: shapely.Polygon = shapely.convex_hull(pts)
    return hull


def random_zones(rng: np.random.Generator, n_zones: int, side_m: float, *,
                 min_size_m: float = 300.0, max_size_m: float = 3000.0) -> list[shapely.Polygon]:
    """``n_zones`` random stars, rectangles and convex polygons in ``[0, side_m]^2``."""
    makers = (star_polygon, rectangle_polygon, convex_polygon)
    zones = []
    for _ in range(n_zones):
        size_m = rng.uniform(min_size_m, max_size_m)
        centre = rng.uniform(size_m / 2, side_m - size_m / 2, 2)
        zones.append(makers[int(rng.integers(len(makers)))](rng, centre, size_m))
    return zones


def random_points(rng: np.random.Generator, zones: Sequence[shapely.Polygon], n_points: int,
                  side_m: float, clearance_m: float) -> FloatArray:
    """``n_points`` uniform points in ``[0, side_m]^2`` farther than ``clearance_m`` from zones."""
    tree = shapely.STRtree(list(zones))
    out: list[FloatArray] = []
    count = 0
    while count < n_points:
        cand = rng.uniform(0, side_m, (2 * (n_points - count) + 8, 2))
        near = tree.query(shapely.points(cand), predicate="dwithin", distance=clearance_m)[0]
        ok = np.setdiff1d(np.arange(len(cand)), near)[: n_points - count]
        out.append(cand[ok])
        count += ok.size
    return np.concatenate(out)


def random_instance(seed: int, *, n_zones: int = 50, n_points: int = 1000,
                    side_m: float = 60_000.0, buffer_m: float = 100.0) -> NoflyInstance:
    """A seeded random instance: zones 300 m - 3 km across, points outside the buffered zones.

    The default is the measurement instance: 50 zones and 1,000 points over 60 x 60 km.
    """
    rng = np.random.default_rng(seed)
    zones = random_zones(rng, n_zones, side_m)
    points = random_points(rng, zones, n_points, side_m, 1.5 * buffer_m + 1.0)
    return NoflyInstance(zones_xy=tuple(zones), names=tuple(f"zone-{k}" for k in range(n_zones)),
                         buffer_m=buffer_m, points_xy=points)


class ReferenceGraph:
    """Full visibility graph over every vertex of ``polygons``, with exact GEOS visibility."""

    def __init__(self, polygons: Sequence[shapely.Polygon]) -> None:
        self.polygons = list(polygons)
        self.tree = shapely.STRtree(self.polygons)
        coords = [shapely.get_coordinates(shapely.get_rings(p)) for p in self.polygons]
        self.verts = (np.unique(np.concatenate(coords), axis=0) if coords
                      else np.zeros((0, 2)))
        n = len(self.verts)
        iu, ju = np.triu_indices(n, 1)
        ok = self.visible(self.verts[iu], self.verts[ju])
        self.rows, self.cols = iu[ok], ju[ok]

    def visible(self, p: FloatArray, q: FloatArray) -> NDArray[np.bool_]:
        """Which segments ``p[i] q[i]`` do not meet the interior of any polygon."""
        same = np.all(p == q, axis=1)
        segs = shapely.linestrings(np.stack([p, q], axis=1)[~same])
        seg_idx, poly_idx = self.tree.query(segs, predicate="intersects")
        inner = ~shapely.touches(segs[seg_idx], np.array(self.polygons)[poly_idx])
        blocked_sub = np.zeros(len(segs), dtype=bool)
        blocked_sub[seg_idx[inner]] = True
        ok = np.ones(len(p), dtype=bool)
        ok[~same] = ~blocked_sub
        return ok

    def distance(self, a: FloatArray, b: FloatArray) -> float:
        """Shortest obstacle-avoiding length from ``a`` to ``b`` (inf when none exists)."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        pt = shapely.points(np.vstack([a, b]))
        if np.any(shapely.contains(np.array(self.polygons)[:, None], pt[None, :])):
            return math.inf
        n = len(self.verts)
        nodes = np.vstack([self.verts, a, b])
        ends = np.repeat([n, n + 1], n + 1)
        others = np.concatenate([np.arange(n), [n + 1], np.arange(n), [n]])
        ok = self.visible(nodes[ends], nodes[others])
        rows = np.concatenate([self.rows, ends[ok]])
        cols = np.concatenate([self.cols, others[ok]])
        w = np.linalg.norm(nodes[rows] - nodes[cols], axis=1)
        w = np.maximum(w, np.finfo(np.float64).tiny)
        adj = scipy.sparse.csr_array((w, (rows, cols)), shape=(n + 2, n + 2))
        dist = csgraph.dijkstra(adj, directed=False, indices=n)
        if np.all(a == b):
            return 0.0
        return float(dist[n + 1])
