"""Energy of a replayed track, integrated independently of the planner's energy module.

Dorling et al. (2017): power ``P(m) = m^1.5 * sqrt(g^3 / (2 rho zeta n))`` with ``m`` the empty,
battery and on-board payload mass; electrical power ``P / power_efficiency``. Each piece of a move
(between consecutive samples) takes ``max(horizontal / ground_speed, climb / climb_rate or
descent / descent_rate)`` and climbing adds ``m g climb / power_efficiency``. Hovers cost
``P t / power_efficiency``. For terrain-following moves the pieces follow the sampled terrain, so
every climb over a hill is paid for.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.geo import WGS84_GEOD
from planner.scenario import DroneType, Wind
from planner.terrain import FloatArray
from planner.verify._geom import Profile
from planner.verify._track import Hover, Move, Release, Track

G_M_S2 = 9.80665
_J_PER_WH = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyResult:
    """Energy drawn from take-off to touchdown, and where it went wrong if it did.

    ``steps`` holds (item index, cumulative Wh) after each move or hover; ``unflyable`` the
    (item index, reason) of moves the wind makes impossible (``energy_wh`` is then ``inf``).
    """

    energy_wh: float
    steps: tuple[tuple[int, float], ...]
    unflyable: tuple[tuple[int, str], ...]


def dorling_power_w(drone: DroneType, payload_kg: float) -> float:
    """Electrical power in W of ``drone`` carrying ``payload_kg``."""
    mass = drone.empty_mass_kg + drone.battery_mass_kg + payload_kg
    k = math.sqrt(G_M_S2**3 / (2.0 * drone.air_density_kg_m3 * drone.rotor_disk_area_m2
                               * drone.rotor_count))
    return float(mass**1.5 * k / drone.power_efficiency)


def _ground_speeds(airspeed: float, wind: Wind, az_deg: np.ndarray) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Ground speed along tracks of azimuth ``az_deg`` and the crosswind on each."""
    we, wn = wind.velocity_en_m_s
    te, tn = np.sin(np.radians(az_deg)), np.cos(np.radians(az_deg))
    along = we * te + wn * tn
    cross = we * tn - wn * te
    root = np.sqrt(np.maximum(airspeed**2 - cross**2, 0.0))
    gs = np.where(np.abs(cross) < airspeed, along + root, 0.0)
    return gs, cross


def _pieces(profiles: Sequence[Profile], drone: DroneType,
            wind: Wind) -> list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
    """Per move: azimuth, horizontal length, ground speed and crosswind of each piece.

    One geodesic call for the pieces of every move; each value is the one a call per move
    gives.
    """
    if not profiles:
        return []
    lon = [p.lon_deg for p in profiles]
    lat = [p.lat_deg for p in profiles]
    az_deg, _, dist = WGS84_GEOD.inv(np.concatenate([a[:-1] for a in lon]),
                                     np.concatenate([a[:-1] for a in lat]),
                                     np.concatenate([a[1:] for a in lon]),
                                     np.concatenate([a[1:] for a in lat]))
    h = np.asarray(dist, dtype=np.float64)
    az = np.asarray(az_deg, dtype=np.float64)
    gs, cross = _ground_speeds(drone.cruise_speed_m_s, wind, az)
    bounds = np.cumsum([0] + [a.size - 1 for a in lon])
    return [(az[a:b], h[a:b], gs[a:b], cross[a:b])
            for a, b in itertools.pairwise(bounds)]


def _move_energy(prof: Profile, piece: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
                 drone: DroneType, wind: Wind, payload_kg: float) -> tuple[float, str | None]:
    """Energy in Wh of one move, or ``inf`` and a reason when the wind makes it unflyable."""
    az, h, gs, cross = piece
    dz = np.diff(prof.amsl_m)
    stuck = (h > 0) & (gs <= 0)
    if stuck.any():
        k = int(np.argmax(stuck))
        return math.inf, (f"the wind ({wind.speed_m_s:.1f} m/s from {wind.from_deg:.0f} deg, "
                          f"crosswind {abs(cross[k]):.1f} m/s) stops a drone flying at "
                          f"{drone.cruise_speed_m_s:.1f} m/s on track {az[k] % 360:.0f} deg")
    t_h = np.divide(h, gs, out=np.zeros_like(h), where=h > 0)
    t_v = np.where(dz > 0, dz / drone.climb_rate_m_s, -dz / drone.descent_rate_m_s)
    t = float(np.sum(np.maximum(t_h, t_v)))
    climb = float(np.sum(np.clip(dz, 0.0, None)))
    mass = drone.empty_mass_kg + drone.battery_mass_kg + payload_kg
    joules = (dorling_power_w(drone, payload_kg) * t
              + mass * G_M_S2 * climb / drone.power_efficiency)
    return joules / _J_PER_WH, None


def integrate(track: Track, profiles: Sequence[Profile], drone: DroneType, wind: Wind,
              payload_kg: float, release_weights_kg: Sequence[float]) -> EnergyResult:
    """Walk the track with the payload on board changing by ``release_weights_kg[k]`` at the
    k-th stop: falling by it at a release, rising by ``-release_weights_kg[k]`` where that is
    negative (a pickup); stops beyond the list change nothing."""
    on_board = payload_kg
    total = 0.0
    steps: list[tuple[int, float]] = []
    unflyable: list[tuple[int, str]] = []
    moves = iter(zip(profiles, _pieces(profiles, drone, wind), strict=True))
    released = 0
    for event in track.events:
        if isinstance(event, Release):
            if released < len(release_weights_kg):
                on_board = max(0.0, on_board - release_weights_kg[released])
            released += 1
            continue
        if isinstance(event, Move):
            prof, piece = next(moves)
            wh, why = _move_energy(prof, piece, drone, wind, on_board)
            if why is not None:
                unflyable.append((event.item_index, why))
        else:
            assert isinstance(event, Hover)
            wh = dorling_power_w(drone, on_board) * event.duration_s / _J_PER_WH
        total += wh
        steps.append((event.item_index, total))
    return EnergyResult(energy_wh=total, steps=tuple(steps), unflyable=tuple(unflyable))
