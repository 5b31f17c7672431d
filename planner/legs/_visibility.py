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
UInt8Array = NDArray[np.uint8]

_CHUNK = 1 << 19
"""Largest number of (segment, obstacle) or (segment, edge) pairs tested in one numpy step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Obstacles:
    """Edges of the shrunk obstacles, one group per polygon, with bounding boxes and circles.

    ``edge_a[k]`` and ``edge_b[k]`` hold the (e, 2) start and end points of the edges of shrunk
    polygon ``k``; ``bbox_m`` is (k, 4) ``minx, miny, maxx, maxy``; ``centre_m`` (k, 2) and
    ``radius_m`` (k,) a circle around each polygon. The same edges flattened over all polygons:
    ``flat_a`` (E, 2) start points, ``flat_dir`` (E, 2) ``end - start``, ``flat_next`` (E,) the
    edge starting where each edge ends (its ring's next edge), and ``first_edge`` (k + 1,) where
    each polygon's edges begin.
    """

    edge_a: tuple[FloatArray, ...] = field(repr=False, compare=False)
    edge_b: tuple[FloatArray, ...] = field(repr=False, compare=False)
    bbox_m: FloatArray = field(repr=False, compare=False)
    centre_m: FloatArray = field(repr=False, compare=False)
    radius_m: FloatArray = field(repr=False, compare=False)
    flat_a: FloatArray = field(repr=False, compare=False)
    flat_dir: FloatArray = field(repr=False, compare=False)
    flat_next: IntArray = field(repr=False, compare=False)
    first_edge: IntArray = field(repr=False, compare=False)


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
    nexts: list[IntArray] = []
    # Round joins drawn with chords stay within eps_m of the exact inward offset on the outer
    # side, so every point deeper than eps_m is inside the shrunk polygon.
    shrunk = shapely.buffer(np.array(polygons, dtype=object), -eps_m, quad_segs=2)
    parts = [p for geom in shrunk for p in shapely.get_parts(geom) if not p.is_empty]
    done = 0
    for polygon in parts:
        rings = _rings(polygon)
        edge_a.append(np.concatenate(rings))
        edge_b.append(np.concatenate([np.roll(r, -1, axis=0) for r in rings]))
        for r in rings:
            nexts.append(done + np.roll(np.arange(len(r), dtype=np.intp), -1))
            done += len(r)
    if not parts:
        empty = np.zeros((0, 2))
        return Obstacles(edge_a=(), edge_b=(), bbox_m=np.zeros((0, 4)),
                         centre_m=empty, radius_m=np.zeros(0), flat_a=empty, flat_dir=empty,
                         flat_next=np.zeros(0, np.intp), first_edge=np.zeros(1, np.intp))
    bbox = np.array([[a[:, 0].min(), a[:, 1].min(), a[:, 0].max(), a[:, 1].max()]
                     for a in edge_a])
    centre = (bbox[:, :2] + bbox[:, 2:]) / 2
    radius = np.array([np.linalg.norm(a - c, axis=1).max() for a, c in zip(edge_a, centre,
                                                                          strict=True)])
    flat_a = np.concatenate(edge_a)
    first = np.concatenate([[0], np.cumsum([len(a) for a in edge_a])]).astype(np.intp)
    return Obstacles(edge_a=tuple(edge_a), edge_b=tuple(edge_b), bbox_m=bbox,
                     centre_m=centre, radius_m=radius * (1 + 1e-9) + eps_m, flat_a=flat_a,
                     flat_dir=np.concatenate(edge_b) - flat_a,
                     flat_next=np.concatenate(nexts), first_edge=first)


def outcodes(obstacles: Obstacles, points: FloatArray) -> UInt8Array:
    """(n, k) position of each point against each obstacle's bounding box.

    Bit 1: left of it, 2: right, 4: below, 8: above. The bounding box of a segment meets an
    obstacle's exactly when the codes of its two ends share no bit there.
    """
    x, y = points[:, 0, None], points[:, 1, None]
    b = obstacles.bbox_m
    codes = (x < b[:, 0]).astype(np.uint8)
    codes |= (x > b[:, 2]).astype(np.uint8) << 1
    codes |= (y < b[:, 1]).astype(np.uint8) << 2
    codes |= (y > b[:, 3]).astype(np.uint8) << 3
    return codes


def segments_clear(obstacles: Obstacles, p: FloatArray, q: FloatArray, *,
                   codes: tuple[UInt8Array, UInt8Array] | None = None) -> BoolArray:
    """Which segments ``p[i] -> q[i]`` (both (m, 2)) avoid the interior of every obstacle.

    ``codes``, the :func:`outcodes` of ``p`` and ``q`` when the caller has them, saves
    comparing every segment's bounding box with every obstacle's; the answer is the same.
    """
    clear = np.ones(len(p), dtype=bool)
    n_obs = len(obstacles.edge_a)
    if len(p) == 0 or n_obs == 0:
        return clear
    step = max(1, _CHUNK // n_obs)
    b = obstacles.bbox_m
    for s in range(0, len(p), step):
        if codes is not None:
            near = (codes[0][s:s + step] & codes[1][s:s + step]) == 0
        else:
            lo = np.minimum(p[s:s + step], q[s:s + step])
            hi = np.maximum(p[s:s + step], q[s:s + step])
            near = ((lo[:, 0, None] <= b[:, 2]) & (hi[:, 0, None] >= b[:, 0])
                    & (lo[:, 1, None] <= b[:, 3]) & (hi[:, 1, None] >= b[:, 1]))
        obs, seg = np.nonzero(near.T)
        bounds = np.searchsorted(obs, np.arange(n_obs + 1))
        for k in np.flatnonzero(np.diff(bounds)):
            cand = seg[bounds[k]:bounds[k + 1]] + s
            cand = cand[clear[cand]]
            if cand.size:
                _clear_of(obstacles, int(k), p, q, cand, clear)
    return clear


def _clear_of(obstacles: Obstacles, k: int, p: FloatArray, q: FloatArray, cand: IntArray,
              clear: BoolArray) -> None:
    """Mark in ``clear`` the segments ``cand`` that meet (closed test) an edge of obstacle ``k``.

    The segment's distance to the obstacle's circle is tested first; then the segment's side of
    every corner (an edge whose ends lie strictly on one side is missed), and only for the edges
    across the segment's line the edge's side of the segment's ends.
    """
    pc = p[cand]
    d = q[cand] - pc
    w = obstacles.centre_m[k] - pc
    dd = np.einsum("ij,ij->i", d, d)
    t = np.clip(np.einsum("ij,ij->i", w, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    off = w - t[:, None] * d
    keep = np.einsum("ij,ij->i", off, off) <= obstacles.radius_m[k] ** 2
    cand, pc, d = cand[keep], pc[keep], d[keep]
    first, last = int(obstacles.first_edge[k]), int(obstacles.first_edge[k + 1])
    a = obstacles.flat_a[first:last]
    nxt = obstacles.flat_next[first:last] - first
    step = max(1, _CHUNK // (last - first))
    for s in range(0, cand.size, step):
        ps, ds = pc[s:s + step], d[s:s + step]
        pa_x = a[None, :, 0] - ps[:, 0, None]
        pa_y = a[None, :, 1] - ps[:, 1, None]
        side = np.sign(ds[:, 0, None] * pa_y - ds[:, 1, None] * pa_x)
        row, col = np.nonzero(side * side[:, nxt] <= 0)
        pa = np.column_stack([pa_x[row, col], pa_y[row, col]])
        qa = pa - ds[row]
        e = obstacles.flat_dir[first + col]
        o3 = e[:, 1] * pa[:, 0] - e[:, 0] * pa[:, 1]
        o4 = e[:, 1] * qa[:, 0] - e[:, 0] * qa[:, 1]
        meets = ~(((o3 > 0) & (o4 > 0)) | ((o3 < 0) & (o4 < 0)))
        clear[cand[s + row[meets]]] = False


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
