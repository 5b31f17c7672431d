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


def corner_path(graph: VisGraph, u: int, v: int) -> FloatArray:
    """The corners of the shortest graph path from corner ``u`` to corner ``v``, in order."""
    seq = [v]
    while seq[-1] != u:
        seq.append(int(graph.pred[u, seq[-1]]))
    corners: FloatArray = graph.verts.xy_m[np.array(seq[::-1])]
    return corners
