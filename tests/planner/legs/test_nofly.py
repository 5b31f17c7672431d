"""Tests of exact no-fly routing: buffering, visibility, distances and paths."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely

from planner.errors import InputError
from planner.legs.nofly import ZoneMap, build_zone_map
from tests.helpers.nofly_reference import ReferenceGraph, random_instance

SQUARE = shapely.box(-10.0, -10.0, 10.0, 10.0)
# A U open to the north: arms x in [0, 10] and [20, 30], base y in [0, 10].
U_SHAPE = shapely.Polygon([(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30),
                           (0, 30)])


def around_rounded_square(half_m: float, far_m: float, radius_m: float) -> float:
    """Length of the shortest path from (-far, 0) to (far, 0) around a square of half side
    ``half_m`` grown by an exact round offset of ``radius_m``."""
    d = math.hypot(far_m - half_m, half_m)
    beta = math.acos(radius_m / d) if radius_m > 0 else math.pi / 2
    delta = math.atan2(half_m, far_m - half_m)
    tangent_m = math.sqrt(d * d - radius_m * radius_m)
    arc_m = radius_m * (math.pi / 2 + delta - beta)
    return 2 * (tangent_m + arc_m) + 2 * half_m


def path_length(path: np.ndarray) -> float:
    """Length of a polyline."""
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


def assert_path_valid(zmap: ZoneMap, raw: list[shapely.Polygon], path: np.ndarray,
                      a: np.ndarray, b: np.ndarray) -> None:
    """The path joins a to b, keeps buffer_m from every raw zone and crosses no buffered zone."""
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    line = shapely.LineString(path) if len(path) > 1 and np.any(path[0] != path[-1]) else None
    for zone in raw:
        if line is not None:
            assert not shapely.relate_pattern(line, zone, "T********")
            assert shapely.distance(line, zone) >= zmap.buffer_m - 1e-6
    for p, q in itertools.pairwise(path):
        assert zmap.segment_clear(p, q)


@pytest.fixture(scope="module")
def square_map() -> ZoneMap:
    """One 20 m square with no buffer."""
    return build_zone_map([SQUARE], 0.0, ["square"])


def test_square_between_points_hand_checked(square_map: ZoneMap) -> None:
    """Around a square: two diagonals to the corners plus one side, as computed by hand."""
    d = square_map.distance_matrix([[-20.0, 0.0], [20.0, 0.0]])
    assert d[0, 1] == pytest.approx(2 * math.hypot(10, 10) + 20, abs=1e-6)
    path = square_map.shortest_path([-20.0, 0.0], [20.0, 0.0])
    assert path is not None
    assert len(path) == 4
    assert np.allclose(np.abs(path[1:3]), 10.0, atol=1e-6)


@pytest.mark.parametrize("buffer_m", [1.0, 5.0, 25.0])
@pytest.mark.parametrize("quad_segs", [1, 2, 3, 4])
def test_square_with_buffer_between_exact_and_outer_bound(buffer_m: float, quad_segs: int) -> None:
    """With a buffer the path is no shorter than around the exact round offset, and no longer
    than around the square grown by the enlarged radius with sharp corners."""
    zmap = build_zone_map([SQUARE], buffer_m, ["square"], quad_segs=quad_segs)
    far_m = 80.0
    d = zmap.distance_matrix([[-far_m, 0.0], [far_m, 0.0]])[0, 1]
    low = around_rounded_square(10.0, far_m, buffer_m)
    # GEOS may span 1.5 times the nominal angle with one chord, so the radius can grow by up to
    # 1 / cos(3 pi / (8 quad_segs)).
    grown = 10.0 + (buffer_m + zmap.eps_m) / math.cos(3 * math.pi / (8 * quad_segs))
    high = 2 * math.hypot(far_m - grown, grown) + 2 * grown
    assert low - 1e-9 <= d <= high + 1e-9


@pytest.mark.parametrize(("ends_a", "ends_b"), [((-20.0, 15.0), (20.0, 12.0)),
                                                ((-20.0, None), (20.0, None)),
                                                ((0.0, -30.0), (30.0, 0.0))])
def test_clear_line_is_euclidean(square_map: ZoneMap, ends_a: tuple[float, float | None],
                                 ends_b: tuple[float, float | None]) -> None:
    """Points that see each other (even grazing the buffered side, y None) are at Euclidean
    distance."""
    top = float(square_map.merged[0].bounds[3])
    a = (ends_a[0], top if ends_a[1] is None else ends_a[1])
    b = (ends_b[0], top if ends_b[1] is None else ends_b[1])
    d = square_map.distance_matrix([a, b])
    assert d[0, 1] == pytest.approx(math.dist(a, b), rel=1e-12)
    path = square_map.shortest_path(a, b)
    assert path is not None and len(path) == 2


@pytest.mark.parametrize(("b", "expected"), [
    ((15.0, -10.0), math.hypot(5, 15) + 10 + 30 + math.hypot(15, 10)),
    ((15.0, 40.0), 25.0),
    ((-10.0, 30.0), math.hypot(5, 15) + 20),
])
def test_concave_u_shape_hand_checked(b: tuple[float, float], expected: float) -> None:
    """From inside the U the path climbs out over an arm, as computed by hand."""
    zmap = build_zone_map([U_SHAPE], 0.0, ["u"])
    a = (15.0, 15.0)
    assert zmap.distance_matrix([a, b])[0, 1] == pytest.approx(expected, abs=1e-6)
    path = zmap.shortest_path(a, b)
    assert path is not None
    assert path_length(path) == pytest.approx(expected, abs=1e-6)
    assert_path_valid(zmap, [U_SHAPE], path, np.array(a), np.array(b))


@pytest.mark.parametrize("buffer_m", [0.0, 3.0])
def test_point_inside_zone(buffer_m: float) -> None:
    """A point inside a (buffered) zone is blocked, named, and cut off from every other point."""
    zmap = build_zone_map([SQUARE, shapely.box(50, 50, 60, 60)], buffer_m, ["sq", "other"])
    band = [0.0, 10.0 + buffer_m / 2]  # inside the buffer band (or on the raw edge)
    pts = np.array([[0.0, 5.0], [-30.0, 0.0], [30.0, 0.0], band])
    assert zmap.blocked(pts).tolist() == [True, False, False, True]
    assert zmap.zone_containing(band) == "sq"
    pts = pts[:3]
    assert zmap.zone_containing(pts[0]) == "sq"
    assert zmap.zone_containing([55.0, 55.0]) == "other"
    assert zmap.zone_containing(pts[1]) is None
    assert not zmap.enclosed(pts).any()
    d = zmap.distance_matrix(pts)
    assert d[0, 0] == 0.0
    assert np.isinf(d[0, 1:]).all() and np.isinf(d[1:, 0]).all()
    assert np.isfinite(d[1, 2])
    assert zmap.shortest_path(pts[0], pts[1]) is None
    assert zmap.shortest_path(pts[1], pts[0]) is None


def test_boundary_point_is_free(square_map: ZoneMap) -> None:
    """A point exactly on the buffered boundary is free and reaches others."""
    corner = square_map.merged[0].exterior.coords[0]
    assert not square_map.blocked([corner])[0]
    d = square_map.distance_matrix([corner, [-30.0, -30.0]])
    assert np.isfinite(d[0, 1])


RING = [shapely.box(-30, -30, 30, -20), shapely.box(-30, 20, 30, 30),
        shapely.box(-30, -30, -20, 30), shapely.box(20, -30, 30, 30)]
DONUT = [shapely.box(-30, -30, 30, 30).difference(shapely.box(-20, -20, 20, 20))]


@pytest.mark.parametrize("zones", [RING, DONUT], ids=["ring", "donut"])
@pytest.mark.parametrize("buffer_m", [0.0, 2.0])
def test_enclosed_pocket(zones: list[shapely.Polygon], buffer_m: float) -> None:
    """Points in a pocket walled in by zones reach each other but nothing outside."""
    zmap = build_zone_map(zones, buffer_m, [f"z{k}" for k in range(len(zones))])
    pts = np.array([[0.0, 0.0], [5.0, -5.0], [50.0, 0.0], [-50.0, 10.0]])
    assert zmap.enclosed(pts).tolist() == [True, True, False, False]
    assert not zmap.blocked(pts).any()
    assert zmap.zone_containing(pts[0]) is None
    d = zmap.distance_matrix(pts)
    assert d[0, 1] == pytest.approx(math.dist(pts[0], pts[1]), rel=1e-12)
    assert np.isinf(d[:2, 2:]).all() and np.isinf(d[2:, :2]).all()
    assert np.isfinite(d[2, 3])
    assert zmap.shortest_path(pts[0], pts[2]) is None


def test_pocket_with_inner_zone_routes_around_it() -> None:
    """Inside a pocket, paths bend around a zone in the pocket, matching hand and reference."""
    zones = [*RING, shapely.box(-5, -5, 5, 5)]
    zmap = build_zone_map(zones, 0.0, [f"z{k}" for k in range(len(zones))])
    pts = np.array([[-15.0, 0.0], [15.0, 0.0], [0.0, 15.0], [50.0, 50.0]])
    d = zmap.distance_matrix(pts)
    assert d[0, 1] == pytest.approx(2 * math.hypot(10, 5) + 10, abs=1e-6)
    ref = ReferenceGraph(zmap.merged)
    for i, j in itertools.combinations(range(len(pts)), 2):
        r = ref.distance(pts[i], pts[j])
        assert (math.isinf(r) and math.isinf(d[i, j])) or d[i, j] == pytest.approx(r, rel=1e-9)


def test_ring_with_gap_is_not_enclosed() -> None:
    """A ring with a gap wider than the buffers leaves a way out."""
    zones = [*RING[:3], shapely.box(20, -30, 30, -5), shapely.box(20, 5, 30, 30)]
    zmap = build_zone_map(zones, 2.0, [f"z{k}" for k in range(len(zones))])
    pts = np.array([[0.0, 0.0], [50.0, 0.0]])
    assert not zmap.enclosed(pts).any()
    assert zmap.distance_matrix(pts)[0, 1] == pytest.approx(50.0, rel=1e-12)


def test_overlapping_zones_are_merged() -> None:
    """Two overlapping rectangles that make the 20 m square route exactly like the square."""
    halves = [shapely.box(-10, -10, 2, 10), shapely.box(-2, -10, 10, 10)]
    zmap = build_zone_map(halves, 0.0, ["west", "east"])
    assert len(zmap.merged) == 1
    assert zmap.zone_containing([-8.0, 0.0]) == "west"
    assert zmap.zone_containing([8.0, 0.0]) == "east"
    d = zmap.distance_matrix([[-20.0, 0.0], [20.0, 0.0]])
    assert d[0, 1] == pytest.approx(2 * math.hypot(10, 10) + 20, abs=1e-6)


def test_no_zones_is_euclidean() -> None:
    """Without zones every distance is the straight line."""
    zmap = build_zone_map([], 50.0, [])
    pts = np.random.default_rng(3).uniform(0, 1000, (12, 2))
    d = zmap.distance_matrix(pts)
    assert np.allclose(d, np.linalg.norm(pts[:, None] - pts[None], axis=2), rtol=1e-15)


@pytest.mark.parametrize("quad_segs", [1, 2, 3, 4])
@pytest.mark.parametrize("buffer_m", [0.0, 10.0, 150.0])
def test_buffer_is_conservative(quad_segs: int, buffer_m: float) -> None:
    """Every buffered boundary keeps buffer_m from its raw zone, whatever the round-join
    approximation, and contains the raw zone."""
    inst = random_instance(11, n_zones=12, n_points=1, side_m=10_000.0, buffer_m=buffer_m)
    zmap = build_zone_map(inst.zones_xy, buffer_m, inst.names, quad_segs=quad_segs)
    for raw, grown in zip(inst.zones_xy, zmap.zones, strict=True):
        assert shapely.distance(raw, grown.boundary) >= buffer_m
        assert grown.contains(raw)
    merged = shapely.union_all(zmap.merged)
    for raw in inst.zones_xy:
        assert shapely.distance(raw, merged.boundary) >= buffer_m


REF_CASES = [(seed, buffer_m) for seed in range(4) for buffer_m in (0.0, 60.0)]


@pytest.mark.parametrize(("seed", "buffer_m"), REF_CASES)
def test_matrix_matches_brute_force_reference(seed: int, buffer_m: float) -> None:
    """Every entry equals the full, unpruned visibility-graph Dijkstra to 1e-9 (relative)."""
    inst = random_instance(seed, n_zones=8, n_points=16, side_m=8_000.0, buffer_m=buffer_m)
    zmap = build_zone_map(inst.zones_xy, buffer_m, inst.names)
    d = zmap.distance_matrix(inst.points_xy)
    ref = ReferenceGraph(zmap.merged)
    pts = inst.points_xy
    detours = 0
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            r = ref.distance(pts[i], pts[j])
            if math.isinf(r):
                assert math.isinf(d[i, j])
            else:
                assert d[i, j] == pytest.approx(r, rel=1e-9)
                detours += r > math.dist(pts[i], pts[j]) * (1 + 1e-9)
    assert detours > 0
    assert np.array_equal(d, d.T)
    assert np.all(np.diag(d) == 0)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_paths_match_matrix_and_avoid_raw_zones(seed: int) -> None:
    """Each path is as long as its matrix entry, keeps the buffer from every raw zone and
    crosses no buffered zone; the batched call gives the same paths."""
    inst = random_instance(seed, n_zones=10, n_points=12, side_m=10_000.0, buffer_m=80.0)
    zmap = build_zone_map(inst.zones_xy, inst.buffer_m, inst.names)
    pts = inst.points_xy
    d = zmap.distance_matrix(pts)
    pairs = [(i, j) for i in range(len(pts)) for j in range(len(pts)) if i != j]
    batch = zmap.paths(pts, pairs)
    bends = 0
    for (i, j), path in zip(pairs, batch, strict=True):
        if math.isinf(d[i, j]):
            assert path is None
            continue
        assert path is not None
        assert path_length(path) == pytest.approx(d[i, j], rel=1e-9)
        assert_path_valid(zmap, list(inst.zones_xy), path, pts[i], pts[j])
        bends += len(path) > 2
    assert bends > 0
    single = zmap.shortest_path(pts[pairs[0][0]], pts[pairs[0][1]])
    assert single is not None and batch[0] is not None
    assert np.array_equal(single, batch[0])


@pytest.mark.parametrize(("zones", "buffer_m", "names", "field", "item"), [
    ([SQUARE], -1.0, ["a"], "buffer_m", None),
    ([SQUARE], math.nan, ["a"], "buffer_m", None),
    ([SQUARE], 1.0, ["a", "b"], "names", None),
    ([shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])], 1.0, ["bowtie"], None, "zone 'bowtie'"),
    ([shapely.Polygon()], 1.0, ["empty"], None, "zone 'empty'"),
])
def test_bad_input_raises(zones: list[shapely.Polygon], buffer_m: float, names: list[str],
                          field: str | None, item: str | None) -> None:
    """Bad buffers, name counts and zones raise InputError naming the field or the zone."""
    with pytest.raises(InputError) as info:
        build_zone_map(zones, buffer_m, names)
    assert info.value.field == field
    assert info.value.item == item


@pytest.mark.parametrize("points", [[[0.0, 1.0, 2.0]], [[math.inf, 0.0]], [1.0, 2.0]])
def test_bad_points_raise(square_map: ZoneMap, points: list[list[float]] | list[float]) -> None:
    """Points that are not finite (n, 2) arrays raise InputError on field points_xy."""
    with pytest.raises(InputError) as info:
        square_map.distance_matrix(points)
    assert info.value.field == "points_xy"
