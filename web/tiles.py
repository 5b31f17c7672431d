"""Hillshade map tiles rendered from an elevation model, so the maps work without the internet.

Tiles are 256 px Web Mercator (``/tiles/{z}/{x}/{y}.png`` as every slippy map asks for them),
shaded from the north-west at 45 degrees with a light tint by height; places the DEM does not
cover are transparent. Rendered tiles are kept on disk and in memory.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from planner.terrain import Dem
from web.errors import NotFound

TILE_PX = 256
MAX_ZOOM = 17
_EARTH_M = 40_075_016.686
_AZIMUTH_RAD = math.radians(315.0)
_ALTITUDE_RAD = math.radians(45.0)


def tile_bounds_deg(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a Web Mercator tile.

    Examples
    --------
    >>> [round(v, 3) for v in tile_bounds_deg(1, 0, 0)]
    [-180.0, 0.0, 0.0, 85.051]
    """
    n = 2 ** z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _pixel_lat_lon(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of pixel centres, with a one-pixel border (258 x 258)."""
    n = 2 ** z * TILE_PX
    idx = np.arange(-1, TILE_PX + 1) + 0.5
    lon = (x * TILE_PX + idx) / n * 360.0 - 180.0
    merc = math.pi * (1 - 2 * (y * TILE_PX + idx) / n)
    lat = np.degrees(np.arctan(np.sinh(merc)))
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    return lat_grid, lon_grid


def render_tile(dem: Dem, z: int, x: int, y: int) -> bytes:
    """The PNG of one hillshade tile."""
    lat, lon = _pixel_lat_lon(z, x, y)
    height = dem.elevation_amsl_m(lon, lat)
    cell_m = _EARTH_M * np.cos(np.radians(lat[1:-1, 1:-1])) / (2 ** z * TILE_PX)
    filled = np.where(np.isnan(height), np.nanmean(height) if np.isfinite(height).any() else 0,
                      height)
    dzdx = (filled[1:-1, 2:] - filled[1:-1, :-2]) / (2 * cell_m)
    dzdy = (filled[:-2, 1:-1] - filled[2:, 1:-1]) / (2 * cell_m)
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(dzdy, -dzdx)
    shade = (np.sin(_ALTITUDE_RAD) * np.cos(slope) + np.cos(_ALTITUDE_RAD) * np.sin(slope)
             * np.cos(_AZIMUTH_RAD - math.pi / 2 - aspect))
    shade = np.clip(shade, 0.0, 1.0)
    inner = height[1:-1, 1:-1]
    low, high = 0.0, 2000.0
    tint = np.clip((np.nan_to_num(inner, nan=0.0) - low) / (high - low), 0.0, 1.0)
    rgba = np.zeros((TILE_PX, TILE_PX, 4), dtype=np.uint8)
    base = 90 + 165 * shade
    rgba[..., 0] = np.clip(base * (0.85 + 0.25 * tint), 0, 255)
    rgba[..., 1] = np.clip(base * (0.95 + 0.05 * tint), 0, 255)
    rgba[..., 2] = np.clip(base * (0.80 + 0.10 * tint), 0, 255)
    rgba[..., 3] = np.where(np.isnan(inner), 0, 255)
    out = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(out, format="PNG", optimize=False)
    return out.getvalue()


def _empty_tile() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (TILE_PX, TILE_PX), (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


class TileService:
    """Hillshade tiles of one elevation model, cached.

    Parameters
    ----------
    dem
        A function returning the elevation model (called once, on the first tile).
    cache_dir
        Where rendered tiles are kept (None: memory only).
    """

    def __init__(self, dem: Callable[[], Dem | None], cache_dir: Path | None,
                 memory_tiles: int = 512) -> None:
        self._get_dem = dem
        self._dem: Dem | None = None
        self._loaded = False
        self.cache_dir = cache_dir
        self.memory_tiles = memory_tiles
        self._memory: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._empty = _empty_tile()

    def dem(self) -> Dem | None:
        """The elevation model (loaded on first use)."""
        with self._lock:
            if not self._loaded:
                self._dem = self._get_dem()
                self._loaded = True
            return self._dem

    def tile(self, z: int, x: int, y: int) -> bytes:
        """The PNG of tile (z, x, y); transparent where there is no terrain."""
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            raise NotFound(f"no tile {z}/{x}/{y}: expected 0 <= z <= {MAX_ZOOM} and x, y in "
                           f"[0, 2^z)")
        key = (z, x, y)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        data = self._load_or_render(key)
        with self._lock:
            self._memory[key] = data
            while len(self._memory) > self.memory_tiles:
                self._memory.popitem(last=False)
        return data

    def _load_or_render(self, key: tuple[int, int, int]) -> bytes:
        z, x, y = key
        path = None if self.cache_dir is None else self.cache_dir / str(z) / str(x) / f"{y}.png"
        if path is not None and path.is_file():
            return path.read_bytes()
        dem = self.dem()
        if dem is None:
            return self._empty
        west, south, east, north = tile_bounds_deg(z, x, y)
        dw, ds, de, dn = dem.bounds_deg
        if east < dw or west > de or north < ds or south > dn:
            return self._empty
        data = render_tile(dem, z, x, y)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{y}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return data
