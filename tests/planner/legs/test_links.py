"""Sparse point links, blocked rows of the distance matrix and the map_fn path."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest

from planner.legs._links import PointLinks, balanced_blocks, upper_pairs
from planner.legs.nofly import build_zone_map
from tests.helpers.nofly_reference import ReferenceGraph, random_instance


def reversed_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """A map that runs the pieces last first (results still in order)."""
    pieces = list(items)
    done = [fn(p) for p in reversed(pieces)]
    return iter(done[::-1])


def test_point_links_rows_round_trip() -> None:
    """Rows, padding and concatenation keep every point's corners and lengths."""
    a = PointLinks(indptr=np.array([0, 2, 2, 3]), corner=np.array([1, 4, 0], np.int32),
                   length_m=np.array([1.5, 2.5, 3.0]))
    b = PointLinks(indptr=np.array([0, 1]), corner=np.array([2], np.int32),
                   length_m=np.array([7.0]))
    both = PointLinks.concat([a, b])
    assert len(both) == 4
    assert both.row(0)[0].tolist() == [1, 4] and both.row(0)[1].tolist() == [1.5, 2.5]
    assert both.row(1)[0].size == 0
    assert both.row(3)[0].tolist() == [2] and both.row(3)[1].tolist() == [7.0]
    idx, lengths = both.padded(9)
    assert idx.tolist() == [[1, 4], [9, 9], [0, 9], [2, 9]]
    assert np.isinf(lengths[1]).all() and lengths[2, 0] == 3.0


def test_point_links_reject_mismatched_arrays() -> None:
    """Corner and length arrays must match the row pointers."""
    with pytest.raises(ValueError, match="Expected 2 corners"):
        PointLinks(indptr=np.array([0, 2]), corner=np.array([1], np.int32),
                   length_m=np.array([1.0]))


@pytest.mark.parametrize(("n", "pieces"), [(2, 1), (7, 3), (50, 8), (1000, 8), (5, 20)])
def test_balanced_blocks_cover_the_upper_triangle_once(n: int, pieces: int) -> None:
    """The blocks' pairs are every (i, j) with i < j exactly once, in near-equal shares."""
    blocks = balanced_blocks(n, pieces)
    got = [p for a, b in blocks for p in zip(*upper_pairs(n, a, b), strict=True)]
    assert [(int(i), int(j)) for i, j in got] == list(itertools.combinations(range(n), 2))
    sizes = [upper_pairs(n, a, b)[0].size for a, b in blocks]
    assert max(sizes) <= 2 * n * (n - 1) / 2 / len(blocks) + n


@pytest.mark.parametrize("seed", [3, 4])
def test_matrix_same_with_any_map_and_exact(seed: int) -> None:
    """Links given or not, pieces run in any order: the same matrix, exact against brute force."""
    inst = random_instance(seed, n_zones=8, n_points=30, side_m=8_000.0, buffer_m=60.0)
    zmap = build_zone_map(inst.zones_xy, inst.buffer_m, inst.names)
    pts = inst.points_xy
    plain = zmap.distance_matrix(pts)
    links = zmap.point_links(pts, map_fn=reversed_map)
    again = zmap.distance_matrix(pts, links=links, map_fn=reversed_map)
    assert np.array_equal(plain, again)
    ref = ReferenceGraph(zmap.merged)
    bent = 0
    for i, j in itertools.combinations(range(0, len(pts), 3), 2):
        r = ref.distance(pts[i], pts[j])
        if np.isinf(r):
            assert np.isinf(plain[i, j])
            continue
        assert plain[i, j] == pytest.approx(r, rel=1e-9)
        bent += r > np.linalg.norm(pts[i] - pts[j]) * (1 + 1e-9)
    assert bent > 0


def test_matrix_on_a_process_pool() -> None:
    """Rows and links computed in worker processes give the same matrix."""
    inst = random_instance(5, n_zones=6, n_points=25, side_m=6_000.0, buffer_m=40.0)
    zmap = build_zone_map(inst.zones_xy, inst.buffer_m, inst.names)
    with ProcessPoolExecutor(2) as pool:
        pooled = zmap.distance_matrix(inst.points_xy, map_fn=pool.map)
    assert np.array_equal(pooled, zmap.distance_matrix(inst.points_xy))


def test_path_finder_with_links_gives_the_paths() -> None:
    """Paths from precomputed links equal those found point by point."""
    inst = random_instance(6, n_zones=10, n_points=12, side_m=10_000.0, buffer_m=80.0)
    zmap = build_zone_map(inst.zones_xy, inst.buffer_m, inst.names)
    pts = inst.points_xy
    finder = zmap.path_finder(pts, zmap.point_links(pts))
    pairs = [(i, j) for i in range(len(pts)) for j in range(len(pts)) if i != j]
    bends = 0
    for (i, j), path in zip(pairs, zmap.paths(pts, pairs), strict=True):
        got = finder.path(i, j)
        if path is None:
            assert got is None
            continue
        assert got is not None and np.array_equal(got, path)
        bends += len(path) > 2
    assert bends > 0
