"""Numpy kernels for visibility among polygonal obstacles, in local metres (private).

The obstacles are the merged, buffered no-fly polygons. A segment is *clear* when it does not
cross the interior of any obstacle; touching a boundary is fine. For robustness the test runs
against the obstacles shrunk by a tiny ``eps_m``: a segment is blocked when it meets (touches
or crosses) an edge of a shrunk obstacle. Every endpoint handed to :func:`segments_clear` must
lie outside the shrunk obstacles (free points and obstacle vertices do), so meeting no shrunk
edge means avoiding every shrunk interior.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

_CHUNK = 1 << 21
"""Largest number of (segment, edge) pairs tested in one numpy broadcast."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Obstacles:
    """Edges of the shrunk obstacles, one group per polygon, with bounding boxes and circles.

    ``edge_a[k]`` and ``edge_b[k]`` hold the (e, 2) start and end points of the edges of shrunk
    polygon ``k``; ``bbox_m`` is (k, 4) ``minx, miny, maxx, maxy``; ``centre_m`` (k, 2) and
    ``radius_m`` (k,) a circle around each polygon.
    """

    edge_a: tuple[FloatArray, ...] = field(repr=False, compare=False)
    edge_b: tuple[FloatArray, ...] = field(repr=False, compare=False)
    bbox_m: FloatArray = field(repr=False, compare=False)
    centre_m: FloatArray = field(repr=False, compare=False)
    radius_m: FloatArray = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvexVertices:
    """Convex corners of the obstacles (interior angle below 180 degrees).

    ``xy_m`` (v, 2) are the corners; ``to_prev`` and ``to_next`` (v, 2) unit vectors from each
    corner along its two edges. Only these corners can be turn points of a shortest path.
    """

    xy_m: FloatArray = field(repr=False, compare=False)
    to_prev: FloatArray = field(repr=False, compare=False)
    to_next: FloatArray = field(repr=False, compare=False)


def _rings(polygon: shapely.Polygon) -> list[FloatArray]:
    """Open rings (last vertex not repeated), exterior counter-clockwise, holes clockwise."""
    oriented = shapely.orient_polygons(polygon)
    rings = [oriented.exterior, *oriented.interiors]
    out = []
    for ring in rings:
        xy = np.asarray(ring.coords, dtype=np.float64)[:-1]
        keep = np.any(xy != np.roll(xy, 1, axis=0), axis=1)
        out.append(xy[keep])
    return out


def convex_vertices(polygons: tuple[shapely.Polygon, ...]) -> ConvexVertices:
    """The convex corners of ``polygons``, with the directions of their edges."""
    xy, to_prev, to_next = [], [], []
    for polygon in polygons:
        for ring in _rings(polygon):
            prev = np.roll(ring, 1, axis=0) - ring
            nxt = np.roll(ring, -1, axis=0) - ring
            prev /= np.linalg.norm(prev, axis=1)[:, None]
            nxt /= np.linalg.norm(nxt, axis=1)[:, None]
            # The interior lies left of every edge: a left turn (prev -> vertex -> next) is a
            # convex corner of the obstacle.
            turn = -prev[:, 0] * nxt[:, 1] + prev[:, 1] * nxt[:, 0]
            convex = turn > 1e-12
            xy.append(ring[convex])
            to_prev.append(prev[convex])
            to_next.append(nxt[convex])
    if not xy:
        empty = np.zeros((0, 2))
        return ConvexVertices(xy_m=empty, to_prev=empty, to_next=empty)
    return ConvexVertices(xy_m=np.concatenate(xy), to_prev=np.concatenate(to_prev),
                          to_next=np.concatenate(to_next))


def build_obstacles(polygons: tuple[shapely.Polygon, ...], eps_m: float) -> Obstacles:
    """Shrink ``polygons`` by ``eps_m`` and collect their edges for :func:`segments_clear`."""
    edge_a: list[FloatArray] = []
    edge_b: list[FloatArray] = []
    # Round joins drawn with chords stay within eps_m of the exact inward offset on the outer
    # side, so every point deeper than eps_m is inside the shrunk polygon.
    shrunk = shapely.buffer(np.array(polygons, dtype=object), -eps_m, quad_segs=2)
    parts = [p for geom in shrunk for p in shapely.get_parts(geom) if not p.is_empty]
    for polygon in parts:
        rings = _rings(polygon)
        edge_a.append(np.concatenate(rings))
        edge_b.append(np.concatenate([np.roll(r, -1, axis=0) for r in rings]))
    if not parts:
        return Obstacles(edge_a=(), edge_b=(), bbox_m=np.zeros((0, 4)),
                         centre_m=np.zeros((0, 2)), radius_m=np.zeros(0))
    bbox = np.array([[a[:, 0].min(), a[:, 1].min(), a[:, 0].max(), a[:, 1].max()]
                     for a in edge_a])
    centre = (bbox[:, :2] + bbox[:, 2:]) / 2
    radius = np.array([np.linalg.norm(a - c, axis=1).max() for a, c in zip(edge_a, centre,
                                                                          strict=True)])
    return Obstacles(edge_a=tuple(edge_a), edge_b=tuple(edge_b), bbox_m=bbox,
                     centre_m=centre, radius_m=radius * (1 + 1e-9) + eps_m)


def _meets_any(p: FloatArray, q: FloatArray, a: FloatArray, b: FloatArray) -> BoolArray:
    """For each segment ``p[i] q[i]``: does it meet (closed test) any edge ``a[j] b[j]``?"""
    d = (q - p)[:, None, :]
    e = (b - a)[None, :, :]
    pa = a[None, :, :] - p[:, None, :]
    pb = b[None, :, :] - p[:, None, :]
    o1 = d[..., 0] * pa[..., 1] - d[..., 1] * pa[..., 0]
    o2 = d[..., 0] * pb[..., 1] - d[..., 1] * pb[..., 0]
    # orientations of p and q relative to edge a->b: cross(e, p - a) = cross(e, -pa)
    qa = pa - d
    o3 = e[..., 1] * pa[..., 0] - e[..., 0] * pa[..., 1]
    o4 = e[..., 1] * qa[..., 0] - e[..., 0] * qa[..., 1]
    apart = ((o1 > 0) & (o2 > 0)) | ((o1 < 0) & (o2 < 0))
    apart |= ((o3 > 0) & (o4 > 0)) | ((o3 < 0) & (o4 < 0))
    result: BoolArray = ~np.all(apart, axis=1)
    return result


def segments_clear(obstacles: Obstacles, p: FloatArray, q: FloatArray) -> BoolArray:
    """Which segments ``p[i] -> q[i]`` (both (m, 2)) avoid the interior of every obstacle."""
    clear = np.ones(len(p), dtype=bool)
    if len(p) == 0:
        return clear
    lo = np.minimum(p, q)
    hi = np.maximum(p, q)
    for k in range(len(obstacles.edge_a)):
        x0, y0, x1, y1 = obstacles.bbox_m[k]
        cand = np.flatnonzero(clear & (lo[:, 0] <= x1) & (hi[:, 0] >= x0)
                              & (lo[:, 1] <= y1) & (hi[:, 1] >= y0))
        if cand.size == 0:
            continue
        # Segment-to-centre distance against the bounding circle.
        pc = p[cand]
        d = q[cand] - pc
        w = obstacles.centre_m[k] - pc
        dd = np.einsum("ij,ij->i", d, d)
        t = np.clip(np.einsum("ij,ij->i", w, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
        off = w - t[:, None] * d
        cand = cand[np.einsum("ij,ij->i", off, off) <= obstacles.radius_m[k] ** 2]
        a, b = obstacles.edge_a[k], obstacles.edge_b[k]
        step = max(1, _CHUNK // len(a))
        for s in range(0, cand.size, step):
            chunk = cand[s:s + step]
            clear[chunk[_meets_any(p[chunk], q[chunk], a, b)]] = False
    return clear


def tangent(p: FloatArray, verts: ConvexVertices, idx: IntArray, tol_m: float) -> BoolArray:
    """Whether the line through ``p[i]`` and corner ``idx[i]`` is tangent to the obstacle there.

    Tangent means both edges of the corner lie on the same side of the line (or on it, within
    ``tol_m``). A shortest path bending at a corner is tangent there, on both of its segments.
    """
    v = verts.xy_m[idx]
    r = v - p
    sa = r[:, 0] * verts.to_prev[idx, 1] - r[:, 1] * verts.to_prev[idx, 0]
    sb = r[:, 0] * verts.to_next[idx, 1] - r[:, 1] * verts.to_next[idx, 0]
    result: BoolArray = ~(((sa > tol_m) & (sb < -tol_m)) | ((sa < -tol_m) & (sb > tol_m)))
    return result
