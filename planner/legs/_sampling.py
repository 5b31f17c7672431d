"""Ground samples along a leg, dense enough that a straight line above them clears the DEM.

The leg is cut at a regular spacing (at most half the DEM resolution) and, in addition, wherever
it crosses a grid line of a tile. Between two consecutive samples the leg then stays inside one
grid cell, where the bilinear ground along a straight line is a parabola whose deviation from
the chord between the two samples is known exactly (``bulge_up_m``, ``bulge_down_m``). A line
that clears the samples raised by the bulge therefore clears the ground everywhere in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.errors import InfeasibleError
from planner.geo import LocalProjection
from planner.terrain import Dem, DemTile

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_KEY_EPS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class LegSamples:
    """Samples along a leg, in order of distance; ``vertex_at`` maps input vertices to samples.

    ``bulge_up_m[i]`` / ``bulge_down_m[i]`` bound how far the ground rises above / sinks below
    the chord between samples ``i`` and ``i + 1``.
    """

    s_m: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    lon_deg: FloatArray
    lat_deg: FloatArray
    ground_m: FloatArray
    bulge_up_m: FloatArray
    bulge_down_m: FloatArray
    vertex_at: IntArray


def as_polyline(xy_m: object) -> FloatArray:
    """Check and convert a leg's vertices to a float array of shape (k, 2), k >= 2."""
    xy = np.asarray(xy_m, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] < 2:
        raise ValueError(f"Expected leg vertices of shape (k, 2) with k >= 2, got {xy.shape}")
    if not np.all(np.isfinite(xy)):
        raise ValueError("Expected finite leg vertices")
    return xy


def regular_keys(xy: FloatArray, spacing_m: float) -> tuple[FloatArray, IntArray]:
    """Sample keys (segment index + fraction) no farther apart than ``spacing_m``.

    Returns the keys and, for each input vertex, the index of its key.
    """
    seg_len = np.hypot(*np.diff(xy, axis=0).T)
    counts = np.maximum(np.ceil(seg_len / spacing_m).astype(np.intp), 1)
    counts[seg_len == 0] = 1
    seg = np.repeat(np.arange(seg_len.size), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    frac = (np.arange(seg.size) - np.repeat(starts, counts)) / np.repeat(counts, counts)
    keys = np.concatenate([seg + frac, [float(seg_len.size)]])
    vertex_at = np.concatenate([starts, [seg.size]]).astype(np.intp)
    return keys, vertex_at


def interp_on_polyline(xy: FloatArray, keys: FloatArray) -> tuple[FloatArray, FloatArray,
                                                                 FloatArray]:
    """Points (x, y) and distance along the leg at fractional segment keys."""
    seg_len = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    grid = np.arange(xy.shape[0], dtype=np.float64)
    return (np.interp(keys, grid, xy[:, 0]), np.interp(keys, grid, xy[:, 1]),
            np.interp(keys, grid, cum))


def sample_leg(xy: FloatArray, dem: Dem, proj: LocalProjection,
               spacing_m: float) -> LegSamples:
    """Sample the ground along a leg (see the module docstring).

    Raises
    ------
    InfeasibleError
        If part of the leg lies outside the DEM.
    """
    keys, vertex_at = regular_keys(xy, spacing_m)
    x, y, _ = interp_on_polyline(xy, keys)
    lon, lat = proj.to_lonlat(x, y)
    extra = _crossing_keys(dem.tiles, lon, lat)
    # a crossing that coincides with a regular sample is that sample: keep the regular key, so
    # the de-duplication below never removes a vertex's key
    extra = extra[np.abs(extra - np.round(extra)) > _KEY_EPS]
    if extra.size:
        grid = np.arange(keys.size, dtype=np.float64)
        fine = np.unique(np.concatenate([grid, extra]))
        fine = fine[np.concatenate([[True], np.diff(fine) > _KEY_EPS])]
        pos = np.searchsorted(fine, grid - _KEY_EPS / 2)
        vertex_at = pos[vertex_at]
        keys = np.interp(fine, grid, keys)
        lon = np.interp(fine, grid, lon)
        lat = np.interp(fine, grid, lat)
    x, y, s = interp_on_polyline(xy, keys)
    x[vertex_at] = xy[:, 0]
    y[vertex_at] = xy[:, 1]
    keep = np.concatenate([[True], np.diff(s) > 0])  # zero-length segments
    if not keep.all():
        vertex_at = (np.cumsum(keep) - 1)[vertex_at]
        s, x, y, lon, lat = s[keep], x[keep], y[keep], lon[keep], lat[keep]
    ground = dem.elevation_amsl_m(lon, lat)
    missing = np.flatnonzero(~np.isfinite(ground))
    if missing.size:
        i = int(missing[0])
        raise InfeasibleError(
            f"the leg leaves the elevation model at {s[i] / 1000:.3f} km along the leg "
            f"(lat {lat[i]:.5f}, lon {lon[i]:.5f}); expected terrain data along the whole leg")
    up, down = _bulges(dem.tiles, lon, lat)
    return LegSamples(s_m=s, x_m=x, y_m=y, lon_deg=lon, lat_deg=lat, ground_m=ground,
                      bulge_up_m=up, bulge_down_m=down, vertex_at=vertex_at)


def _crossing_keys(tiles: tuple[DemTile, ...], lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Fractional sample keys where the leg crosses a grid line of some tile."""
    found: list[FloatArray] = []
    for tile in tiles:
        rows, cols = tile.heights_m.shape
        fc = (lon - tile.west_deg) / tile.dlon_deg
        fr = (tile.north_deg - lat) / tile.dlat_deg
        for f, last in ((fc, cols - 1), (fr, rows - 1)):
            a, b = f[:-1], f[1:]
            hi = np.floor(np.maximum(a, b))
            line = np.where(hi == np.maximum(a, b), hi - 1, hi)  # strictly inside (a, b)
            cross = (line > np.minimum(a, b)) & (line >= 0) & (line <= last)
            idx = np.flatnonzero(cross)
            t = (line[idx] - a[idx]) / (b[idx] - a[idx])
            found.append(idx + t)
    return np.concatenate(found) if found else np.empty(0)


def _bulges(tiles: tuple[DemTile, ...], lon: FloatArray,
            lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Largest rise above / fall below the chord of the bilinear ground between samples."""
    n = lon.size - 1
    quad = np.zeros(n)
    todo = np.ones(n, dtype=bool)
    mid_lon = (lon[:-1] + lon[1:]) / 2
    mid_lat = (lat[:-1] + lat[1:]) / 2
    for tile in tiles:
        inside = todo & tile.covers(mid_lon, mid_lat)
        if not inside.any():
            continue
        todo &= ~inside
        idx = np.flatnonzero(inside)
        h = tile.heights_m
        rows, cols = h.shape
        fc = (lon - tile.west_deg) / tile.dlon_deg
        fr = (tile.north_deg - lat) / tile.dlat_deg
        c0 = np.clip(np.floor((fc[idx] + fc[idx + 1]) / 2).astype(np.intp), 0, cols - 2)
        r0 = np.clip(np.floor((fr[idx] + fr[idx + 1]) / 2).astype(np.intp), 0, rows - 2)
        twist = h[r0, c0] - h[r0, c0 + 1] - h[r0 + 1, c0] + h[r0 + 1, c0 + 1]
        quad[idx] = twist * (fc[idx + 1] - fc[idx]) * (fr[idx + 1] - fr[idx])
    # ground(t) = chord(t) + quad * (t**2 - t), t in [0, 1]: at most |quad| / 4 off the chord.
    return np.maximum(-quad, 0.0) / 4, np.maximum(quad, 0.0) / 4


def sample_spacing_m(dem: Dem) -> float:
    """The default sample spacing: half the DEM's finest resolution."""
    res = dem.resolution_m
    if not math.isfinite(res) or res <= 0:
        raise ValueError(f"Expected a DEM with a positive resolution, got {res}")
    return res / 2
