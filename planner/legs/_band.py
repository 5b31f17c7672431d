"""Fewest-breakpoint altitude profile inside a band, in (distance, altitude) space.

Inputs are samples ``s`` (strictly increasing, metres along the leg) with a lower and an upper
altitude limit each. The profile is piecewise linear with breakpoints at samples.

1. A slope corridor: the altitudes from which the rest of the leg can be flown with slopes in
   ``[-descent, climb]``. A forward pass (what can be reached from the start) and a backward
   pass (what can still reach the end) are running minima and maxima of ``limit -+ slope * s``.
   Where no slope-limited path exists, the interval is marked *free* (steeper flight allowed)
   and the pass restarts from the band there.
2. A greedy funnel: from the current breakpoint, the feasible slopes of one straight segment
   shrink sample by sample (running max of the lower-limit slopes, running min of the upper);
   the farthest sample whose corridor can still be hit becomes the next breakpoint, at the
   altitude (among a few candidates) from which the next segment reaches farthest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

TOL_M = 1e-7
_CANDIDATES = 9
_STEPS = np.arange(_CANDIDATES, dtype=np.float64)
_WINDOW = 96


@dataclass(frozen=True, slots=True, kw_only=True)
class Corridor:
    """Per-sample altitude limits of slope-limited flight, and the intervals needing more."""

    lo_m: FloatArray
    hi_m: FloatArray
    free: BoolArray  # free[i]: interval (i, i + 1) may exceed the slope limits


def slope_corridor(s: FloatArray, lo: FloatArray, hi: FloatArray, climb: float,
                   descent: float) -> Corridor:
    """Forward and backward slope-limited reachability inside ``[lo, hi]`` (see module)."""
    n = s.size
    free = np.zeros(max(n - 1, 0), dtype=bool)
    f_lo, f_hi = _forward(s, lo.copy(), hi.copy(), climb, descent, free)
    b_lo, b_hi = _forward(-s[::-1], f_lo[::-1].copy(), f_hi[::-1].copy(), descent, climb,
                          free[::-1])
    return Corridor(lo_m=b_lo[::-1].copy(), hi_m=b_hi[::-1].copy(), free=free)


def _forward(s: FloatArray, lo: FloatArray, hi: FloatArray, up: float, down: float,
             free: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Slope-limited reachable intervals from sample 0; marks (and restarts at) dead ends.

    ``lo`` and ``hi`` are overwritten; ``free`` is a (possibly reversed) view that is updated
    in place and whose already marked intervals are not propagated across.
    """
    n = s.size
    start = 0
    while start < n - 1:
        stop = min(start + _WINDOW, n)
        marked = np.flatnonzero(free[start:stop - 1])
        if marked.size:
            stop = start + int(marked[0]) + 1
        ss = s[start:stop]
        new_hi = np.minimum.accumulate(hi[start:stop] - up * ss) + up * ss
        new_lo = np.maximum.accumulate(lo[start:stop] + down * ss) - down * ss
        dead = np.flatnonzero(new_lo > new_hi + TOL_M)
        if dead.size:
            k = int(dead[0])
            hi[start:start + k] = np.maximum(new_hi[:k], new_lo[:k])
            lo[start:start + k] = new_lo[:k]
            free[start + k - 1] = True
            start += k
            continue
        hi[start:stop] = np.maximum(new_hi, new_lo)
        lo[start:stop] = new_lo
        start = stop if stop == n or free[stop - 1] else stop - 1
    return lo, hi


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reach:
    index: IntArray  # farthest reachable sample, per candidate
    lo_m: FloatArray  # altitude range that can be hit there
    hi_m: FloatArray


def _reach(s: FloatArray, lo: FloatArray, hi: FloatArray, corridor: Corridor,
           free_count: IntArray, climb: float, descent: float, b: int,
           z: FloatArray) -> _Reach:
    """How far one straight segment from (s[b], z) can go, for each candidate altitude z."""
    n = s.size
    zc = z[:, None]
    width = _WINDOW
    while True:
        stop = min(b + 1 + width, n)
        js = slice(b + 1, stop)  # the samples after b, as views
        ds = s[js] - s[b]
        a = np.maximum.accumulate((lo[js] - zc) / ds, axis=1)
        u = np.minimum.accumulate((hi[js] - zc) / ds, axis=1)
        if stop == n or not np.any(a[:, -1] <= u[:, -1] + TOL_M / ds[-1]):
            break
        width *= 4
    steep_ok = (free_count[js] - free_count[b]) > 0
    lim_lo = np.where(steep_ok, -np.inf, -descent)
    lim_hi = np.where(steep_ok, np.inf, climb)
    low = np.maximum(np.maximum(a, (corridor.lo_m[js] - zc) / ds), lim_lo)
    high = np.minimum(np.minimum(u, (corridor.hi_m[js] - zc) / ds), lim_hi)
    ok = (low - high) * ds <= TOL_M
    last = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    reachable = ok[np.arange(z.size), last]
    index = np.where(reachable, b + 1 + last, b)
    pick = np.arange(z.size), last
    d = ds[last]
    z_lo = np.where(reachable, z + low[pick] * d, z)
    z_hi = np.where(reachable, z + np.maximum(high[pick], low[pick]) * d, z)
    return _Reach(index=index, lo_m=z_lo, hi_m=z_hi)


def greedy_profile(s: FloatArray, lo: FloatArray, hi: FloatArray, corridor: Corridor,
                   climb: float, descent: float) -> tuple[IntArray, FloatArray]:
    """Breakpoint sample indices and altitudes of a profile inside the band (see module).

    ``corridor`` must be the :func:`slope_corridor` of ``lo``/``hi``; fixed start or end
    altitudes are given by a zero-width corridor there.
    """
    n = s.size
    free_count = np.concatenate([[0], np.cumsum(corridor.free)]).astype(np.intp)
    idx = [0]
    alt: list[float] = []
    b = 0
    options = _candidates(corridor.lo_m[0], corridor.hi_m[0])
    while True:
        reach = _reach(s, lo, hi, corridor, free_count, climb, descent, b, options)
        best = _best(reach)
        z_b = float(options[best])
        alt.append(z_b)
        nxt = int(reach.index[best])
        if nxt <= b:  # cannot happen for a consistent corridor; keep the leg safe anyway
            nxt = b + 1
            z_next = float(np.clip(z_b, corridor.lo_m[nxt], corridor.hi_m[nxt]))
            options = np.array([z_next])
        elif nxt == n - 1:
            z_lo, z_hi = float(reach.lo_m[best]), float(reach.hi_m[best])
            options = np.array([float(np.clip(z_b, z_lo, z_hi))])
        else:
            options = _candidates(float(reach.lo_m[best]), float(reach.hi_m[best]))
        idx.append(nxt)
        b = nxt
        if b == n - 1:
            alt.append(float(options[0]))
            break
    return np.asarray(idx, dtype=np.intp), np.asarray(alt, dtype=np.float64)


def _candidates(z_lo: float, z_hi: float) -> FloatArray:
    """``_CANDIDATES`` altitudes evenly from ``z_lo`` to ``z_hi`` (numpy's linspace, inlined)."""
    if z_hi - z_lo <= TOL_M:
        return np.array([z_lo])
    z = _STEPS * ((z_hi - z_lo) / (_CANDIDATES - 1))
    z += z_lo
    z[-1] = z_hi
    return z


def _best(reach: _Reach) -> int:
    """The candidate reaching farthest; ties go to the widest altitude window there."""
    far = reach.index == reach.index.max()
    width = np.where(far, reach.hi_m - reach.lo_m, -np.inf)
    return int(np.argmax(width))
