"""Sparse links from points to the corners they see, and exact point-to-point lengths (private).

A point's *links* are the obstacle corners tangent and visible from it, with their lengths
(see :mod:`planner.legs._visgraph`). They are kept as compressed rows (:class:`PointLinks`):
a few dozen corners per point instead of one dense row over every corner. The length between
two free points of the same region is the straight segment when it is clear, else
``min over corners v of reach[i, v] + link[j, v]`` where ``reach[i, v]`` is the shortest length
from point ``i`` to corner ``v`` through the graph. Rows of the matrix are independent: they are
computed in blocks of near-equal work that a caller may hand to an executor.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.legs._visgraph import VisGraph, corner_path, point_links
from planner.legs._visibility import FloatArray, IntArray, outcodes, segments_clear

_PAIR_CHUNK = 1 << 19
"""Largest number of point pairs handled in one vectorised step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PointLinks:
    """Per point, the corners tangent and visible from it and the lengths to them.

    Compressed rows: the links of point ``i`` are ``corner[indptr[i]:indptr[i + 1]]`` (corner
    indices, ascending, int32) and ``length_m`` over the same slice (metres).
    """

    indptr: NDArray[np.int64] = field(repr=False)
    corner: NDArray[np.int32] = field(repr=False)
    length_m: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        if self.indptr.ndim != 1 or self.indptr.size < 1 or self.indptr[0] != 0:
            raise ValueError("Expected indptr of shape (n + 1,) starting at 0")
        if not (self.corner.shape == self.length_m.shape == (int(self.indptr[-1]),)):
            raise ValueError(f"Expected {int(self.indptr[-1])} corners and lengths, got "
                             f"{self.corner.shape} and {self.length_m.shape}")

    def __len__(self) -> int:
        return int(self.indptr.size - 1)

    def row(self, i: int) -> tuple[NDArray[np.int32], FloatArray]:
        """Corner indices (ascending) and lengths in metres of point ``i``."""
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.corner[a:b], self.length_m[a:b]

    def padded(self, n_corners: int) -> tuple[NDArray[np.int32], FloatArray]:
        """(n, k) corner indices and lengths, rows padded with corner ``n_corners`` and inf."""
        counts = np.diff(self.indptr)
        k = max(1, int(counts.max(initial=0)))
        idx = np.full((len(self), k), n_corners, dtype=np.int32)
        lengths = np.full((len(self), k), np.inf)
        rows = np.repeat(np.arange(len(self)), counts)
        cols = np.arange(self.corner.size) - np.repeat(self.indptr[:-1], counts)
        idx[rows, cols] = self.corner
        lengths[rows, cols] = self.length_m
        return idx, lengths

    @classmethod
    def concat(cls, parts: list[PointLinks]) -> PointLinks:
        """The rows of ``parts`` one after another."""
        offsets = np.cumsum([0] + [int(p.indptr[-1]) for p in parts])
        indptr = np.concatenate([np.zeros(1, np.int64)]
                                + [p.indptr[1:] + off for p, off in zip(parts, offsets,
                                                                        strict=False)])
        return cls(indptr=indptr.astype(np.int64),
                   corner=np.concatenate([p.corner for p in parts]).astype(np.int32),
                   length_m=np.concatenate([p.length_m for p in parts]).astype(np.float64))


def link_rows(graph: VisGraph, points: FloatArray) -> PointLinks:
    """The links of ``points`` (each must be free: outside every obstacle)."""
    v = len(graph.verts.xy_m)
    step = max(1, _PAIR_CHUNK // max(v, 1))
    indptr = [np.zeros(1, np.int64)]
    corners: list[NDArray[np.int32]] = []
    lengths: list[FloatArray] = []
    done = 0
    for s in range(0, len(points), step):
        dense = point_links(graph, points[s:s + step])
        rows, cols = np.nonzero(np.isfinite(dense))
        counts = np.bincount(rows, minlength=len(dense))
        indptr.append(np.cumsum(counts) + done)
        done += int(counts.sum())
        corners.append(cols.astype(np.int32))
        lengths.append(dense[rows, cols])
    return PointLinks(indptr=np.concatenate(indptr),
                      corner=np.concatenate(corners) if corners else np.zeros(0, np.int32),
                      length_m=np.concatenate(lengths) if lengths else np.zeros(0))


def reach_rows(graph: VisGraph, links: PointLinks, rows: IntArray) -> FloatArray:
    """(len(rows), v + 1) shortest lengths from each point through the graph to every corner.

    The last column is inf (the padding corner of :meth:`PointLinks.padded`).
    """
    v = len(graph.verts.xy_m)
    reach = np.full((len(rows), v + 1), np.inf)
    for r, i in enumerate(rows):
        idx, lengths = links.row(int(i))
        if idx.size:
            reach[r, :v] = np.min(lengths[:, None] + graph.dist_m[idx], axis=0)
    return reach


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixBlock:
    """One block of matrix rows to compute: rows ``start`` to ``stop`` against later points."""

    graph: VisGraph
    points: FloatArray
    labels: IntArray
    links: PointLinks
    start: int
    stop: int


def upper_pairs(n: int, start: int, stop: int) -> tuple[IntArray, IntArray]:
    """Pairs ``(i, j)``, ``start <= i < stop``, ``i < j < n``, row by row."""
    counts = np.maximum(n - 1 - np.arange(start, stop), 0)
    i = np.repeat(np.arange(start, stop), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    j = i + 1 + (np.arange(i.size) - first)
    return i.astype(np.intp), j.astype(np.intp)


def block_lengths(block: MatrixBlock) -> FloatArray:
    """Exact lengths of the pairs :func:`upper_pairs` lists for ``block``, in that order."""
    g = block.graph
    pts = block.points
    v = len(g.verts.xy_m)
    pad_idx, pad_len = block.links.padded(v)
    reach = reach_rows(g, block.links, np.arange(block.start, block.stop))
    rows_i, rows_j = upper_pairs(len(pts), block.start, block.stop)
    codes = outcodes(g.obstacles, pts)
    out = np.full(rows_i.size, np.inf)
    for s in range(0, rows_i.size, _PAIR_CHUNK):
        i, j = rows_i[s:s + _PAIR_CHUNK], rows_j[s:s + _PAIR_CHUNK]
        same = np.flatnonzero(block.labels[i] == block.labels[j])
        i_s, j_s = i[same], j[same]
        straight = np.linalg.norm(pts[i_s] - pts[j_s], axis=1)
        clear = segments_clear(g.obstacles, pts[i_s], pts[j_s], codes=(codes[i_s], codes[j_s]))
        res = np.full(same.size, np.inf)
        res[clear] = straight[clear]
        bent = np.flatnonzero(~clear)
        step = max(1, _PAIR_CHUNK // pad_idx.shape[1])
        for b in range(0, bent.size, step):
            k = bent[b:b + step]
            ri, cj = i_s[k] - block.start, j_s[k]
            res[k] = np.min(reach[ri[:, None], pad_idx[cj]] + pad_len[cj], axis=1)
        out[s + same] = res
    return out


def balanced_blocks(n: int, pieces: int) -> list[tuple[int, int]]:
    """Row ranges of the upper triangle of an (n, n) matrix with near-equal pair counts."""
    if n <= 1:
        return []
    pieces = max(1, min(pieces, n - 1))
    done = np.cumsum(np.arange(n - 1, -1, -1))  # pairs in rows 0..i
    total = int(done[-1])
    bounds = [0]
    for k in range(1, pieces):
        bounds.append(int(np.searchsorted(done, total * k / pieces)) + 1)
    bounds.append(n)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def linked_path(graph: VisGraph, p: FloatArray, q: FloatArray,
                link_p: tuple[NDArray[np.integer[Any]], FloatArray],
                link_q: tuple[NDArray[np.integer[Any]], FloatArray]) -> FloatArray | None:
    """The shortest polyline from ``p`` to ``q`` (both free, same region), or None.

    A clear straight segment is returned as is, even when a path through corners in line with
    it is as short (to rounding).
    """
    if segments_clear(graph.obstacles, p[None, :], q[None, :])[0]:
        return np.vstack([p, q])
    iu, lu = link_p
    iv, lv = link_q
    if iu.size == 0 or iv.size == 0:
        return None
    total = lu[:, None] + graph.dist_m[np.ix_(iu, iv)] + lv[None, :]
    best = int(np.argmin(total))
    if not np.isfinite(total.flat[best]):
        return None
    u, w = np.unravel_index(best, total.shape)
    return np.vstack([p, corner_path(graph, int(iu[u]), int(iv[w])), q])
