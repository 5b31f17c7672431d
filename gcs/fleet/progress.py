"""How far along its planned track a vehicle is, and the planned time at that point.

The planned track is the sequence of positions the mission's NAV items fly to (a NAV_DELAY or a
DO item keeps the previous position, RETURN_TO_LAUNCH goes home). Progress is measured as path
length along that track, horizontal and vertical (a descent to a drop is progress too), and
turned into planned time by linear interpolation between anchors the plan gives: take-off at 0,
each drop's release at its planned ETA, landing at the planned duration.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from gcs.geo import distance_m, segment_projection
from planner.items import RELATIVE_FRAMES, Cmd, MissionItem, is_stop
from planner.plan_model import Sortie


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackPoint:
    """Where the vehicle heads while mission item ``seq`` is current (degrees, m above home)."""

    seq: int
    lat_deg: float
    lon_deg: float
    alt_rel_m: float
    is_nav: bool


def _points(mission: tuple[MissionItem, ...]) -> list[TrackPoint]:
    home = mission[0]
    lat, lon, alt = home.lat_deg, home.lon_deg, 0.0
    out = [TrackPoint(seq=0, lat_deg=lat, lon_deg=lon, alt_rel_m=0.0, is_nav=False)]
    for seq, item in enumerate(mission[1:], start=1):
        has_position = item.lat_deg != 0.0 or item.lon_deg != 0.0
        if item.command == Cmd.NAV_RETURN_TO_LAUNCH:
            lat, lon, alt = home.lat_deg, home.lon_deg, 0.0
        elif item.is_nav and item.command != Cmd.NAV_DELAY:
            if has_position:
                lat, lon = item.lat_deg, item.lon_deg
            if item.frame in RELATIVE_FRAMES:
                alt = item.alt_m
            if item.command == Cmd.NAV_LAND:
                alt = min(alt, 0.0)
        out.append(TrackPoint(seq=seq, lat_deg=lat, lon_deg=lon, alt_rel_m=alt,
                              is_nav=item.is_nav))
    return out


def release_items(mission: tuple[MissionItem, ...]) -> list[int]:
    """Indexes of the items that hand a parcel over at a stop (a release, or a pickup's grab),
    in mission order: the sortie's ``drop_ids`` in turn."""
    return [i for i, item in enumerate(mission) if i > 0 and is_stop(item)]


class SortieProgress:
    """Planned-track geometry and planned-time interpolation of one sortie."""

    def __init__(self, sortie: Sortie) -> None:
        self.sortie = sortie
        self.points = _points(sortie.mission)
        self.cum_m = [0.0]
        for a, b in zip(self.points, self.points[1:], strict=False):
            flat = distance_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
            self.cum_m.append(self.cum_m[-1] + math.hypot(flat, b.alt_rel_m - a.alt_rel_m))
        self.total_m = self.cum_m[-1]
        self.duration_s = max(sortie.metrics.duration_s, 1.0)
        self.releases = release_items(sortie.mission)
        anchors = [(0.0, 0.0)]
        for drop_id, seq in zip(sortie.drop_ids, self.releases, strict=False):
            eta = sortie.metrics.drop_etas_s.get(drop_id)
            if eta is not None:
                anchors.append((self.cum_m[seq], eta - sortie.start_s))
        anchors.append((self.total_m, self.duration_s))
        anchors.sort()
        self._anchor_d = [a[0] for a in anchors]
        self._anchor_t = []
        last = 0.0
        for _, t in anchors:  # planned times never run backwards
            last = max(last, t)
            self._anchor_t.append(last)

    def previous_nav(self, seq: int) -> int:
        """The NAV item before ``seq`` (0 = home)."""
        for i in range(min(seq, len(self.points)) - 1, 0, -1):
            if self.points[i].is_nav:
                return i
        return 0

    def distance_along_m(self, seq: int | None, lat_deg: float | None,
                         lon_deg: float | None) -> float:
        """Path length flown when ``seq`` is the current item and the vehicle is at lat/lon."""
        if seq is None or seq <= 0:
            return 0.0
        if seq >= len(self.points):
            return self.total_m
        prev = self.previous_nav(seq)
        a, b = self.points[prev], self.points[seq]
        if lat_deg is None or lon_deg is None:
            return self.cum_m[prev]
        t, _ = segment_projection(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg, lat_deg, lon_deg)
        return self.cum_m[prev] + t * (self.cum_m[seq] - self.cum_m[prev])

    def planned_time_s(self, distance_m_: float) -> float:
        """Planned seconds since take-off at path length ``distance_m_``."""
        d = min(max(distance_m_, 0.0), self.total_m)
        i = bisect.bisect_right(self._anchor_d, d)
        if i <= 0:
            return self._anchor_t[0]
        if i >= len(self._anchor_d):
            return self._anchor_t[-1]
        d0, d1 = self._anchor_d[i - 1], self._anchor_d[i]
        t0, t1 = self._anchor_t[i - 1], self._anchor_t[i]
        return t0 if d1 <= d0 else t0 + (t1 - t0) * (d - d0) / (d1 - d0)

    def remaining_fraction(self, distance_m_: float) -> float:
        """Share of the planned flight time still ahead."""
        return max(0.0, 1.0 - self.planned_time_s(distance_m_) / self.duration_s)

    def deviation_m(self, seq: int | None, lat_deg: float, lon_deg: float) -> float:
        """Horizontal distance from the planned track around the current item."""
        if seq is None or seq <= 0 or seq >= len(self.points):
            home = self.points[0]
            return distance_m(home.lat_deg, home.lon_deg, lat_deg, lon_deg)
        best = math.inf
        prev = self.previous_nav(seq)
        legs = [(prev, seq)]
        if prev > 0:
            legs.append((self.previous_nav(prev), prev))
        for i, j in legs:
            a, b = self.points[i], self.points[j]
            _, off = segment_projection(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg,
                                        lat_deg, lon_deg)
            best = min(best, off)
        return best
