"""Load elevation models from files: SRTM ``.hgt`` tiles and GeoTIFFs.

Every tile becomes a :class:`planner.terrain.DemTile` whose grid points are the centres of the
file's cells (SRTM samples are points on whole arc-seconds; a GeoTIFF's transform gives the
corner of its first cell, so the first grid point lies half a cell inside it). Void cells
(``-32768`` in ``.hgt``, the nodata value or NaN in a GeoTIFF) are filled from their neighbours;
a tile with more than half of its cells void is rejected. Every problem with a file raises
:class:`planner.errors.TerrainError` naming the file and what was expected.

Files may come from users (console uploads), so only the two supported formats are read: an
``.hgt`` must hold exactly 1201 x 1201 or 3601 x 3601 16-bit heights and a GeoTIFF must start
with the TIFF signature (``II*\\0``, ``MM\\0*``, or the BigTIFF ones) and is opened by GDAL's
GTiff driver only, with network access, sidecar files and ``/vsi`` paths off. A GeoTIFF's size
is read from its header and one of more than ``max_cells`` cells is refused before any cell is
decoded; one that names other files (external overviews or masks) or holds subdatasets is
refused too.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.errors import TerrainError
from planner.terrain import Dem, DemTile

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

HGT_VOID = -32768
MAX_VOID_FRACTION = 0.5
_HGT_SIZES = {1201: 3.0, 3601: 1.0}  # cells per side -> arc-seconds per cell
_HGT_NAME = re.compile(r"^([NS])(\d{2})([EW])(\d{3})\.hgt$", re.IGNORECASE)
_TIFF_SUFFIXES = (".tif", ".tiff")
_GEOGRAPHIC_CRS = ("EPSG:4326", "OGC:CRS84")
_SMOOTHING_SWEEPS = 8
EXACT_FILL_LIMIT = 200_000
#: Most cells a GeoTIFF may hold by default (an SRTM 1 arc-second tile has 13 million).
MAX_DEM_CELLS = 30_000_000
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: GDAL settings while a GeoTIFF is open: no network, no directory listing, no sidecar files.
_GDAL_SAFE = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".dropline-none",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DemReport:
    """What loading an elevation model did.

    ``filled_cells`` counts the void cells filled from their neighbours over all tiles;
    ``tiles`` names the file each tile came from, in the order given.
    """

    filled_cells: int
    tiles: tuple[str, ...]


def load_dem(paths: Sequence[str | Path], *, max_cells: int = MAX_DEM_CELLS) -> Dem:
    """Load one or more elevation files into a :class:`~planner.terrain.Dem`.

    Parameters
    ----------
    paths
        SRTM ``.hgt`` files (named after their south-west corner, such as ``N44W072.hgt``)
        and GeoTIFFs (``.tif``, ``.tiff``) in EPSG:4326. Several files make a mosaic.
    max_cells
        Most cells a GeoTIFF may hold; a larger one is refused before it is decoded.

    Returns
    -------
    Dem
        One tile per file, heights in metres AMSL, voids filled.

    Raises
    ------
    TerrainError
        If a file is missing, empty, unreadable, of an unknown kind or size, not in a
        geographic CRS, larger than ``max_cells``, naming other files, or more than half void.
    """
    return load_dem_report(paths, max_cells=max_cells)[0]


def load_dem_report(paths: Sequence[str | Path], *, max_cells: int = MAX_DEM_CELLS
                    ) -> tuple[Dem, DemReport]:
    """Load elevation files like :func:`load_dem` and report what was done to them.

    Parameters
    ----------
    paths
        The files, as for :func:`load_dem`.
    max_cells
        As for :func:`load_dem`.

    Returns
    -------
    tuple of Dem and DemReport
        The elevation model and the number of void cells filled.

    Raises
    ------
    TerrainError
        As :func:`load_dem`.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise TerrainError("no elevation file given; expected at least one .hgt or .tif file")
    tiles: list[DemTile] = []
    seen: set[Path] = set()
    filled = 0
    for raw in paths:
        text = str(raw)
        if text.startswith("/vsi") or "://" in text or "\x00" in text:
            raise TerrainError("Expected the path of a local elevation file, got a GDAL virtual "
                               "file system path or a URL", path=text.replace("\x00", "\\0"))
        path = Path(raw)
        _check_file(path)
        key = path.resolve()
        if key in seen:
            raise TerrainError("file given twice; expected each tile once", path=path)
        seen.add(key)
        tile, n_filled = _load_tile(path, max_cells)
        tiles.append(tile)
        filled += n_filled
    report = DemReport(filled_cells=filled, tiles=tuple(t.source for t in tiles))
    return Dem(tiles=tuple(tiles)), report


def _check_file(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix != ".hgt" and suffix not in _TIFF_SUFFIXES:
        raise TerrainError(
            f"unsupported file kind '{path.suffix or '(none)'}'; expected an SRTM .hgt file "
            "or a GeoTIFF (.tif, .tiff)", path=path)
    if not path.exists():
        raise TerrainError("file not found", path=path)
    if not path.is_file():
        raise TerrainError("not a regular file; expected an elevation file", path=path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TerrainError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    if size == 0:
        raise TerrainError("file is empty; expected elevation data", path=path)


def _load_tile(path: Path, max_cells: int) -> tuple[DemTile, int]:
    if path.suffix.lower() == ".hgt":
        heights, void, west, north, dlon, dlat = _read_hgt(path)
    else:
        heights, void, west, north, dlon, dlat = _read_tiff(path, max_cells)
    n_void = int(void.sum())
    if n_void > MAX_VOID_FRACTION * void.size:
        raise TerrainError(
            f"{n_void} of {void.size} cells ({100.0 * n_void / void.size:.1f} %) are void; "
            f"expected at most {100 * MAX_VOID_FRACTION:.0f} % void cells to be void-filled",
            path=path)
    if n_void:
        heights = fill_voids(heights, void)
    tile = DemTile(heights_m=heights, west_deg=west, north_deg=north, dlon_deg=dlon,
                   dlat_deg=dlat, source=str(path))
    return tile, n_void


_Grid = tuple[FloatArray, BoolArray, float, float, float, float]


def _read_hgt(path: Path) -> _Grid:
    match = _HGT_NAME.match(path.name)
    if match is None:
        raise TerrainError(
            f"cannot tell the tile's corner from the name '{path.name}'; expected a name like "
            "N44W072.hgt (latitude then longitude of the south-west corner)", path=path)
    ns, lat_txt, ew, lon_txt = match.groups()
    south = int(lat_txt) * (1 if ns.upper() == "N" else -1)
    west = int(lon_txt) * (1 if ew.upper() == "E" else -1)
    if not (-90 <= south <= 89 and -180 <= west <= 179):
        raise TerrainError(
            f"corner {south}, {west} in the name '{path.name}' is outside the globe; expected "
            "latitude -90..89 and longitude -180..179", path=path)
    size = path.stat().st_size
    side = math.isqrt(size // 2)
    if size % 2 or side * side * 2 != size or side not in _HGT_SIZES:
        raise TerrainError(
            f"file holds {size} bytes; expected 1201 x 1201 (3 arc-second, "
            f"{2 * 1201 * 1201} bytes) or 3601 x 3601 (1 arc-second, {2 * 3601 * 3601} bytes) "
            "big-endian 16-bit heights", path=path)
    try:
        raw = np.fromfile(path, dtype=">i2")
    except OSError as exc:
        raise TerrainError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    if raw.size != side * side:
        raise TerrainError(f"read {raw.size} heights, expected {side * side}", path=path)
    grid = raw.reshape(side, side)
    void = grid == HGT_VOID
    step = 1.0 / (side - 1)
    return grid.astype(np.float64), void, float(west), float(south + 1), step, step


def _check_tiff_signature(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise TerrainError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    if head not in _TIFF_MAGIC:
        raise TerrainError("cannot read the file as a GeoTIFF: it does not start with the "
                           "TIFF signature (II*\\0 or MM\\0*); expected a GeoTIFF or an SRTM "
                           ".hgt file", path=path)


def _check_tiff_header(src: Any, path: Path, max_cells: int) -> None:
    """Refuse what must not be decoded: other drivers, other files, subdatasets, huge grids."""
    if src.driver != "GTiff":
        raise TerrainError(f"read as {src.driver}; expected a GeoTIFF", path=path)
    if src.subdatasets:
        raise TerrainError(f"the file holds {len(src.subdatasets)} subdatasets; expected a "
                           "single-raster GeoTIFF", path=path)
    others = [f for f in src.files if Path(f) != path]
    if others:
        raise TerrainError(f"the GeoTIFF refers to {len(others)} other files (external "
                           "overviews, masks or metadata); expected a self-contained GeoTIFF",
                           path=path)
    cells = int(src.width) * int(src.height)
    if cells > max_cells:
        raise TerrainError(f"the raster is {src.width} x {src.height} = {cells} cells; expected "
                           f"at most {max_cells} cells (crop or resample it first, for example "
                           "with gdalwarp -te ... -tr ...)", path=path)


def _read_tiff(path: Path, max_cells: int) -> _Grid:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    _check_tiff_signature(path)
    local = path.resolve()
    name = str(local)
    if name.startswith("/vsi") or "://" in name:
        raise TerrainError("Expected a local file, got a GDAL virtual file system path",
                           path=path)
    try:
        with warnings.catch_warnings(record=True) as caught, rasterio.Env(**_GDAL_SAFE):
            warnings.simplefilter("always")
            with rasterio.open(name, driver="GTiff") as src:
                _check_tiff_header(src, local, max_cells)
                crs = src.crs
                transform = src.transform
                nodata = src.nodata
                data = src.read(1, out_dtype="float64")
                mask = src.read_masks(1)
    except (RasterioError, OSError) as exc:
        text = str(exc).replace(name, path.name).replace(str(path), path.name)
        raise TerrainError(f"cannot read the file as a GeoTIFF: {text}", path=path) from exc
    if any(issubclass(w.category, NotGeoreferencedWarning) for w in caught):
        raise TerrainError("the GeoTIFF has no georeferencing; expected a geotransform in "
                           "EPSG:4326", path=path)
    if crs is None:
        raise TerrainError("the GeoTIFF has no CRS; expected EPSG:4326 (WGS84 lon/lat)",
                           path=path)
    if crs.to_string() not in _GEOGRAPHIC_CRS:
        raise TerrainError(
            f"the GeoTIFF's CRS is {crs.to_string()}; expected EPSG:4326 (WGS84 lon/lat); "
            "reproject it first, for example with gdalwarp -t_srs EPSG:4326", path=path)
    if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e == 0:
        raise TerrainError(
            f"the GeoTIFF's geotransform {tuple(transform)[:6]} is rotated or flipped; "
            "expected a north-up grid", path=path)
    rows, cols = data.shape
    if rows < 2 or cols < 2:
        raise TerrainError(f"the raster is {rows} x {cols} cells; expected at least 2 x 2",
                           path=path)
    void = (mask == 0) | ~np.isfinite(data)
    if nodata is not None and not math.isnan(nodata):
        void |= data == nodata
    dlon = float(transform.a)
    dlat = float(abs(transform.e))
    west = float(transform.c) + dlon / 2
    if transform.e > 0:  # first row at the south edge
        data = data[::-1]
        void = void[::-1]
        north = float(transform.f) + dlat * (rows - 0.5)
    else:
        north = float(transform.f) - dlat / 2
    data = np.where(void, 0.0, data)
    return data, void, west, north, dlon, dlat


def fill_voids(heights_m: FloatArray, void: BoolArray) -> FloatArray:
    """Fill void cells of a grid so that each equals the mean of its neighbours.

    This is the fixed point of repeated neighbour averaging (a discrete harmonic fill): a
    filled void spans its rim smoothly, and a plane is filled exactly. Neighbours are the four
    edge-adjacent cells inside the grid. Up to ``EXACT_FILL_LIMIT`` void cells the fixed point
    is solved for exactly; beyond, it is approximated coarse to fine (valid cells averaged into
    ever coarser grids, then each void cell started from its coarse parent and smoothed by a
    few rounds of neighbour averaging). Valid cells are left as they are, and every filled
    value is a weighted mean of valid values.

    Parameters
    ----------
    heights_m
        2D grid of heights; the values of void cells are ignored.
    void
        True where a cell has no value. At least one cell must be valid.

    Returns
    -------
    numpy.ndarray
        A copy of ``heights_m`` with every void cell filled.

    Examples
    --------
    >>> import numpy as np
    >>> h = np.array([[1.0, 2.0, 3.0], [2.0, 0.0, 4.0], [3.0, 4.0, 5.0]])
    >>> float(fill_voids(h, h == 0.0)[1, 1])
    3.0
    """
    h = np.asarray(heights_m, dtype=np.float64)
    v = np.asarray(void, dtype=bool)
    if h.shape != v.shape or h.ndim != 2:
        raise ValueError(f"Expected a 2D grid and a void mask of the same shape, got "
                         f"{h.shape} and {v.shape}")
    if v.all():
        raise ValueError("Expected at least one valid cell to fill voids from")
    h = np.where(v, 0.0, h)
    n_void = int(v.sum())
    if n_void == 0:
        return h
    if n_void <= EXACT_FILL_LIMIT:
        return _fill_exact(h, v)
    return _fill_level(h, v)


def _fill_exact(h: FloatArray, void: BoolArray) -> FloatArray:
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import spsolve

    rows, cols = h.shape
    n = int(void.sum())
    index = np.full(h.shape, -1, dtype=np.int64)
    index[void] = np.arange(n)
    r, c = np.nonzero(void)
    degree = np.zeros(n)
    rhs = np.zeros(n)
    links_from: list[NDArray[np.int64]] = []
    links_to: list[NDArray[np.int64]] = []
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        rr, cc = r + dr, c + dc
        inside = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        degree += inside
        src = np.flatnonzero(inside)
        nb = index[rr[inside], cc[inside]]
        unknown = nb >= 0
        links_from.append(src[unknown])
        links_to.append(nb[unknown])
        np.add.at(rhs, src[~unknown], h[rr[inside][~unknown], cc[inside][~unknown]])
    i = np.concatenate([np.arange(n), *links_from])
    j = np.concatenate([np.arange(n), *links_to])
    a = np.concatenate([degree, -np.ones(i.size - n)])
    solution = spsolve(csc_matrix((a, (i, j)), shape=(n, n)), rhs)
    out = h.copy()
    out[void] = solution
    return out


def _fill_level(h: FloatArray, void: BoolArray) -> FloatArray:
    rows, cols = h.shape
    weight = np.pad((~void).astype(np.float64), ((0, rows % 2), (0, cols % 2)))
    value = np.pad(h, ((0, rows % 2), (0, cols % 2))) * weight
    shape = (weight.shape[0] // 2, 2, weight.shape[1] // 2, 2)
    w_coarse = weight.reshape(shape).sum(axis=(1, 3))
    v_coarse = value.reshape(shape).sum(axis=(1, 3))
    coarse_void = w_coarse == 0
    coarse = np.where(coarse_void, 0.0, v_coarse / np.where(coarse_void, 1.0, w_coarse))
    if coarse_void.any():
        coarse = _fill_level(coarse, coarse_void)
    guess = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[:rows, :cols]
    out = np.where(void, guess, h)
    r0, r1, c0, c1 = _bbox(void)
    r0, c0 = max(r0 - 1, 0), max(c0 - 1, 0)
    r1, c1 = min(r1 + 1, rows), min(c1 + 1, cols)
    window = out[r0:r1, c0:c1]
    holes = void[r0:r1, c0:c1]
    for _ in range(_SMOOTHING_SWEEPS):
        p = np.pad(window, 1, mode="edge")
        mean = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) / 4.0
        window[holes] = mean[holes]
    return out


def _bbox(mask: BoolArray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
