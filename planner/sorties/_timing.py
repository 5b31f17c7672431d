"""Arc times and proxy energies of the routing problem's nodes, computed as they are asked.

A :class:`Timing` keeps no matrix over the nodes: an arc's time comes from the scene's no-fly
distance matrix, the ends' positions, the slowest cruise speed and the wind, plus the take-off
or landing time at a depot end; its proxy energy is that time times the power flying into the
arc's end. Each value is computed element by element with the same operations whatever the
shape asked for (one arc, a row, a block of rows), so a block built in pieces is bit for bit the
matrix built at once. The routing problem's matrices are built block by block from them
(:mod:`planner.sorties._problem`), and the local search reads single arcs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner.geo import FloatArray

#: A chord counts as straight when the no-fly distance is within this factor of it.
STRAIGHT_FACTOR = 1.001

ROW_CHUNK = 1 << 20
"""Largest number of matrix entries computed in one vectorised step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Times and proxy energies over the depots with drones, then the servable drops (nodes).

    An arc's time is its no-fly distance (``point_dist_m``, over every scene point) at the
    ground speed of ``speed_m_s`` in ``wind_en_m_s`` along the chord (against the whole wind
    when the path bends around zones), plus ``up_s`` of its depot when it leaves one for a drop
    and ``down_s`` when it lands at one from a drop. Its proxy energy is the time times the
    reference type's power flying into the arc's end (``power_in_w``; out of a pickup node, the
    power per end in ``pickup_power_w``) over 3,600. ``stop_wh`` is per drop the energy of its
    descent, hover and climb.
    """

    depot_points: tuple[int, ...]
    drop_points: tuple[int, ...]
    xy_m: FloatArray
    point_dist_m: FloatArray = field(repr=False)
    speed_m_s: float
    wind_en_m_s: tuple[float, float]
    up_s: FloatArray
    down_s: FloatArray
    power_in_w: FloatArray
    pickup_power_w: Mapping[int, FloatArray]
    service_s: dict[int, float]
    descent_s: dict[int, float]
    stop_wh: dict[int, float]
    _index: dict[int, int] = field(init=False, repr=False, compare=False)
    _points: NDArray[np.intp] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[int, int] = {}
        for k, p in enumerate(self.depot_points + self.drop_points):
            index.setdefault(p, k)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_points",
                           np.array(self.depot_points + self.drop_points, dtype=np.intp))

    @property
    def n_nodes(self) -> int:
        """Number of nodes: depots, then drops."""
        return int(self._points.size)

    def node(self, point: int) -> int:
        """Node index of a depot or drop point."""
        try:
            return self._index[point]
        except KeyError:
            raise ValueError(f"{point} is not a node of the timing") from None

    def duration_s(self, a: ArrayLike, b: ArrayLike) -> FloatArray:
        """Times of the arcs from nodes ``a`` to nodes ``b`` (broadcast together)."""
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp))
        dist = np.asarray(self.point_dist_m[self._points[a], self._points[b]], dtype=np.float64)
        dx = self.xy_m[b, 0] - self.xy_m[a, 0]
        dy = self.xy_m[b, 1] - self.xy_m[a, 1]
        gs = _ground_speeds(dx, dy, dist, self.speed_m_s, self.wind_en_m_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where((gs > 0) & np.isfinite(dist), dist / np.where(gs > 0, gs, 1.0), np.inf)
        out[a == b] = 0.0
        n_dep = len(self.depot_points)
        up = (a < n_dep) & (b >= n_dep)
        out[up] += self.up_s[a[up]]
        down = (a >= n_dep) & (b < n_dep)
        out[down] += self.down_s[b[down]]
        return np.asarray(out, dtype=np.float64)

    def energy_wh(self, a: ArrayLike, b: ArrayLike,
                  duration_s: FloatArray | None = None) -> FloatArray:
        """Proxy energies of the arcs from nodes ``a`` to nodes ``b`` (broadcast together);
        ``duration_s`` their times when already known."""
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp))
        dur = self.duration_s(a, b) if duration_s is None else duration_s
        out = np.asarray(dur * self.power_in_w[b] / 3600.0, dtype=np.float64)
        for node, power in self.pickup_power_w.items():
            rows = a == node
            if rows.any():
                out[rows] = dur[rows] * power[b[rows]] / 3600.0
        return out

    def blocks(self, nodes: Sequence[int]) -> list[NDArray[np.intp]]:
        """``nodes`` cut into runs of rows whose blocks against ``nodes`` are small."""
        idx = np.asarray(nodes, dtype=np.intp)
        step = max(1, ROW_CHUNK // max(idx.size, 1))
        return [idx[r0:r0 + step] for r0 in range(0, idx.size, step)]

    def distance_m(self, nodes: Sequence[int]) -> FloatArray:
        """No-fly distances of every arc between ``nodes`` (a fresh matrix)."""
        points = self._points[np.asarray(nodes, dtype=np.intp)]
        return np.asarray(self.point_dist_m[np.ix_(points, points)], dtype=np.float64)


def _ground_speeds(dx: FloatArray, dy: FloatArray, dist: FloatArray, airspeed: float,
                   wind: tuple[float, float]) -> FloatArray:
    """Ground speed per arc of chord ``(dx, dy)``: along the chord when the path is straight,
    else the worst."""
    chord = np.hypot(dx, dy)
    safe = np.where(chord > 0, chord, 1.0)
    ux, uy = dx / safe, dy / safe
    along = wind[0] * ux + wind[1] * uy
    cross = wind[0] * uy - wind[1] * ux
    rest = airspeed**2 - cross**2
    gs = np.where(rest > 0, along + np.sqrt(np.maximum(rest, 0.0)), 0.0)
    bent = dist > chord * STRAIGHT_FACTOR + 1e-6
    gs = np.where(bent, airspeed - math.hypot(*wind), gs)
    return np.asarray(np.where(gs > 1e-9, gs, 0.0), dtype=np.float64)
