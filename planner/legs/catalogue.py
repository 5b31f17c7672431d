"""Legs between two points: the no-fly-avoiding track, its terrain-safe altitudes and timing.

A :class:`LegCatalog` builds each leg once per drone type and caches it. Points are numbered as
in the caller's point array (depots first, then drops, by convention of :mod:`planner.pipeline`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from planner.errors import InfeasibleError
from planner.geo import FloatArray, LocalProjection
from planner.legs._links import PointLinks
from planner.legs.energy import DorlingModel, ground_speed_m_s, move_time_s
from planner.legs.nofly import PathFinder, ZoneMap
from planner.legs.profile import AltitudeBand, profile_leg
from planner.scenario import DroneType, Scenario
from planner.tasks import PIECES_PER_CALL, MapFn, chunks, run_map
from planner.terrain import Dem


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """A flown leg from point ``src`` to point ``dst``.

    ``xy_m`` and ``alt_amsl_m`` are the waypoints (local metres, metres AMSL) including both
    ends; ``time_s`` the flight time along them, ``climb_m`` the total height gained (what the
    energy model charges), ``length_m`` the horizontal length.
    """

    src: int
    dst: int
    xy_m: FloatArray
    alt_amsl_m: FloatArray
    length_m: float
    time_s: float
    climb_m: float
    min_agl_m: float
    max_agl_m: float
    added: int

    @property
    def start_alt_amsl_m(self) -> float:
        """Altitude at the start of the leg, metres AMSL."""
        return float(self.alt_amsl_m[0])

    @property
    def end_alt_amsl_m(self) -> float:
        """Altitude at the end of the leg, metres AMSL."""
        return float(self.alt_amsl_m[-1])

    def energy_wh(self, model: DorlingModel, payload_kg: float) -> float:
        """Electrical energy of the leg with ``payload_kg`` on board."""
        return (model.power_w(payload_kg) * self.time_s / 3600.0
                + model.climb_energy_wh(payload_kg, self.climb_m))


def path_time_climb(xy_m: FloatArray, alt_amsl_m: FloatArray, drone: DroneType,
                    wind_en_m_s: tuple[float, float]) -> tuple[float, float]:
    """Flight time (s) and total climb (m) along straight 3D segments through the vertices."""
    time_s = 0.0
    climb_m = 0.0
    for k in range(len(xy_m) - 1):
        dx, dy = (float(v) for v in xy_m[k + 1] - xy_m[k])
        dz = float(alt_amsl_m[k + 1] - alt_amsl_m[k])
        horizontal = math.hypot(dx, dy)
        gs = ground_speed_m_s(drone.cruise_speed_m_s, wind_en_m_s, (dx, dy))
        time_s += move_time_s(drone, horizontal, dz, gs)
        climb_m += max(dz, 0.0)
    return time_s, climb_m


@dataclass(slots=True, kw_only=True)
class LegCatalog:
    """Builds and caches legs between the points of a scenario for each drone type.

    ``links`` (from :meth:`planner.legs.nofly.ZoneMap.point_links` over ``points_xy_m``) saves
    finding each point's corners again; without it they are found once per point as needed.
    """

    scenario: Scenario
    dem: Dem
    proj: LocalProjection
    zones: ZoneMap
    points_xy_m: FloatArray
    links: PointLinks | None = None
    _cache: dict[tuple[str, int, int], Leg | str] = field(default_factory=dict)
    _ground: dict[int, float] = field(default_factory=dict)
    _finder: PathFinder | None = None

    def prefetch(self, drone: DroneType, pairs: Iterable[tuple[int, int]],
                 map_fn: MapFn | None = None) -> None:
        """Build the legs of ``pairs`` (src, dst) not built yet, in pieces run by ``map_fn``.

        Each leg depends only on its ends, so :meth:`leg` answers the same whether or not it
        was prefetched, and with or without ``map_fn`` (``Executor.map``-like).
        """
        todo = sorted({(int(a), int(b)) for a, b in pairs} - {
            (a, b) for (t, a, b) in self._cache if t == drone.id})
        if not todo:
            return
        if map_fn is None:
            for a, b in todo:
                self.leg(drone, a, b)
            return
        bare = replace(self, _cache={}, _ground={}, _finder=None)
        pieces = [(bare, drone, piece) for piece in chunks(todo, PIECES_PER_CALL)]
        for piece, legs in zip(pieces, run_map(map_fn, _build_piece, pieces), strict=True):
            for (a, b), leg in zip(piece[2], legs, strict=True):
                self._cache[(drone.id, a, b)] = leg

    def band(self, drone: DroneType) -> AltitudeBand:
        """The altitude band legs of ``drone`` keep."""
        t = self.scenario.terrain
        return AltitudeBand(
            clearance_agl_m=t.clearance_agl_m, ceiling_agl_m=t.ceiling_agl_m,
            margin_m=self.scenario.params.altitude_margin_m,
            max_climb_slope=drone.climb_rate_m_s / drone.cruise_speed_m_s,
            max_descent_slope=drone.descent_rate_m_s / drone.cruise_speed_m_s)

    def ground_amsl_m(self, point: int) -> float:
        """Ground height at a point, metres AMSL."""
        if point not in self._ground:
            x, y = self.points_xy_m[point]
            lon, lat = self.proj.to_lonlat([x], [y])
            self._ground[point] = float(self.dem.elevation_amsl_m(lon, lat)[0])
        return self._ground[point]

    def leg(self, drone: DroneType, src: int, dst: int) -> Leg | str:
        """The leg from ``src`` to ``dst`` for ``drone``, or the reason no safe leg exists."""
        key = (drone.id, src, dst)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._build(drone, src, dst)
            self._cache[key] = cached
        return cached

    def _build(self, drone: DroneType, src: int, dst: int) -> Leg | str:
        if self._finder is None:
            self._finder = self.zones.path_finder(self.points_xy_m, self.links)
        track = self._finder.path(src, dst)
        if track is None or len(track) < 2 or not np.all(np.isfinite(track)):
            return "no path around the no-fly zones"
        try:
            prof = profile_leg(np.asarray(track, dtype=float), self.dem, self.proj,
                               self.band(drone))
        except InfeasibleError as exc:
            return f"no safe altitude: {exc}"
        xy, alt = prof.xy_m, prof.alt_amsl_m
        if self.scenario.params.altitude_frame == "terrain":
            xy, alt = self._terrain_following(xy, alt)
        time_s, climb_m = path_time_climb(xy, alt, drone, self.scenario.wind.velocity_en_m_s)
        if not math.isfinite(time_s):
            return "the wind is stronger than the drone's cruise speed on this leg"
        return Leg(src=src, dst=dst, xy_m=prof.xy_m, alt_amsl_m=prof.alt_amsl_m,
                   length_m=prof.length_m, time_s=time_s, climb_m=climb_m,
                   min_agl_m=prof.min_agl_m, max_agl_m=prof.max_agl_m, added=prof.added)

    def _terrain_following(self, xy: FloatArray,
                           alt: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Dense path a terrain-frame vehicle flies: AGL interpolated between the vertices."""
        step = self.dem.resolution_m / 2
        pts: list[FloatArray] = []
        for k in range(len(xy) - 1):
            n = max(1, math.ceil(float(np.hypot(*(xy[k + 1] - xy[k]))) / step))
            t = np.arange(n) / n
            pts.append(xy[k] + (xy[k + 1] - xy[k]) * t[:, None])
        pts.append(xy[-1:])
        dense = np.vstack(pts)
        lon, lat = self.proj.to_lonlat(xy[:, 0], xy[:, 1])
        agl = alt - self.dem.elevation_amsl_m(lon, lat)
        s_vert = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        s_dense = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(dense, axis=0).T))])
        dlon, dlat = self.proj.to_lonlat(dense[:, 0], dense[:, 1])
        dense_alt = self.dem.elevation_amsl_m(dlon, dlat) + np.interp(s_dense, s_vert, agl)
        return dense, np.asarray(dense_alt, dtype=float)


def _build_piece(piece: tuple[LegCatalog, DroneType, list[tuple[int, int]]]) -> list[Leg | str]:
    """The legs of one piece of :meth:`LegCatalog.prefetch` (a task a worker may run)."""
    catalog, drone, pairs = piece
    return [catalog.leg(drone, a, b) for a, b in pairs]
