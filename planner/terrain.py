"""Elevation model: one or more grid tiles sampled bilinearly.

A :class:`DemTile` is a grid of heights in metres AMSL at grid points (SRTM convention: row 0 at
the north edge, column 0 at the west edge, the outer rows and columns lying exactly on the tile's
edges). A :class:`Dem` is a set of tiles; a point is covered when some tile holds it.
Loading from files lives in :mod:`planner.io.dem`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DemTile:
    """Heights in metres AMSL on a regular lon/lat grid.

    ``heights_m[row, col]`` is the height at ``lat = north_deg - row * dlat_deg`` and
    ``lon = west_deg + col * dlon_deg``. No voids: loaders fill or reject them.
    """

    heights_m: FloatArray
    west_deg: float
    north_deg: float
    dlon_deg: float
    dlat_deg: float
    source: str = ""

    def __post_init__(self) -> None:
        h = np.asarray(self.heights_m, dtype=np.float64)
        if h.ndim != 2 or h.shape[0] < 2 or h.shape[1] < 2:
            raise ValueError(f"Expected a 2D grid of at least 2x2 heights, got shape {h.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError("Expected finite heights (fill voids before building a tile)")
        if self.dlon_deg <= 0 or self.dlat_deg <= 0:
            raise ValueError(
                f"Expected positive grid spacing, got {self.dlon_deg}, {self.dlat_deg}")
        h.setflags(write=False)
        object.__setattr__(self, "heights_m", h)

    @property
    def east_deg(self) -> float:
        """Longitude of the last column."""
        return float(self.west_deg + (self.heights_m.shape[1] - 1) * self.dlon_deg)

    @property
    def south_deg(self) -> float:
        """Latitude of the last row."""
        return float(self.north_deg - (self.heights_m.shape[0] - 1) * self.dlat_deg)

    def covers(self, lon_deg: FloatArray, lat_deg: FloatArray) -> BoolArray:
        """True where the point lies inside the tile (edges included)."""
        eps = 1e-9
        return ((lon_deg >= self.west_deg - eps) & (lon_deg <= self.east_deg + eps)
                & (lat_deg >= self.south_deg - eps) & (lat_deg <= self.north_deg + eps))

    def sample(self, lon_deg: FloatArray, lat_deg: FloatArray) -> FloatArray:
        """Bilinear heights at points inside the tile (callers check :meth:`covers`)."""
        h = self.heights_m
        rows, cols = h.shape
        fc = np.clip((lon_deg - self.west_deg) / self.dlon_deg, 0.0, cols - 1.0)
        fr = np.clip((self.north_deg - lat_deg) / self.dlat_deg, 0.0, rows - 1.0)
        c0 = np.minimum(np.floor(fc).astype(np.intp), cols - 2)
        r0 = np.minimum(np.floor(fr).astype(np.intp), rows - 2)
        tc = fc - c0
        tr = fr - r0
        top = h[r0, c0] * (1 - tc) + h[r0, c0 + 1] * tc
        bottom = h[r0 + 1, c0] * (1 - tc) + h[r0 + 1, c0 + 1] * tc
        return np.asarray(top * (1 - tr) + bottom * tr, dtype=np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dem:
    """An elevation model made of one or more tiles.

    Examples
    --------
    >>> import numpy as np
    >>> tile = DemTile(heights_m=np.array([[100.0, 200.0], [300.0, 400.0]]),
    ...                west_deg=10.0, north_deg=46.0, dlon_deg=1.0, dlat_deg=1.0)
    >>> dem = Dem(tiles=(tile,))
    >>> float(dem.elevation_amsl_m(10.5, 45.5)[()])
    250.0
    """

    tiles: tuple[DemTile, ...]

    def __post_init__(self) -> None:
        if not self.tiles:
            raise ValueError("Expected at least one DEM tile")

    @property
    def resolution_m(self) -> float:
        """The finest grid spacing of any tile in metres (east-west taken at its mid-latitude)."""
        best = math.inf
        for t in self.tiles:
            mid_lat = math.radians((t.north_deg + t.south_deg) / 2)
            best = min(best, t.dlat_deg * _M_PER_DEG_LAT,
                       t.dlon_deg * _M_PER_DEG_LAT * max(math.cos(mid_lat), 1e-6))
        return best

    @property
    def bounds_deg(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the union of the tiles' extents."""
        return (min(t.west_deg for t in self.tiles), min(t.south_deg for t in self.tiles),
                max(t.east_deg for t in self.tiles), max(t.north_deg for t in self.tiles))

    def covers(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> BoolArray:
        """True where some tile holds the point."""
        lon, lat = np.broadcast_arrays(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        out = np.zeros(lon.shape, dtype=bool)
        for t in self.tiles:
            out |= t.covers(lon, lat)
        return out

    def elevation_amsl_m(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> FloatArray:
        """Bilinear ground height in metres AMSL; NaN where no tile covers the point."""
        lon, lat = np.broadcast_arrays(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        out = np.full(lon.shape, np.nan)
        todo = np.ones(lon.shape, dtype=bool)
        for t in self.tiles:
            inside = todo & t.covers(lon, lat)
            if inside.any():
                out[inside] = t.sample(lon[inside], lat[inside])
                todo &= ~inside
        return out
