"""Tests of planner.io.dem: SRTM and GeoTIFF loading, void filling, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from planner.errors import TerrainError
from planner.io.dem import HGT_VOID, DemReport, fill_voids, load_dem, load_dem_report
from planner.terrain import Dem

REAL_TILE = Path(__file__).resolve().parents[3] / "missions/district/terrain/N44W072.hgt"
STEP_3S = 1.0 / 1200


@pytest.fixture(scope="module")
def real_raw() -> np.ndarray:
    """The real tile's cells read independently of the loader."""
    with REAL_TILE.open("rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.dtype(">i2")).reshape(1201, 1201).astype(float)


@pytest.fixture(scope="module")
def real_dem() -> tuple[Dem, DemReport]:
    """The real tile loaded once."""
    return load_dem_report([REAL_TILE])


def _plane(rows: int = 1201, cols: int = 1201) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols]
    return 100.0 + 2.0 * r + 3.0 * c  # whole metres, as an .hgt stores


def _write_hgt(path: Path, heights: np.ndarray) -> Path:
    heights.astype(">i2").tofile(path)
    return path


def _write_tiff(path: Path, heights: np.ndarray, transform: Affine | None, *, crs: str | None,
                nodata: float | None = None, tags: dict[str, str] | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", height=heights.shape[0],
                           width=heights.shape[1], count=1, dtype="float32", crs=crs,
                           transform=transform, nodata=nodata) as dst:
            if tags:
                dst.update_tags(**tags)
            dst.write(heights.astype("float32"), 1)
    return path


@pytest.mark.parametrize("row, col", [(0, 0), (0, 1200), (1200, 0), (1200, 1200), (875, 836),
                                      (600, 600), (17, 1033)])
def test_real_tile_grid_points_match_raw_cells(real_dem, real_raw, row: int, col: int) -> None:
    """At exact grid points the DEM returns the file's cell, row 0 north and column 0 west."""
    dem, _ = real_dem
    lon = -72.0 + col * STEP_3S
    lat = 45.0 - row * STEP_3S
    assert dem.elevation_amsl_m(lon, lat)[()] == pytest.approx(real_raw[row, col], abs=1e-6)


@pytest.mark.parametrize("row, col, fr, fc", [(875, 836, 0.5, 0.5), (300, 200, 0.25, 0.75),
                                              (1000, 77, 0.9, 0.1)])
def test_real_tile_is_bilinear_between_grid_points(real_dem, real_raw, row: int, col: int,
                                                   fr: float, fc: float) -> None:
    """Between grid points the height is the bilinear blend of the four raw cells."""
    dem, _ = real_dem
    h = real_raw
    expected = ((1 - fr) * ((1 - fc) * h[row, col] + fc * h[row, col + 1])
                + fr * ((1 - fc) * h[row + 1, col] + fc * h[row + 1, col + 1]))
    got = dem.elevation_amsl_m(-72.0 + (col + fc) * STEP_3S, 45.0 - (row + fr) * STEP_3S)
    assert got[()] == pytest.approx(expected, abs=1e-6)


def test_real_tile_mount_washington_and_report(real_dem) -> None:
    """Mount Washington is about 1,908 m, the tile has no voids and lies where its name says."""
    dem, report = real_dem
    assert dem.elevation_amsl_m(-71.3033, 44.2708)[()] == pytest.approx(1908, abs=5)
    assert report.filled_cells == 0
    assert report.tiles == (str(REAL_TILE),)
    assert dem.bounds_deg == pytest.approx((-72.0, 44.0, -71.0, 45.0))
    assert load_dem([str(REAL_TILE)]).tiles[0].heights_m.shape == (1201, 1201)


@pytest.mark.parametrize("name, west, north", [("N10E010.hgt", 10.0, 11.0),
                                               ("s10w020.HGT", -20.0, -9.0),
                                               ("N00W001.hgt", -1.0, 1.0)])
def test_hgt_name_gives_the_south_west_corner(tmp_path: Path, name: str, west: float,
                                              north: float) -> None:
    """The file name (any case) places the tile; the first row is the north edge."""
    heights = _plane()
    dem = load_dem([_write_hgt(tmp_path / name, heights)])
    tile = dem.tiles[0]
    assert (tile.west_deg, tile.north_deg) == (west, north)
    assert tile.dlat_deg == pytest.approx(STEP_3S)
    assert dem.elevation_amsl_m(west + 3 * STEP_3S, north - 2 * STEP_3S)[()] == pytest.approx(
        heights[2, 3])


def test_one_arc_second_tile(tmp_path: Path) -> None:
    """A 3601 x 3601 file is a 1 arc-second tile."""
    heights = _plane(3601, 3601)
    tile = load_dem([_write_hgt(tmp_path / "N10E010.hgt", heights)]).tiles[0]
    assert tile.dlon_deg == pytest.approx(1 / 3600)
    assert tile.south_deg == pytest.approx(10.0)
    assert tile.sample(np.array([10.0 + 7 / 3600]), np.array([11.0 - 5 / 3600]))[0] == (
        pytest.approx(heights[5, 7]))


def test_hgt_voids_are_filled_and_counted(tmp_path: Path) -> None:
    """Interior voids of a plane are filled back to the plane, and counted."""
    truth = _plane()
    heights = truth.copy()
    void = np.zeros(truth.shape, dtype=bool)
    void[100:140, 200:230] = True
    void[700, 700] = True
    void[900:905, 50:300] = True
    heights[void] = HGT_VOID
    dem, report = load_dem_report([_write_hgt(tmp_path / "N10E010.hgt", heights)])
    assert report.filled_cells == int(void.sum())
    filled = dem.tiles[0].heights_m
    assert np.abs(filled - truth).max() == pytest.approx(0.0, abs=1e-6)


def test_voids_at_the_edge_stay_within_the_valid_range(tmp_path: Path) -> None:
    """A void on the tile edge is filled with values between the valid minimum and maximum."""
    rng = np.random.default_rng(3)
    heights = rng.integers(300, 900, size=(1201, 1201)).astype(float)
    heights[:80, :120] = HGT_VOID
    heights[1100:, 600:700] = HGT_VOID
    valid = heights[heights != HGT_VOID]
    dem, report = load_dem_report([_write_hgt(tmp_path / "N10E010.hgt", heights)])
    assert report.filled_cells == 80 * 120 + 101 * 100
    h = dem.tiles[0].heights_m
    assert valid.min() <= h.min() and h.max() <= valid.max()


@pytest.mark.parametrize("shape", [(3, 3), (40, 60)])
def test_fill_voids_large_void_path_is_bounded_and_smooth(shape: tuple[int, int],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The coarse-to-fine fill (used for very large voids) stays within the rim's range."""
    import planner.io.dem as dem_mod

    monkeypatch.setattr(dem_mod, "EXACT_FILL_LIMIT", 0)
    truth = _plane(120, 120)
    void = np.zeros(truth.shape, dtype=bool)
    void[30:30 + shape[0], 20:20 + shape[1]] = True
    out = fill_voids(np.where(void, -1.0, truth), void)
    assert np.array_equal(out[~void], truth[~void])
    assert truth[~void].min() <= out[void].min() and out[void].max() <= truth[~void].max()
    assert np.abs(out - truth)[void].max() < 0.1 * np.ptp(truth[void]) + 1.0


def test_mostly_void_tile_is_rejected(tmp_path: Path) -> None:
    """A tile with more than half of its cells void is a TerrainError, not a guess."""
    heights = _plane()
    heights[:700] = HGT_VOID
    path = _write_hgt(tmp_path / "N10E010.hgt", heights)
    with pytest.raises(TerrainError, match="void") as err:
        load_dem([path])
    assert err.value.path == str(path)


def test_mosaic_of_two_tiles(tmp_path: Path) -> None:
    """Several files make one Dem whose tiles each answer for their own area."""
    a = _write_hgt(tmp_path / "N10E010.hgt", np.full((1201, 1201), 100))
    b = _write_hgt(tmp_path / "N10E011.hgt", np.full((1201, 1201), 300))
    dem, report = load_dem_report([a, b])
    assert report.tiles == (str(a), str(b))
    got = dem.elevation_amsl_m([10.5, 11.5, 12.5], [10.5, 10.5, 10.5])
    assert got[:2].tolist() == [100.0, 300.0]
    assert np.isnan(got[2])


@pytest.mark.parametrize("tags", [None, {"AREA_OR_POINT": "Area"}, {"AREA_OR_POINT": "Point"}])
def test_geotiff_grid_points_are_pixel_centres(tmp_path: Path,
                                               tags: dict[str, str] | None) -> None:
    """A GeoTIFF's pixel centres become the grid points; nodata cells are filled and counted."""
    truth = _plane(30, 40)
    heights = truth.copy()
    heights[10:13, 20:22] = -9999.0
    d = STEP_3S
    path = _write_tiff(tmp_path / "dem.tif", heights, Affine(d, 0, 10 - d / 2, 0, -d, 11 + d / 2),
                       crs="EPSG:4326", nodata=-9999.0, tags=tags)
    dem, report = load_dem_report([path])
    assert report.filled_cells == 6
    tile = dem.tiles[0]
    assert tile.west_deg == pytest.approx(10.0) and tile.north_deg == pytest.approx(11.0)
    got = dem.elevation_amsl_m(10 + 5 * d, 11 - 4 * d)[()]
    assert got == pytest.approx(truth[4, 5], abs=1e-3)
    assert np.abs(tile.heights_m - truth).max() < 1e-3


def test_geotiff_south_up_and_nan_voids(tmp_path: Path) -> None:
    """A south-up GeoTIFF is flipped, and NaN cells count as voids."""
    truth = _plane(20, 20)
    heights = truth[::-1].copy()
    heights[5, 5] = np.nan
    d = 0.001
    path = _write_tiff(tmp_path / "up.tiff", heights, Affine(d, 0, 5.0, 0, d, 45.0),
                       crs="OGC:CRS84")
    dem, report = load_dem_report([path])
    assert report.filled_cells == 1
    tile = dem.tiles[0]
    assert tile.north_deg == pytest.approx(45.0 + 19.5 * d)
    assert np.abs(tile.heights_m - truth).max() < 1e-3


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input with a fragment of the message it must give."""
    (tmp / "empty").mkdir()
    (tmp / "N10E010.hgt").write_bytes(b"")
    (tmp / "small").mkdir()
    (tmp / "small" / "N10E010.hgt").write_bytes(b"\0" * 1000)
    (tmp / "dir.hgt").mkdir()
    (tmp / "N44W072.hgt.zip").write_bytes(b"PK")
    (tmp / "N91E010.hgt").write_bytes(b"\0" * 2 * 1201 * 1201)
    (tmp / "garbage.tif").write_bytes(b"this is not a tiff")
    _write_hgt(tmp / "mountain.hgt", _plane())
    grid = _plane(10, 10)
    utm = _write_tiff(tmp / "utm.tif", grid, Affine(90, 0, 3e5, 0, -90, 5e6), crs="EPSG:32619")
    bare = _write_tiff(tmp / "bare.tif", grid, Affine(1, 0, 0, 0, 1, 0), crs=None)
    plain = _write_tiff(tmp / "plain.tif", grid, None, crs=None)
    rotated = _write_tiff(tmp / "rot.tif", grid, Affine(0.001, 0.0005, 10, 0.0005, -0.001, 11),
                          crs="EPSG:4326")
    return {
        "missing": (tmp / "N00E000.hgt", "not found"),
        "empty": (tmp / "N10E010.hgt", "empty"),
        "wrong size": (tmp / "small" / "N10E010.hgt", "1201 x 1201"),
        "directory": (tmp / "dir.hgt", "not a regular file"),
        "zip": (tmp / "N44W072.hgt.zip", "unsupported file kind"),
        "bad name": (tmp / "mountain.hgt", "expected a name like N44W072.hgt"),
        "off the globe": (tmp / "N91E010.hgt", "outside the globe"),
        "not a tiff": (tmp / "garbage.tif", "cannot read the file as a GeoTIFF"),
        "projected": (utm, "EPSG:32619; expected EPSG:4326"),
        "no CRS": (bare, "no CRS"),
        "no georeferencing": (plain, "no georeferencing"),
        "rotated": (rotated, "north-up"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "wrong size", "directory", "zip",
                                  "bad name", "off the globe", "not a tiff", "projected",
                                  "no CRS", "no georeferencing", "rotated"])
def test_bad_files_raise_terrain_error_naming_the_file(tmp_path: Path, case: str) -> None:
    """Every unusable file is a TerrainError naming the file, the reason and the expectation."""
    path, fragment = _bad_files(tmp_path)[case]
    with pytest.raises(TerrainError, match=fragment) as err:
        load_dem([path])
    assert err.value.path == str(path)
    assert str(path) in str(err.value)


def test_no_files_and_duplicate_files(tmp_path: Path) -> None:
    """An empty list and the same file twice are TerrainErrors."""
    with pytest.raises(TerrainError, match="no elevation file"):
        load_dem([])
    path = _write_hgt(tmp_path / "N10E010.hgt", _plane())
    with pytest.raises(TerrainError, match="given twice"):
        load_dem([path, tmp_path / "." / "N10E010.hgt"])
