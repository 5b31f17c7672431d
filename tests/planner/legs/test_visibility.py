"""The segment visibility kernel against a plain test of every segment with every edge."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from planner.legs._visibility import Obstacles, build_obstacles, outcodes, segments_clear


def meets_every_edge(obstacles: Obstacles, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per segment: does it meet (closed test, exact orientations) some obstacle edge?"""
    a = np.concatenate(obstacles.edge_a)
    b = np.concatenate(obstacles.edge_b)
    out = np.zeros(len(p), dtype=bool)
    for s in range(len(p)):
        d = q[s] - p[s]
        pa, pb = a - p[s], b - p[s]
        e = b - a
        qa = pa - d
        o1 = d[0] * pa[:, 1] - d[1] * pa[:, 0]
        o2 = d[0] * pb[:, 1] - d[1] * pb[:, 0]
        o3 = e[:, 1] * pa[:, 0] - e[:, 0] * pa[:, 1]
        o4 = e[:, 1] * qa[:, 0] - e[:, 0] * qa[:, 1]
        apart = ((o1 > 0) & (o2 > 0)) | ((o1 < 0) & (o2 < 0))
        apart |= ((o3 > 0) & (o4 > 0)) | ((o3 < 0) & (o4 < 0))
        out[s] = not np.all(apart)
    return out


def scene(seed: int) -> tuple[Obstacles, np.ndarray, np.ndarray]:
    """Random stars, a box with a hole, and segments between random points and corners."""
    rng = np.random.default_rng(seed)
    ring = shapely.box(0, 0, 40, 40).difference(shapely.box(10, 10, 30, 30))
    polys: list[shapely.Polygon] = [ring]
    for _ in range(6):
        c = rng.uniform(-80, 120, 2)
        k = int(rng.integers(5, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(4, 25, k)
        polys.append(shapely.Polygon(np.column_stack([c[0] + r * np.cos(ang),
                                                      c[1] + r * np.sin(ang)])).buffer(0))
    merged = shapely.get_parts(shapely.union_all(polys))
    obstacles = build_obstacles(tuple(shapely.orient_polygons(p) for p in merged), 1e-7)
    corners = np.concatenate(obstacles.edge_a)
    pts = np.concatenate([rng.uniform(-100, 140, (300, 2)), corners])
    i = rng.integers(0, len(pts), 3000)
    j = rng.integers(0, len(pts), 3000)
    return obstacles, pts[i], pts[j]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segments_clear_is_the_plain_edge_test(seed: int) -> None:
    """Clear segments are exactly those meeting no edge, with and without the ends' codes."""
    obstacles, p, q = scene(seed)
    expected = ~meets_every_edge(obstacles, p, q)
    assert 0 < expected.sum() < len(p)
    assert np.array_equal(segments_clear(obstacles, p, q), expected)
    codes = (outcodes(obstacles, p), outcodes(obstacles, q))
    assert np.array_equal(segments_clear(obstacles, p, q, codes=codes), expected)


def test_single_segments_agree_with_batches() -> None:
    """A segment tested alone is answered as in a batch."""
    obstacles, p, q = scene(3)
    batch = segments_clear(obstacles, p, q)
    alone = [bool(segments_clear(obstacles, p[k:k + 1], q[k:k + 1])[0]) for k in range(200)]
    assert alone == batch[:200].tolist()
