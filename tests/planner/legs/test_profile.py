"""Tests of planner.legs.profile: terrain-safe altitude profiles of legs."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable

import numpy as np
import pytest

from planner.errors import InfeasibleError
from planner.geo import LocalProjection
from planner.legs.profile import AltitudeBand, LegProfile, band_violations, profile_leg
from planner.terrain import Dem, DemTile
from tests.helpers.shared_data import DISTRICT

PLACES = DISTRICT / "drops.csv"  # every place of the district, same ids

BAND = AltitudeBand(clearance_agl_m=40.0, ceiling_agl_m=120.0, margin_m=5.0,
                    max_climb_slope=0.25, max_descent_slope=0.15)
LOW, HIGH = BAND.low_agl_m, BAND.high_agl_m
SYN_PROJ = LocalProjection(lat0_deg=45.1, lon0_deg=10.1)

Terrain = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _synthetic_dem(height: Terrain) -> Dem:
    """A 0.2 x 0.2 degree, 3 arc-second tile with heights given in local metres."""
    n = 241
    step = 0.2 / (n - 1)
    lat, lon = np.meshgrid(45.2 - step * np.arange(n), 10.0 + step * np.arange(n),
                           indexing="ij")
    x, y = SYN_PROJ.to_xy(lon, lat)
    return Dem(tiles=(DemTile(heights_m=height(x, y), west_deg=10.0, north_deg=45.2,
                              dlon_deg=step, dlat_deg=step),))


FLAT = _synthetic_dem(lambda x, y: np.full(x.shape, 250.0))
RIDGE = _synthetic_dem(lambda x, y: 200.0 + 300.0 * np.exp(-((x - 1000.0) / 300.0) ** 2))
ROLLING = _synthetic_dem(lambda x, y: 300.0 + 100.0 * np.sin(2 * np.pi * x / 6000.0)
                         + 60.0 * np.cos(2 * np.pi * y / 5000.0))
CLIFF = _synthetic_dem(lambda x, y: 200.0 + np.clip(x, 0.0, 300.0))


@pytest.fixture(scope="module")
def real(district_dem: Dem) -> tuple[Dem, LocalProjection]:
    """The real White Mountains tile and a projection centred on it."""
    return district_dem, LocalProjection(lat0_deg=44.5, lon0_deg=-71.5)


def _violations(p: LegProfile, dem: Dem, proj: LocalProjection,
                spacing_m: float | None = None) -> list[tuple[float, float]]:
    return band_violations(p.xy_m, p.alt_amsl_m, dem, proj, LOW, HIGH, spacing_m=spacing_m)


def _assert_band_kept(p: LegProfile, dem: Dem, proj: LocalProjection) -> None:
    """No sample violates the planned band, at half and at an eighth of the DEM resolution."""
    assert _violations(p, dem, proj) == []
    assert _violations(p, dem, proj, dem.resolution_m / 8) == []
    assert LOW <= p.min_agl_m <= p.max_agl_m <= HIGH


def _contains_in_order(out: np.ndarray, inp: np.ndarray) -> bool:
    k = 0
    for row in out:
        if k < len(inp) and np.array_equal(row, inp[k]):
            k += 1
    return k == len(inp)


def _slopes(p: LegProfile) -> np.ndarray:
    ds = np.hypot(*np.diff(p.xy_m, axis=0).T)
    keep = ds > 0
    return np.diff(p.alt_amsl_m)[keep] / ds[keep]


@pytest.mark.parametrize("xy", [
    [[-3000.0, 0.0], [4000.0, 100.0]],
    [[-3000.0, -3000.0], [0.0, -3000.0], [0.0, 4000.0]],
    [[-5000.0, 0.0], [-2000.0, 3000.0], [1000.0, 0.0], [4000.0, 3000.0], [6000.0, -1000.0]],
])
def test_flat_terrain_needs_no_added_vertex(xy: list[list[float]]) -> None:
    """On flat ground the profile is the input polyline at one safe altitude."""
    p = profile_leg(np.array(xy), FLAT, SYN_PROJ, BAND)
    assert p.added == 0
    assert np.array_equal(p.xy_m, np.array(xy))
    assert not p.steep
    assert np.ptp(p.alt_amsl_m) == pytest.approx(0.0, abs=1e-9)
    assert p.length_m == pytest.approx(np.hypot(*np.diff(np.array(xy), axis=0).T).sum())
    _assert_band_kept(p, FLAT, SYN_PROJ)


@pytest.mark.parametrize("xy", [
    [[-4000.0, 0.0], [6000.0, 0.0]],
    [[6000.0, 500.0], [-4000.0, -500.0]],
    [[-4000.0, -2000.0], [1000.0, 0.0], [-1000.0, 2000.0], [5000.0, 2500.0]],
])
def test_ridge_adds_vertices_and_keeps_the_band(xy: list[list[float]]) -> None:
    """A 300 m ridge across the leg needs added vertices, and the band holds everywhere."""
    inp = np.array(xy)
    p = profile_leg(inp, RIDGE, SYN_PROJ, BAND)
    assert p.added >= 2
    assert len(p.xy_m) == len(inp) + p.added
    assert _contains_in_order(p.xy_m, inp)
    assert p.alt_amsl_m.max() >= 200.0 + 300.0 * 0.99 + LOW - 1.0
    _assert_band_kept(p, RIDGE, SYN_PROJ)


def test_slope_preference_honoured_on_gentle_terrain() -> None:
    """Where the terrain is gentler than the preferred slopes, no segment exceeds them."""
    p = profile_leg(np.array([[-7000.0, -6000.0], [7000.0, 6500.0]]), ROLLING, SYN_PROJ, BAND)
    assert p.added > 0
    assert not p.steep
    s = _slopes(p)
    assert s.max() <= BAND.max_climb_slope + 1e-9
    assert s.min() >= -BAND.max_descent_slope - 1e-9
    _assert_band_kept(p, ROLLING, SYN_PROJ)


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_cliff_forces_steep_segments_but_keeps_the_band(direction: float) -> None:
    """A 300 m rise at slope 1 cannot be flown at the preferred slopes: steep, band kept."""
    xy = np.array([[-3000.0, 0.0], [3000.0, 0.0]])[:: int(direction)]
    p = profile_leg(xy, CLIFF, SYN_PROJ, BAND)
    assert p.steep
    s = _slopes(p)
    assert s.max() > BAND.max_climb_slope if direction > 0 else s.min() < -BAND.max_descent_slope
    _assert_band_kept(p, CLIFF, SYN_PROJ)


@pytest.mark.parametrize("start_agl, end_agl", [(LOW, HIGH), (HIGH, LOW), (60.0, None),
                                                (None, 100.0), (LOW, LOW)])
def test_given_start_and_end_altitudes_are_kept(start_agl: float | None,
                                                end_agl: float | None) -> None:
    """Given end altitudes are used as they are; the band still holds."""
    xy = np.array([[-4000.0, 300.0], [6000.0, -200.0]])
    lon, lat = SYN_PROJ.to_lonlat(xy[:, 0], xy[:, 1])
    ground = RIDGE.elevation_amsl_m(lon, lat)
    start = None if start_agl is None else float(ground[0] + start_agl)
    end = None if end_agl is None else float(ground[1] + end_agl)
    p = profile_leg(xy, RIDGE, SYN_PROJ, BAND, start_alt_amsl_m=start, end_alt_amsl_m=end)
    if start is not None:
        assert p.alt_amsl_m[0] == start
    if end is not None:
        assert p.alt_amsl_m[-1] == end
    _assert_band_kept(p, RIDGE, SYN_PROJ)


@pytest.mark.parametrize("where, agl", [("start", LOW - 1.0), ("end", HIGH + 1.0)])
def test_given_altitude_outside_the_band_is_infeasible(where: str, agl: float) -> None:
    """An end altitude outside the band is an InfeasibleError saying where and what."""
    xy = np.array([[-4000.0, 0.0], [6000.0, 0.0]])
    lon, lat = SYN_PROJ.to_lonlat(xy[:, 0], xy[:, 1])
    ground = RIDGE.elevation_amsl_m(lon, lat)
    given = {where: float(ground[0 if where == "start" else 1] + agl)}
    with pytest.raises(InfeasibleError, match=f"the {where} altitude .* expected 45.0 to 115.0"):
        profile_leg(xy, RIDGE, SYN_PROJ, BAND, start_alt_amsl_m=given.get("start"),
                    end_alt_amsl_m=given.get("end"))


@pytest.mark.parametrize("xy, km", [
    ([[-3000.0, 0.0], [20000.0, 0.0]], None),
    ([[30000.0, 0.0], [0.0, 0.0]], 0.0),
    ([[0.0, 0.0], [0.0, 5000.0], [0.0, 40000.0]], None),
])
def test_leg_outside_coverage_is_infeasible(xy: list[list[float]], km: float | None) -> None:
    """A leg leaving the DEM is an InfeasibleError naming the distance along it and lat/lon."""
    with pytest.raises(InfeasibleError, match=r"km along the leg \(lat [-\d.]+, lon") as err:
        profile_leg(np.array(xy), FLAT, SYN_PROJ, BAND)
    if km is not None:
        assert f"{km:.3f} km along" in str(err.value)


def test_band_too_narrow_for_the_ground_curvature_is_infeasible() -> None:
    """A band thinner than the ground's bulge between DEM samples cannot be kept."""
    rough = _synthetic_dem(lambda x, y: 300.0 + 0.02 * (x % 97.0) * (y % 89.0))
    thin = AltitudeBand(clearance_agl_m=40.0, ceiling_agl_m=40.2, margin_m=0.0,
                        max_climb_slope=0.25, max_descent_slope=0.15)
    with pytest.raises(InfeasibleError, match="too narrow"):
        profile_leg(np.array([[-3000.0, -2000.0], [4000.0, 3000.0]]), rough, SYN_PROJ, thin)


def test_duplicate_vertices_and_zero_length_leg() -> None:
    """Repeated vertices are kept in the output; a zero-length leg gets a safe altitude."""
    xy = np.array([[-4000.0, 0.0], [0.0, 0.0], [0.0, 0.0], [6000.0, 0.0]])
    p = profile_leg(xy, RIDGE, SYN_PROJ, BAND)
    assert _contains_in_order(p.xy_m, xy)
    assert len(p.xy_m) == 4 + p.added
    _assert_band_kept(p, RIDGE, SYN_PROJ)
    still = profile_leg(np.array([[100.0, 100.0], [100.0, 100.0]]), FLAT, SYN_PROJ, BAND,
                        end_alt_amsl_m=250.0 + 80.0)
    assert still.length_m == 0.0
    assert still.alt_amsl_m.tolist() == [330.0, 330.0]


@pytest.mark.parametrize("kwargs", [
    {"clearance_agl_m": -1.0},
    {"margin_m": -0.5},
    {"ceiling_agl_m": 50.0},
    {"max_climb_slope": 0.0},
    {"max_descent_slope": -0.1},
    {"ceiling_agl_m": math.nan},
])
def test_altitude_band_rejects_bad_values(kwargs: dict[str, float]) -> None:
    """AltitudeBand says what it expected when given an impossible band."""
    base = {"clearance_agl_m": 40.0, "ceiling_agl_m": 120.0, "margin_m": 5.0,
            "max_climb_slope": 0.25, "max_descent_slope": 0.15}
    with pytest.raises(ValueError, match="Expected"):
        AltitudeBand(**(base | kwargs))


def _random_legs(proj: LocalProjection, count: int, min_m: float, max_m: float,
                 seed: int) -> list[np.ndarray]:
    """Straight legs of random length and heading, both ends inside the real tile."""
    rng = np.random.default_rng(seed)
    x0, y0 = proj.to_xy(-71.98, 44.02)
    x1, y1 = proj.to_xy(-71.02, 44.98)
    legs: list[np.ndarray] = []
    while len(legs) < count:
        a = rng.uniform([x0, y0], [x1, y1])
        heading = rng.uniform(0, 2 * np.pi)
        b = a + rng.uniform(min_m, max_m) * np.array([np.cos(heading), np.sin(heading)])
        lon, lat = proj.to_lonlat(b[0], b[1])
        if -71.98 < lon < -71.02 and 44.02 < lat < 44.98:
            mid = (a + b) / 2 + rng.normal(0, 1500, 2)  # a turn point, as a router makes
            legs.append(np.array([a, mid, b]))
    return legs


def test_real_tile_long_legs_keep_the_band_with_few_vertices(real) -> None:
    """Random 10-40 km legs over the White Mountains: band kept, <= 0.8 added vertices per km.

    The ground is sampled at half the DEM resolution plus every grid-line crossing, and the
    exact bulge of the bilinear ground between samples is added to the limits, so a check at
    an eighth of the resolution finds nothing either (only the 1 mm planning pad is used).
    """
    dem, proj = real
    profiles = [profile_leg(xy, dem, proj, BAND) for xy in _random_legs(proj, 60, 1e4, 4e4, 7)]
    for p in profiles:
        _assert_band_kept(p, dem, proj)
    km = sum(p.length_m for p in profiles) / 1000
    assert sum(p.added for p in profiles) / km <= 0.8
    assert any(p.steep for p in profiles)


def _valley_places() -> list[tuple[float, float]]:
    with PLACES.open(newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return [(float(r["lon_deg"]), float(r["lat_deg"])) for r in rows]


def test_waypoint_only_check_fails_on_real_terrain(real) -> None:
    """Legs safe at their two waypoints often hit terrain or ceiling between; profiles never.

    200 legs of 5-30 km between the district's valley towns, each flown straight from ground +
    clearance + 10 m at one end to the same at the other (what a waypoint-only check accepts).
    """
    dem, proj = real
    lon, lat = np.array(_valley_places()).T
    x, y = proj.to_xy(lon, lat)
    ground = dem.elevation_amsl_m(lon, lat)
    rng = np.random.default_rng(2024)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < 200:
        i, j = (int(k) for k in rng.choice(len(x), size=2, replace=False))
        if 5000 <= math.hypot(x[j] - x[i], y[j] - y[i]) <= 30000:
            pairs.append((i, j))
    naive_bad = 0
    for i, j in pairs:
        xy = np.array([[x[i], y[i]], [x[j], y[j]]])
        naive = [ground[i] + BAND.clearance_agl_m + 10, ground[j] + BAND.clearance_agl_m + 10]
        hits = band_violations(xy, naive, dem, proj, BAND.clearance_agl_m, BAND.ceiling_agl_m)
        naive_bad += bool(hits)
        p = profile_leg(xy, dem, proj, BAND)
        assert _violations(p, dem, proj) == []
    assert naive_bad / len(pairs) > 0.5
