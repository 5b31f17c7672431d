"""Reduced visibility graph over obstacle corners and shortest paths through it (private).

Only convex corners can be turn points of a shortest path, and every segment of a shortest path
is tangent to the obstacle at the corners it joins. The graph therefore keeps only corner pairs
that are mutually tangent and visible; all-pairs shortest paths between corners come from
Dijkstra. A path between two free points is either their straight segment (when clear) or
``|p u| + G[u, v] + |v q|`` for corners ``u`` tangent and visible from ``p`` and ``v`` from ``q``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from scipy.sparse import csgraph

from planner.legs._visibility import (
    ConvexVertices,
    FloatArray,
    IntArray,
    Obstacles,
    segments_clear,
    tangent,
)

_PAIR_CHUNK = 1 << 20
"""Largest number of candidate pairs handled in one vectorised step."""

_STRAIGHT_RTOL = 1e-12
"""A path via corners at most ``1 + _STRAIGHT_RTOL`` times the straight line is kept as is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VisGraph:
    """Corners, obstacles and all-pairs shortest corner-to-corner lengths in metres."""

    verts: ConvexVertices = field(repr=False, compare=False)
    obstacles: Obstacles = field(repr=False, compare=False)
    tol_m: float
    dist_m: FloatArray = field(repr=False, compare=False)
    pred: IntArray = field(repr=False, compare=False)


def build_vis_graph(verts: ConvexVertices, obstacles: Obstacles, tol_m: float) -> VisGraph:
    """Build the reduced visibility graph over ``verts`` and solve all pairs with Dijkstra."""
    n = len(verts.xy_m)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    iu, ju = np.triu_indices(n, 1)
    for s in range(0, iu.size, _PAIR_CHUNK):
        i, j = iu[s:s + _PAIR_CHUNK], ju[s:s + _PAIR_CHUNK]
        keep = tangent(verts.xy_m[i], verts, j, tol_m) & tangent(verts.xy_m[j], verts, i, tol_m)
        i, j = i[keep], j[keep]
        keep = segments_clear(obstacles, verts.xy_m[i], verts.xy_m[j])
        rows.append(i[keep])
        cols.append(j[keep])
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.intp)
    w = np.linalg.norm(verts.xy_m[r] - verts.xy_m[c], axis=1)
    # Coincident corners (a ring touching itself) are joined with a zero-length edge, which a
    # sparse matrix cannot hold as an explicit zero: give it the smallest positive weight.
    w = np.maximum(w, np.finfo(np.float64).tiny)
    adj = scipy.sparse.csr_array((w, (r, c)), shape=(n, n))
    if n:
        dist, pred = csgraph.shortest_path(adj, method="D", directed=False,
                                           return_predecessors=True)
    else:
        dist, pred = np.zeros((0, 0)), np.zeros((0, 0), dtype=np.intp)
    return VisGraph(verts=verts, obstacles=obstacles, tol_m=tol_m,
                    dist_m=np.asarray(dist, dtype=np.float64), pred=np.asarray(pred, np.intp))


def point_links(graph: VisGraph, points: FloatArray) -> FloatArray:
    """(n, v) lengths from each point to each corner tangent and visible from it, else inf."""
    n, v = len(points), len(graph.verts.xy_m)
    links = np.full((n, v), np.inf)
    if n == 0 or v == 0:
        return links
    step = max(1, _PAIR_CHUNK // v)
    for s in range(0, n, step):
        i, j = np.divmod(np.arange(s * v, min(n, s + step) * v), v)
        keep = tangent(points[i], graph.verts, j, graph.tol_m)
        i, j = i[keep], j[keep]
        keep = segments_clear(graph.obstacles, points[i], graph.verts.xy_m[j])
        i, j = i[keep], j[keep]
        links[i, j] = np.linalg.norm(points[i] - graph.verts.xy_m[j], axis=1)
    return links


def _reach(graph: VisGraph, links: FloatArray) -> FloatArray:
    """(n, v) shortest lengths from each point to every corner through the graph."""
    reach = np.full(links.shape, np.inf)
    for i in range(len(links)):
        idx = np.flatnonzero(np.isfinite(links[i]))
        if idx.size:
            reach[i] = np.min(links[i, idx, None] + graph.dist_m[idx], axis=0)
    return reach


def via_matrix(graph: VisGraph, links: FloatArray) -> FloatArray:
    """(n, n) shortest lengths between points that pass through at least one corner."""
    reach = _reach(graph, links)
    via = np.full((len(links), len(links)), np.inf)
    for j in range(len(links)):
        idx = np.flatnonzero(np.isfinite(links[j]))
        if idx.size:
            via[:, j] = np.min(reach[:, idx] + links[j, idx], axis=1)
    result: FloatArray = np.minimum(via, via.T)
    return result


def with_straight(graph: VisGraph, points: FloatArray, labels: IntArray,
                  via: FloatArray) -> FloatArray:
    """Point-to-point lengths: ``via`` lowered to the straight length where the segment is clear.

    Only pairs whose straight segment would be shorter than the path via corners are tested.
    Points with different ``labels`` (outside, or in different pockets) are cut apart.
    """
    n = len(points)
    out = via.copy()
    step = max(1, _PAIR_CHUNK // max(n, 1))
    cols = np.arange(n)
    for r0 in range(0, n, step):
        i, j = np.nonzero(cols[None, :] > np.arange(r0, min(n, r0 + step))[:, None])
        i += r0
        straight = np.linalg.norm(points[i] - points[j], axis=1)
        same = labels[i] == labels[j]
        test = np.flatnonzero(same & (via[i, j] > straight * (1 + _STRAIGHT_RTOL)))
        clear = test[segments_clear(graph.obstacles, points[i[test]], points[j[test]])]
        out[i[clear], j[clear]] = straight[clear]
        out[i[~same], j[~same]] = np.inf
        out[j, i] = out[i, j]
    return out


def corner_path(graph: VisGraph, u: int, v: int) -> FloatArray:
    """The corners of the shortest graph path from corner ``u`` to corner ``v``, in order."""
    seq = [v]
    while seq[-1] != u:
        seq.append(int(graph.pred[u, seq[-1]]))
    corners: FloatArray = graph.verts.xy_m[np.array(seq[::-1])]
    return corners


def pair_path(graph: VisGraph, p: FloatArray, q: FloatArray, links_p: FloatArray,
              links_q: FloatArray) -> FloatArray | None:
    """The shortest polyline from ``p`` to ``q`` (both free), or None when none exists.

    A clear straight segment is returned as is, even when a path through corners in line with
    it is as short (to rounding).
    """
    if segments_clear(graph.obstacles, p[None, :], q[None, :])[0]:
        return np.vstack([p, q])
    iu = np.flatnonzero(np.isfinite(links_p))
    iv = np.flatnonzero(np.isfinite(links_q))
    if iu.size == 0 or iv.size == 0:
        return None
    total = links_p[iu, None] + graph.dist_m[np.ix_(iu, iv)] + links_q[None, iv]
    best = int(np.argmin(total))
    if not np.isfinite(total.flat[best]):
        return None
    u, v = np.unravel_index(best, total.shape)
    return np.vstack([p, corner_path(graph, int(iu[u]), int(iv[v])), q])
