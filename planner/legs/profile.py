"""Terrain-safe altitude profiles of legs.

A leg is a 2D polyline in local metres (see :class:`planner.geo.LocalProjection`). Its profile
gives every vertex an altitude in metres AMSL, adding vertices only where the terrain needs
them, so that every straight 3D segment keeps ``clearance + margin <= alt - ground <= ceiling -
margin`` everywhere along it (``ground`` being the DEM's bilinear surface). Slopes stay within
the drone's preferred climb and descent slopes where the band allows it.

The ground is sampled at half the DEM resolution and at every crossing of a DEM grid line, and
the samples are raised (lowered) by the exact bound on how far the bilinear ground rises above
(sinks below) the chord between two samples, so keeping the band at the samples keeps it
everywhere in between. See :mod:`planner.legs._band` for the vertex placement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.errors import InfeasibleError
from planner.geo import LocalProjection
from planner.legs._band import TOL_M, greedy_profile, slope_corridor
from planner.legs._sampling import (
    LegSamples,
    as_polyline,
    interp_on_polyline,
    regular_keys,
    sample_leg,
    sample_spacing_m,
)
from planner.scenario import DroneType, PlannerParams, TerrainConfig
from planner.terrain import Dem

FloatArray = NDArray[np.float64]

_PAD_M = 1e-3  # planned this far inside the band so that rounding never leaves it


@dataclass(frozen=True, slots=True, kw_only=True)
class AltitudeBand:
    """Heights above ground a leg must stay between, and the slopes it prefers.

    ``clearance_agl_m`` and ``ceiling_agl_m`` are the lowest and highest allowed heights above
    ground; profiles are planned ``margin_m`` inside both. ``max_climb_slope`` and
    ``max_descent_slope`` are the preferred largest rise and fall per metre flown (climb or
    descent rate over cruise speed).
    """

    clearance_agl_m: float
    ceiling_agl_m: float
    margin_m: float
    max_climb_slope: float
    max_descent_slope: float

    def __post_init__(self) -> None:
        for name in ("clearance_agl_m", "ceiling_agl_m", "margin_m", "max_climb_slope",
                     "max_descent_slope"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"Expected a finite {name}, got {value}")
        if self.clearance_agl_m < 0 or self.margin_m < 0:
            raise ValueError(f"Expected clearance_agl_m >= 0 and margin_m >= 0, got "
                             f"{self.clearance_agl_m} and {self.margin_m}")
        if self.max_climb_slope <= 0 or self.max_descent_slope <= 0:
            raise ValueError(f"Expected max_climb_slope > 0 and max_descent_slope > 0, got "
                             f"{self.max_climb_slope} and {self.max_descent_slope}")
        if self.low_agl_m >= self.high_agl_m:
            raise ValueError(
                f"Expected clearance_agl_m + margin_m < ceiling_agl_m - margin_m, got "
                f"{self.low_agl_m} >= {self.high_agl_m}")

    @property
    def low_agl_m(self) -> float:
        """Lowest planned height above ground: clearance plus margin."""
        return self.clearance_agl_m + self.margin_m

    @property
    def high_agl_m(self) -> float:
        """Highest planned height above ground: ceiling minus margin."""
        return self.ceiling_agl_m - self.margin_m

    @classmethod
    def for_drone(cls, terrain: TerrainConfig, params: PlannerParams,
                  drone: DroneType) -> AltitudeBand:
        """The band of a scenario's terrain settings for one drone type.

        Parameters
        ----------
        terrain
            Clearance and ceiling above ground.
        params
            The planner's altitude margin.
        drone
            Cruise speed, climb and descent rates, giving the preferred slopes.

        Returns
        -------
        AltitudeBand
            The band.
        """
        return cls(clearance_agl_m=terrain.clearance_agl_m,
                   ceiling_agl_m=terrain.ceiling_agl_m, margin_m=params.altitude_margin_m,
                   max_climb_slope=drone.climb_rate_m_s / drone.cruise_speed_m_s,
                   max_descent_slope=drone.descent_rate_m_s / drone.cruise_speed_m_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class LegProfile:
    """A leg with an altitude at every vertex.

    ``xy_m`` holds the input vertices in order plus the ``added`` ones, local metres;
    ``alt_amsl_m`` the altitude of each, metres AMSL. ``min_agl_m`` and ``max_agl_m`` are the
    lowest and highest heights above ground met along the 3D segments (at the samples);
    ``length_m`` is the 2D length. ``steep`` is True when some segment climbs or descends more
    steeply than the band's preferred slopes because the band could not be kept otherwise.
    """

    xy_m: FloatArray
    alt_amsl_m: FloatArray
    added: int
    min_agl_m: float
    max_agl_m: float
    length_m: float
    steep: bool

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy_m, dtype=np.float64)
        alt = np.asarray(self.alt_amsl_m, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2 or alt.shape != (xy.shape[0],):
            raise ValueError(f"Expected xy_m of shape (n, 2) and alt_amsl_m of shape (n,), "
                             f"got {xy.shape} and {alt.shape}")
        xy.setflags(write=False)
        alt.setflags(write=False)
        object.__setattr__(self, "xy_m", xy)
        object.__setattr__(self, "alt_amsl_m", alt)


def profile_leg(xy_m: ArrayLike, dem: Dem, proj: LocalProjection, band: AltitudeBand, *,
                start_alt_amsl_m: float | None = None,
                end_alt_amsl_m: float | None = None) -> LegProfile:
    """Give a leg terrain-safe altitudes with as few added vertices as the terrain allows.

    Parameters
    ----------
    xy_m
        Vertices of the leg, shape (k, 2), k >= 2, local metres of ``proj``.
    dem
        The elevation model.
    proj
        The projection of ``xy_m``.
    band
        Heights above ground to keep, the margin, and the preferred slopes.
    start_alt_amsl_m, end_alt_amsl_m
        Fixed altitudes at the first and last vertex, metres AMSL; free inside the band when
        not given (the drone climbs or descends vertically at the leg's ends).

    Returns
    -------
    LegProfile
        The vertices (inputs plus added ones) and their altitudes.

    Raises
    ------
    InfeasibleError
        If the leg leaves the DEM, a given end altitude lies outside the band, or the band is
        too narrow for the terrain somewhere.
    """
    xy = as_polyline(xy_m)
    smp = sample_leg(xy, dem, proj, sample_spacing_m(dem))
    g = smp.ground_m
    up = np.concatenate([[0.0], smp.bulge_up_m, [0.0]])
    down = np.concatenate([[0.0], smp.bulge_down_m, [0.0]])
    lo = g + band.low_agl_m + _PAD_M + np.maximum(up[:-1], up[1:])
    hi = g + band.high_agl_m - _PAD_M - np.maximum(down[:-1], down[1:])
    starts = _given(start_alt_amsl_m, "start", 0, smp, band)
    ends = _given(end_alt_amsl_m, "end", g.size - 1, smp, band)
    if g.size == 1:
        return _point_leg(xy, smp, band, starts, ends)
    c_lo, c_hi = lo.copy(), hi.copy()
    for z, j, k in ((starts, 0, 1), (ends, g.size - 1, g.size - 2)):
        if z is None:
            continue
        # A fixed end may sit below the bulge allowance; then the next sample must clear the
        # full curvature of the interval (the ground rises by at most 4 * bulge / t * t(1-t)).
        if z < lo[j]:
            lo[k] = max(lo[k], g[k] + band.low_agl_m + 4 * smp.bulge_up_m[min(j, k)])
        if z > hi[j]:
            hi[k] = min(hi[k], g[k] + band.high_agl_m - 4 * smp.bulge_down_m[min(j, k)])
        lo[j] = hi[j] = c_lo[j] = c_hi[j] = z
    c_lo[1:-1], c_hi[1:-1] = lo[1:-1], hi[1:-1]
    _check_width(lo, hi, smp)
    climb, descent = band.max_climb_slope, band.max_descent_slope
    corridor = slope_corridor(smp.s_m, c_lo, c_hi, climb, descent)
    bp, bp_alt = greedy_profile(smp.s_m, lo, hi, corridor, climb, descent)
    alt = np.interp(smp.s_m, smp.s_m[bp], bp_alt)
    _check_kept(alt, lo, hi, smp)
    agl = alt - g
    slopes = np.diff(bp_alt) / np.diff(smp.s_m[bp])
    steep = bool(np.any(slopes > climb + 1e-9) or np.any(slopes < -descent - 1e-9))
    # breakpoints that are not input vertices (both ascending: what np.setdiff1d gives)
    at = np.minimum(np.searchsorted(smp.vertex_at, bp), smp.vertex_at.size - 1)
    extra = bp[smp.vertex_at[at] != bp]
    order = np.argsort(np.concatenate([smp.vertex_at, extra]), kind="stable")
    out_xy = np.concatenate([xy, np.column_stack([smp.x_m[extra], smp.y_m[extra]])])[order]
    out_s = smp.s_m[np.concatenate([smp.vertex_at, extra])][order]
    return LegProfile(xy_m=out_xy, alt_amsl_m=np.interp(out_s, smp.s_m[bp], bp_alt),
                      added=int(extra.size), min_agl_m=float(agl.min()),
                      max_agl_m=float(agl.max()), length_m=float(smp.s_m[-1]), steep=steep)


def band_violations(xy_m: ArrayLike, alt_amsl_m: ArrayLike, dem: Dem, proj: LocalProjection,
                    band_lo_agl_m: float, band_hi_agl_m: float, *,
                    spacing_m: float | None = None,
                    tol_m: float = 0.0) -> list[tuple[float, float]]:
    """Samples of a 3D polyline that lie outside a height band above the ground.

    Each straight segment is sampled at ``spacing_m`` (default half the DEM resolution),
    vertices included, with the altitude linear along it; a sample is reported when its height
    above the DEM is below ``band_lo_agl_m - tol_m``, above ``band_hi_agl_m + tol_m``, or
    unknown (outside the DEM, reported as NaN).

    Parameters
    ----------
    xy_m
        Vertices, shape (n, 2), local metres of ``proj``.
    alt_amsl_m
        Altitude of each vertex, metres AMSL.
    dem
        The elevation model.
    proj
        The projection of ``xy_m``.
    band_lo_agl_m, band_hi_agl_m
        The band, metres above ground.
    spacing_m
        Largest distance between samples, metres.
    tol_m
        Violations up to this many metres are ignored.

    Returns
    -------
    list of tuple of float
        ``(distance along the polyline in metres, height above ground in metres)`` of every
        offending sample, in order.
    """
    xy = as_polyline(xy_m)
    alt = np.asarray(alt_amsl_m, dtype=np.float64)
    if alt.shape != (xy.shape[0],):
        raise ValueError(f"Expected {xy.shape[0]} altitudes, got shape {alt.shape}")
    step = sample_spacing_m(dem) if spacing_m is None else spacing_m
    if not step > 0:
        raise ValueError(f"Expected spacing_m > 0, got {step}")
    keys, _ = regular_keys(xy, step)
    x, y, s = interp_on_polyline(xy, keys)
    z = np.interp(keys, np.arange(alt.size, dtype=np.float64), alt)
    lon, lat = proj.to_lonlat(x, y)
    agl = z - dem.elevation_amsl_m(lon, lat)
    bad = ~((agl >= band_lo_agl_m - tol_m) & (agl <= band_hi_agl_m + tol_m))
    return [(float(a), float(b)) for a, b in zip(s[bad], agl[bad], strict=True)]


def _where(smp: LegSamples, j: int) -> str:
    return (f"{smp.s_m[j] / 1000:.3f} km along the leg (lat {smp.lat_deg[j]:.5f}, "
            f"lon {smp.lon_deg[j]:.5f})")


def _given(z: float | None, name: str, j: int, smp: LegSamples,
           band: AltitudeBand) -> float | None:
    if z is None:
        return None
    agl = z - smp.ground_m[j]
    if not (band.low_agl_m - TOL_M <= agl <= band.high_agl_m + TOL_M):
        raise InfeasibleError(
            f"the {name} altitude {z:.1f} m AMSL is {agl:.1f} m above ground at the {name} of "
            f"the leg ({_where(smp, j)}); expected {band.low_agl_m:.1f} to "
            f"{band.high_agl_m:.1f} m above ground (clearance and ceiling with the margin)")
    return float(z)


def _check_width(lo: FloatArray, hi: FloatArray, smp: LegSamples) -> None:
    narrow = np.flatnonzero(lo > hi + TOL_M)
    if narrow.size:
        j = int(narrow[0])
        raise InfeasibleError(
            f"the altitude band is too narrow for the terrain at {_where(smp, j)}: the ground "
            f"between two DEM samples curves {lo[j] - hi[j]:.2f} m more than the band is wide; "
            "expected a wider band (higher ceiling, lower clearance or smaller margin)")


def _check_kept(alt: FloatArray, lo: FloatArray, hi: FloatArray, smp: LegSamples) -> None:
    off = np.flatnonzero((alt < lo - 1e3 * TOL_M) | (alt > hi + 1e3 * TOL_M))
    if off.size:
        j = int(off[0])
        raise InfeasibleError(f"no profile keeps the altitude band at {_where(smp, j)}")


def _point_leg(xy: FloatArray, smp: LegSamples, band: AltitudeBand, start: float | None,
               end: float | None) -> LegProfile:
    """A leg of zero length: the drone only climbs or descends."""
    ground = float(smp.ground_m[0])
    first = start if start is not None else end if end is not None else ground + band.low_agl_m
    alt = np.full(xy.shape[0], first)
    if end is not None:
        alt[-1] = end
    return LegProfile(xy_m=xy.copy(), alt_amsl_m=alt, added=0,
                      min_agl_m=float(alt.min()) - ground, max_agl_m=float(alt.max()) - ground,
                      length_m=0.0, steep=False)
