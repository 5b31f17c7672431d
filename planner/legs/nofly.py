"""Exact shortest flight paths around buffered no-fly zones, in local metres.

Every zone is grown by the safety buffer (conservatively: the polygonal approximation of the
round offset never comes closer to the zone than ``buffer_m``), overlapping zones are merged,
and shortest paths are found on the reduced visibility graph of the merged polygons (see
:mod:`planner.legs._visgraph`). Coordinates are local metres: ``x`` east, ``y`` north (the frame of
:class:`planner.geo.LocalProjection`).

Examples
--------
>>> import shapely
>>> zone = shapely.box(-10.0, -10.0, 10.0, 10.0)
>>> zmap = build_zone_map([zone], 0.0, ["square"])
>>> d = zmap.distance_matrix([[-20.0, 0.0], [20.0, 0.0]])
>>> round(float(d[0, 1]), 6)  # around a corner: 2 * sqrt(10^2 + 10^2) + 20
48.284271
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import shapely
from numpy.typing import ArrayLike

from planner.errors import InputError
from planner.legs._links import (
    MatrixBlock,
    PointLinks,
    balanced_blocks,
    block_lengths,
    link_rows,
    linked_path,
    upper_pairs,
)
from planner.legs._visgraph import VisGraph, build_vis_graph
from planner.legs._visibility import (
    BoolArray,
    FloatArray,
    IntArray,
    build_obstacles,
    convex_vertices,
    segments_clear,
)
from planner.tasks import PIECES_PER_CALL, MapFn, chunks, run_map

ZoneGeometry: TypeAlias = shapely.Polygon | shapely.MultiPolygon

EPS_REL = 1e-9
"""Robustness margin of the visibility tests, relative to the size of the scene."""

_BLOCKED = -2
_OUTSIDE = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneMap:
    """Buffered no-fly zones in local metres, ready for visibility queries.

    Build it with :func:`build_zone_map`. ``zones`` are the buffered zones (one per input zone,
    named by ``names``), ``merged`` the polygons of their union: the obstacles paths avoid.
    ``eps_m`` is the robustness margin: a segment entering an obstacle by less than it counts
    as clear, and every zone is grown by it on top of the buffer so that such segments still
    keep ``buffer_m`` from the raw zone.
    """

    names: tuple[str, ...]
    zones: tuple[ZoneGeometry, ...]
    buffer_m: float
    eps_m: float
    merged: tuple[shapely.Polygon, ...] = field(init=False)
    _pockets: tuple[shapely.Polygon, ...] = field(init=False, repr=False, compare=False)
    _graph: VisGraph = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.zones):
            raise InputError(f"Expected one name per zone, got {len(self.names)} names for "
                             f"{len(self.zones)} zones", field="names")
        union = shapely.union_all(np.array(self.zones, dtype=object))
        merged = tuple(shapely.orient_polygons(p) for p in shapely.get_parts(union)
                       if isinstance(p, shapely.Polygon) and not p.is_empty)
        if not (math.isfinite(self.eps_m) and self.eps_m > 0):
            raise InputError(f"Expected a finite eps_m > 0, got {self.eps_m!r}", field="eps_m")
        pockets = tuple(shapely.Polygon(ring) for p in merged for ring in p.interiors)
        for geom in (*self.zones, *merged, *pockets):
            shapely.prepare(geom)
        verts = convex_vertices(merged)
        graph = build_vis_graph(verts, build_obstacles(merged, self.eps_m), self.eps_m)
        object.__setattr__(self, "merged", merged)
        object.__setattr__(self, "_pockets", pockets)
        object.__setattr__(self, "_graph", graph)

    @property
    def n_corners(self) -> int:
        """Number of convex corners of the merged polygons (candidate turn points)."""
        return len(self._graph.verts.xy_m)

    def blocked(self, points_xy: ArrayLike) -> BoolArray:
        """Which points lie inside a buffered zone (a point on the boundary is free).

        Parameters
        ----------
        points_xy
            (n, 2) points in local metres.

        Returns
        -------
        numpy.ndarray
            (n,) booleans.
        """
        pts = _points(points_xy)
        inside = np.zeros(len(pts), dtype=bool)
        for polygon in self.merged:
            inside |= shapely.contains_xy(polygon, pts[:, 0], pts[:, 1])
        return inside

    def zone_containing(self, point_xy: ArrayLike) -> str | None:
        """Name of a buffered zone holding ``point_xy`` (local metres), or None if it is free."""
        pt = _points(np.reshape(np.asarray(point_xy, dtype=np.float64), (1, 2)))[0]
        for name, zone in zip(self.names, self.zones, strict=True):
            if shapely.contains_xy(zone, pt[0], pt[1]):
                return name
        if self.blocked(pt[None, :])[0]:
            # On the shared edge of two zones: inside the union, on the boundary of each.
            for name, zone in zip(self.names, self.zones, strict=True):
                if shapely.intersects_xy(zone, pt[0], pt[1]):
                    return name
        return None

    def enclosed(self, points_xy: ArrayLike) -> BoolArray:
        """Which points are outside every zone but in a pocket that no path leaves.

        Parameters
        ----------
        points_xy
            (n, 2) points in local metres.

        Returns
        -------
        numpy.ndarray
            (n,) booleans.
        """
        labels = self._labels(_points(points_xy))
        result: BoolArray = labels >= 0
        return result

    def segment_clear(self, a_xy: ArrayLike, b_xy: ArrayLike) -> bool:
        """Whether the straight segment from ``a_xy`` to ``b_xy`` avoids every zone interior.

        Touching a zone boundary is allowed; the test is exact up to ``eps_m``.
        """
        ends = _points(np.vstack([np.asarray(a_xy, np.float64), np.asarray(b_xy, np.float64)]))
        deep = ~(self.blocked(ends) & self._far_inside(ends))
        return bool(np.all(deep) and
                    segments_clear(self._graph.obstacles, ends[:1], ends[1:])[0])

    def point_links(self, points_xy: ArrayLike, *, map_fn: MapFn | None = None) -> PointLinks:
        """The corners each point sees on a shortest path, and the lengths to them.

        Parameters
        ----------
        points_xy
            (n, 2) points in local metres.
        map_fn
            Runs independent pieces of the work (``Executor.map``-like); in order when None.

        Returns
        -------
        PointLinks
            One row per point (empty for a point inside a zone); the same with or without
            ``map_fn``.
        """
        pts = _points(points_xy)
        free = np.flatnonzero(self._labels(pts) != _BLOCKED)
        parts = run_map(map_fn, _link_piece,
                        [(self._graph, pts[c]) for c in chunks(list(free), PIECES_PER_CALL)])
        got = PointLinks.concat(parts) if parts else link_rows(self._graph, pts[:0])
        counts = np.zeros(len(pts), dtype=np.int64)
        counts[free] = np.diff(got.indptr)
        return PointLinks(indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                          corner=got.corner, length_m=got.length_m)

    def distance_matrix(self, points_xy: ArrayLike, *, links: PointLinks | None = None,
                        map_fn: MapFn | None = None) -> FloatArray:
        """Exact shortest lengths of paths between points that avoid every zone interior.

        Parameters
        ----------
        points_xy
            (n, 2) points in local metres.
        links
            What :meth:`point_links` gave for these points (computed when None).
        map_fn
            Runs independent blocks of rows (``Executor.map``-like); in order when None. The
            matrix is the same either way.

        Returns
        -------
        numpy.ndarray
            (n, n) lengths in metres: 0 on the diagonal, inf where no path exists (a point
            inside a zone, or the points on different sides of a ring of zones).
        """
        pts = _points(points_xy)
        n = len(pts)
        labels = self._labels(pts)
        if links is None:
            links = self.point_links(pts, map_fn=map_fn)
        if len(links) != n:
            raise InputError(f"Expected links of {n} points, got {len(links)}", field="links")
        dist = np.full((n, n), np.inf)
        free = np.flatnonzero(labels != _BLOCKED)
        fp = pts[free]
        counts = np.diff(links.indptr)[free]
        starts = links.indptr[free]
        take = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        take = take + np.arange(int(counts.sum()))
        sub = PointLinks(indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                         corner=links.corner[take], length_m=links.length_m[take])
        blocks = balanced_blocks(len(free), PIECES_PER_CALL)
        pieces = [MatrixBlock(graph=self._graph, points=fp, labels=labels[free], links=sub,
                              start=a, stop=b) for a, b in blocks]
        for (a, b), lengths in zip(blocks, run_map(map_fn, block_lengths, pieces), strict=True):
            i, j = upper_pairs(len(free), a, b)
            dist[free[i], free[j]] = lengths
            dist[free[j], free[i]] = lengths
        np.fill_diagonal(dist, 0.0)
        return dist

    def shortest_path(self, a_xy: ArrayLike, b_xy: ArrayLike) -> FloatArray | None:
        """The shortest polyline from ``a_xy`` to ``b_xy`` avoiding every zone interior.

        Returns
        -------
        numpy.ndarray or None
            (k, 2) vertices in local metres: the start, the turn points, the end. None when no
            path exists (an end inside a zone or the ends separated by a ring of zones).
        """
        ends = _points(np.vstack([np.asarray(a_xy, np.float64), np.asarray(b_xy, np.float64)]))
        return self.paths(ends, [(0, 1)])[0]

    def paths(self, points_xy: ArrayLike,
              pairs: Sequence[tuple[int, int]]) -> list[FloatArray | None]:
        """Shortest polylines for many pairs of points, as :meth:`shortest_path` gives them.

        Parameters
        ----------
        points_xy
            (n, 2) points in local metres.
        pairs
            ``(i, j)`` indices into ``points_xy``: a path from point ``i`` to point ``j``.

        Returns
        -------
        list
            One (k, 2) polyline per pair, or None for a pair with no path.
        """
        pts = _points(points_xy)
        used = sorted({int(k) for pair in pairs for k in pair})
        if any(k < 0 or k >= len(pts) for k in used):
            raise InputError(f"Expected point indices in [0, {len(pts)}), got {used}",
                             field="pairs")
        finder = self.path_finder(pts)
        return [finder.path(i, j) for i, j in pairs]

    def path_finder(self, points_xy: ArrayLike, links: PointLinks | None = None) -> PathFinder:
        """Shortest paths between points of ``points_xy``, each point's links found once.

        Parameters
        ----------
        points_xy
            (n, 2) points in local metres.
        links
            What :meth:`point_links` gave for these points; else each point's links are
            computed the first time a path needs them.

        Returns
        -------
        PathFinder
            Its :meth:`PathFinder.path` gives the same polylines as :meth:`paths`.
        """
        pts = _points(points_xy)
        if links is not None and len(links) != len(pts):
            raise InputError(f"Expected links of {len(pts)} points, got {len(links)}",
                             field="links")
        return PathFinder(graph=self._graph, points=pts, labels=self._labels(pts), links=links)

    def _labels(self, pts: FloatArray) -> IntArray:
        """Per point: -2 inside a zone, -1 free and outside every pocket, else the pocket index."""
        labels = np.full(len(pts), _OUTSIDE, dtype=np.intp)
        for k, pocket in enumerate(self._pockets):
            labels[shapely.intersects_xy(pocket, pts[:, 0], pts[:, 1])] = k
        labels[self.blocked(pts)] = _BLOCKED
        return labels

    def _far_inside(self, pts: FloatArray) -> BoolArray:
        """Which points lie deeper than ``eps_m`` inside a merged polygon."""
        boundary = [shapely.boundary(p) for p in self.merged]
        if not boundary:
            return np.zeros(len(pts), dtype=bool)
        depth = shapely.distance(shapely.points(pts)[:, None],
                                 np.array(boundary, dtype=object)[None, :]).min(axis=1)
        result: BoolArray = depth > self.eps_m
        return result


@dataclass(slots=True, kw_only=True)
class PathFinder:
    """Shortest paths between points of one array; see :meth:`ZoneMap.path_finder`."""

    graph: VisGraph = field(repr=False)
    points: FloatArray = field(repr=False)
    labels: IntArray = field(repr=False)
    links: PointLinks | None = field(default=None, repr=False)
    _rows: dict[int, tuple[IntArray, FloatArray]] = field(default_factory=dict, repr=False)

    def path(self, i: int, j: int) -> FloatArray | None:
        """The shortest polyline from point ``i`` to point ``j``, or None when none exists."""
        if self.labels[i] == _BLOCKED or self.labels[j] == _BLOCKED:
            return None
        if self.labels[i] != self.labels[j]:
            return None
        if i == j:
            return np.vstack([self.points[i], self.points[i]])
        return linked_path(self.graph, self.points[i], self.points[j], self._row(i),
                           self._row(j))

    def _row(self, i: int) -> tuple[IntArray, FloatArray]:
        if self.links is not None:
            corner, length = self.links.row(i)
            return corner.astype(np.intp), length
        if i not in self._rows:
            got = link_rows(self.graph, self.points[i:i + 1])
            self._rows[i] = (got.corner.astype(np.intp), got.length_m)
        return self._rows[i]


def _link_piece(piece: tuple[VisGraph, FloatArray]) -> PointLinks:
    """Links of one piece of points (a task of :meth:`ZoneMap.point_links`)."""
    return link_rows(*piece)


def _points(points_xy: ArrayLike) -> FloatArray:
    """Validate (n, 2) finite local metres."""
    pts = np.asarray(points_xy, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.all(np.isfinite(pts)):
        raise InputError(f"Expected finite points of shape (n, 2) in local metres, got shape "
                         f"{pts.shape}", field="points_xy")
    return pts


def build_zone_map(zones_xy: Sequence[ZoneGeometry], buffer_m: float, names: Sequence[str],
                   *, quad_segs: int = 3) -> ZoneMap:
    """Buffer no-fly zones conservatively, merge them and prepare path queries.

    Parameters
    ----------
    zones_xy
        The raw zones in local metres.
    buffer_m
        Safety distance: every point of a path keeps at least this far from every raw zone.
    names
        One name per zone (names may repeat, for example the parts of one zone).
    quad_segs
        Segments per quarter circle of the round offset at convex corners.

    Returns
    -------
    ZoneMap
        The buffered, merged zones.

    Raises
    ------
    InputError
        For a bad buffer, a name count that does not match, or an empty or invalid zone.
    """
    if not (isinstance(buffer_m, int | float) and math.isfinite(buffer_m) and buffer_m >= 0):
        raise InputError(f"Expected a finite buffer_m >= 0, got {buffer_m!r}", field="buffer_m")
    if not (isinstance(quad_segs, int) and quad_segs >= 1):
        raise InputError(f"Expected quad_segs >= 1, got {quad_segs!r}", field="quad_segs")
    if len(names) != len(zones_xy):
        raise InputError(f"Expected one name per zone, got {len(names)} names for "
                         f"{len(zones_xy)} zones", field="names")
    for name, zone in zip(names, zones_xy, strict=True):
        if not isinstance(zone, shapely.Polygon | shapely.MultiPolygon) or zone.is_empty:
            raise InputError(f"Expected a non-empty polygon, got {zone.geom_type}",
                             item=f"zone '{name}'")
        if not zone.is_valid:
            raise InputError(f"Expected a valid polygon, got {shapely.is_valid_reason(zone)}",
                             item=f"zone '{name}'")
    raw = list(zones_xy)
    size_m = 1.0
    if raw:
        x0, y0, x1, y1 = shapely.total_bounds(np.array(raw, dtype=object))
        size_m = max(x1 - x0 + 3 * buffer_m, y1 - y0 + 3 * buffer_m, size_m)
    eps_m = float(EPS_REL * size_m)
    join = "mitre" if buffer_m == 0 else "round"
    buffered = tuple(_grow(zone, buffer_m, eps_m, quad_segs, join) for zone in raw)
    return ZoneMap(names=tuple(names), zones=buffered, buffer_m=float(buffer_m), eps_m=eps_m)


def _grow(zone: ZoneGeometry, buffer_m: float, eps_m: float, quad_segs: int,
          join: str) -> ZoneGeometry:
    """Grow ``zone`` so that its boundary keeps at least ``buffer_m + eps_m / 2`` from it.

    A round offset is drawn with chords that cut inside the true offset curve. A chord spanning
    ``pi / (2 quad_segs)`` sags to ``cos(pi / (4 quad_segs))`` of the radius, and the radius is
    enlarged by that factor first. GEOS rounds the number of chords per corner, so a chord can
    span up to 1.5 times that angle: the distance actually kept is measured and the radius
    scaled up until it is enough (the kept distance is proportional to the radius). A mitre
    offset (used for the bare robustness margin, to keep the corners of the zone) lies outside
    the round one and is checked the same way.
    """
    want_m = buffer_m + eps_m
    if join == "mitre":
        grown = zone.buffer(want_m, join_style="mitre", mitre_limit=10.0)
        if float(shapely.distance(zone, grown.boundary)) >= want_m - eps_m / 2:
            return grown
    radius_m = want_m / math.cos(math.pi / (4 * quad_segs))
    for _ in range(4):
        grown = zone.buffer(radius_m, quad_segs=quad_segs)
        kept_m = float(shapely.distance(zone, grown.boundary))
        if kept_m >= want_m - eps_m / 2:
            break
        radius_m *= want_m / kept_m * (1 + 1e-12)
    result: ZoneGeometry = grown
    return result
