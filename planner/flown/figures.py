"""Plan versus flown: the figures that say how closely a flight kept to its mission.

A flight is a series of :class:`FlownSample` (position, speed, battery, mode, armed, current
mission item) and the :class:`ReleaseEvent` of each parcel let go, on one clock (seconds, for
example the vehicle's time since boot). :func:`compare_flight` measures it against the mission's
planned track (see :mod:`planner.flown._track`): cross-track error, height above ground on the
cruise legs, the lowest height above ground in each drop's phase against the planned drop height,
no-fly and geofence incursions, each drop's release error, duration and energy predicted versus
used, items reached and the state the flight ended in.

Cruise and drop phases: the descent to a drop, the hover and release there and the climb back
are the drop's phase, measured against the drop's planned height (the altitude of its drop
point item above ground), not against the cruise heights; see :mod:`planner.flown._track` for
which items and which part of a leg into or out of a drop that is, for plans from any tool.

Only the armed part of the flight counts (from the first armed sample to the last). Heights
above ground come from the DEM when one is given, else they are heights above home.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import shapely

from planner.flown._energy import planned_energy_steps
from planner.flown._track import (
    DROP_RADIUS_M,
    DropPoint,
    PlannedTrack,
    planned_agl_range,
    planned_track,
)
from planner.flown._zones import Incursion, fence_areas, incursions, zone_areas
from planner.items import MissionItem, is_grab, is_stop
from planner.mission_plan import stop_positions
from planner.plan_model import Sortie
from planner.scenario import NoFlyZone
from planner.terrain import Dem

__all__ = ["DROP_RADIUS_M", "FINAL_STATES", "DropPoint", "FlownFigures", "FlownSample",
           "Incursion", "PlannedTrack", "ReleaseEvent", "compare_flight", "planned_energy_steps",
           "planned_track"]

#: Values of :attr:`FlownFigures.final_state`.
FINAL_STATES: tuple[str, ...] = ("completed", "landed_short", "in_flight", "not_flown")
_MAPPINGS = ("drop_errors_m", "drop_agl_min_m", "drop_agl_planned_m", "grab_errors_m")


@dataclass(frozen=True, slots=True, kw_only=True)
class FlownSample:
    """The vehicle at one instant.

    ``t_s`` is on the flight's clock (seconds); ``alt_amsl_m`` metres above mean sea level;
    ``battery_used_wh`` the energy drawn since the battery was last reset (None when unknown);
    ``mode`` the flight mode name; ``mission_seq`` the mission item being flown (None when
    unknown).
    """

    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    ground_speed_m_s: float
    battery_used_wh: float | None
    battery_remaining_pct: float | None
    mode: str
    armed: bool
    mission_seq: int | None

    def __post_init__(self) -> None:
        for name in ("t_s", "lat_deg", "lon_deg", "alt_amsl_m"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"Expected {name} to be finite, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseEvent:
    """A parcel let go at ``t_s`` where the vehicle was; ``mission_seq`` is the item that
    released it when known, ``drop_id`` the drop when known."""

    t_s: float
    lat_deg: float
    lon_deg: float
    drop_id: str | None = None
    mission_seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlownFigures:
    """How a flight compares with its mission.

    ``cross_track_*_m``: horizontal distance of the armed samples from the planned track.
    ``agl_*_m``: height above ground (above home without a DEM, see ``agl_reference``) of the
    samples flying a cruise leg in AUTO; ``agl_*_planned_m`` the same along the planned legs.
    Drop phases (descent, hover and climb back at a drop) are not cruise: ``drop_agl_min_m``
    gives, per drop (drop id, or ``"item N"`` of its release item), the lowest height above
    ground flown in AUTO in its phase (None when not flown there), ``drop_agl_planned_m`` the
    planned drop height (None when unknown, such as a landing without a DEM).
    ``incursions``: every stay in a no-fly zone or outside the fence. ``drop_errors_m``: per
    planned release (drop id, or ``"item N"``), the distance from the planned release position to
    where the parcel was let go, None when it was never released; ``unplanned_releases`` counts
    releases matching no planned one. ``grab_errors_m`` and ``unplanned_grabs`` are the same
    for pickups: per planned gripper grab (pickup id, or ``"item N"``), the distance from the
    planned grab position to where the gripper closed on the parcel. Durations run from arming
    to disarming (planned: take-off to landing); energies are drawn from the battery over the
    same span. ``items_reached`` counts the mission items (home excluded) the flight got
    through, of ``items_total``.
    ``final_state`` is one of :data:`FINAL_STATES`, ``final_mode`` the last flight mode.
    Figures that cannot be computed are None.
    """

    cross_track_max_m: float | None
    cross_track_p95_m: float | None
    agl_min_m: float | None
    agl_max_m: float | None
    agl_min_planned_m: float | None
    agl_max_planned_m: float | None
    agl_reference: str
    alt_max_amsl_m: float | None
    incursions: tuple[Incursion, ...]
    drop_errors_m: Mapping[str, float | None] = field(default_factory=dict)
    drop_agl_min_m: Mapping[str, float | None] = field(default_factory=dict)
    drop_agl_planned_m: Mapping[str, float | None] = field(default_factory=dict)
    unplanned_releases: int = 0
    grab_errors_m: Mapping[str, float | None] = field(default_factory=dict)
    unplanned_grabs: int = 0
    duration_planned_s: float | None = None
    duration_flown_s: float | None = None
    energy_planned_wh: float | None = None
    energy_used_wh: float | None = None
    items_reached: int = 0
    items_total: int = 0
    final_state: str = "not_flown"
    final_mode: str | None = None

    def __post_init__(self) -> None:
        if self.final_state not in FINAL_STATES:
            raise ValueError(f"Expected final_state one of {', '.join(FINAL_STATES)}, got "
                             f"{self.final_state!r}")
        for name in _MAPPINGS:
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "incursions", tuple(Incursion(*i) for i in self.incursions))

    def as_dict(self) -> dict[str, object]:
        """The figures as JSON-ready values (incursions as objects, NaN never written)."""
        out: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "incursions":
                value = [i._asdict() for i in value]
            elif name in _MAPPINGS:
                value = dict(value)
            out[name] = value
        return out


def _mission_of(mission: Sequence[MissionItem] | Sortie) -> tuple[MissionItem, ...]:
    return tuple(mission.mission if isinstance(mission, Sortie) else mission)


def _items_reached(samples: Sequence[FlownSample], reached: Sequence[int], total: int,
                   landed: bool) -> int:
    if reached:
        return min(max(reached), total)
    seqs = [s.mission_seq for s in samples if s.armed and s.mission_seq is not None]
    if not seqs:
        return 0
    last = max(seqs)
    return min(last if landed and last == total else max(last - 1, 0), total)


def _release_labels(mission: tuple[MissionItem, ...], drop_ids: Sequence[str], *,
                    grabs: bool = False) -> dict[int, str]:
    """The label of each release item (each grab item with ``grabs``): its drop id, else
    ``"item N"``.

    ``drop_ids`` lists every stop in order, pickups included: the k-th stop item (a release or,
    at a pickup, a gripper grab) serves the k-th id.
    """
    seqs = [i for i, m in enumerate(mission) if is_stop(m)]
    return {seq: drop_ids[k] if k < len(drop_ids) else f"item {seq}"
            for k, seq in enumerate(seqs) if is_grab(mission[seq]) == grabs}


def _drop_label(drop: DropPoint, labels: Mapping[int, str]) -> str:
    return next((labels[s] for s in drop.release_seqs if s in labels),
                f"item {drop.release_seqs[0]}")


def _drop_errors(mission: tuple[MissionItem, ...], drop_ids: Sequence[str],
                 releases: Sequence[ReleaseEvent], track: PlannedTrack, *,
                 grabs: bool = False) -> tuple[dict[str, float | None], int]:
    """Planned releases (grabs with ``grabs``) matched to flown ones (by item, then in order)."""
    by_seq = _release_labels(mission, drop_ids, grabs=grabs)
    seqs = list(by_seq)
    planned = [(lat, lon) for lat, lon, grab in stop_positions(mission) if grab == grabs]
    labels = list(by_seq.values())
    match: dict[int, ReleaseEvent] = {}
    free = []
    for event in releases:
        k = seqs.index(event.mission_seq) if event.mission_seq in seqs else None
        if event.drop_id is not None and event.drop_id in labels:
            k = labels.index(event.drop_id)
        if k is not None and k not in match:
            match[k] = event
        else:
            free.append(event)
    for k in range(len(seqs)):
        if k not in match and free:
            match[k] = free.pop(0)
    out: dict[str, float | None] = {}
    for k, label in enumerate(labels):
        got = match.get(k)
        if got is None or k >= len(planned):
            out[label] = None
            continue
        x, y = track.projection.to_xy([planned[k][1], got.lon_deg],
                                      [planned[k][0], got.lat_deg])
        out[label] = float(math.hypot(x[1] - x[0], y[1] - y[0]))
    return out, len(free)


def _used_wh(flight: Sequence[FlownSample]) -> float | None:
    used = [s.battery_used_wh for s in flight if s.battery_used_wh is not None]
    return float(used[-1] - used[0]) if len(used) >= 2 else None


def compare_flight(samples: Sequence[FlownSample], releases: Sequence[ReleaseEvent], *,
                   mission: Sequence[MissionItem] | Sortie, grabs: Sequence[ReleaseEvent] = (),
                   dem: Dem | None = None,
                   zones: Sequence[NoFlyZone] = (), fence: Sequence[MissionItem] | None = None,
                   reached: Sequence[int] = (), drop_ids: Sequence[str] | None = None,
                   duration_planned_s: float | None = None,
                   energy_planned_wh: float | None = None,
                   drop_radius_m: float = DROP_RADIUS_M) -> FlownFigures:
    """Measure a flight against its mission.

    Parameters
    ----------
    samples
        The flight, in time order.
    releases
        Every parcel release seen, in time order.
    mission
        The mission items (item 0 home), or a :class:`~planner.plan_model.Sortie`, which also
        gives the fence, the drop ids and the predicted duration and energy.
    grabs
        Every gripper grab seen (a parcel collected at a pickup), in time order.
    dem
        Elevation model for heights above ground; None measures heights above home.
    zones
        No-fly zones (the scenario's polygons).
    fence
        Geofence items; None takes the sortie's (none for bare mission items).
    reached
        Item numbers the vehicle reported reached (MISSION_ITEM_REACHED); without them the
        items passed are read off the samples' ``mission_seq``.
    drop_ids
        Drop id of each release item in mission order (default: the sortie's).
    duration_planned_s, energy_planned_wh
        Predicted take-off-to-landing duration and energy (default: the sortie's metrics when
        positive).
    drop_radius_m
        How far (horizontally) from a drop a leg sloping into or out of it is drop phase.

    Returns
    -------
    FlownFigures
        The figures; those that cannot be computed (no armed sample, no battery data, no
        prediction) are None.

    Examples
    --------
    >>> from planner.items import MissionItem
    >>> home = MissionItem(command=16, frame=0, lat_deg=44.0, lon_deg=-71.0, alt_m=100.0)
    >>> takeoff = MissionItem(command=22, alt_m=30.0)
    >>> rtl = MissionItem(command=20)
    >>> s = [FlownSample(t_s=t, lat_deg=44.0, lon_deg=-71.0, alt_amsl_m=100.0 + a,
    ...                  ground_speed_m_s=0.0, battery_used_wh=w, battery_remaining_pct=None,
    ...                  mode="AUTO", armed=arm, mission_seq=q)
    ...      for t, a, w, arm, q in [(0, 0, 0, True, 1), (10, 30, 5, True, 2),
    ...                              (20, 0, 9, True, 2), (21, 0, 9, False, 2)]]
    >>> f = compare_flight(s, [], mission=[home, takeoff, rtl], reached=[1, 2])
    >>> f.duration_flown_s, f.energy_used_wh, f.final_state, f.alt_max_amsl_m
    (21.0, 9.0, 'completed', 130.0)
    """
    items = _mission_of(mission)
    sortie = mission if isinstance(mission, Sortie) else None
    if fence is None:
        fence = sortie.fence if sortie is not None else ()
    if drop_ids is None:
        drop_ids = sortie.drop_ids if sortie is not None else ()
    if sortie is not None and duration_planned_s is None and sortie.metrics.duration_s > 0:
        duration_planned_s = sortie.metrics.duration_s
    if sortie is not None and energy_planned_wh is None and sortie.metrics.energy_wh > 0:
        energy_planned_wh = sortie.metrics.energy_wh
    track = planned_track(items, dem, drop_radius_m=drop_radius_m)
    planned_agl = planned_agl_range(track, dem)
    release_labels = _release_labels(items, drop_ids)
    drop_labels = [_drop_label(d, release_labels) for d in track.drops]
    total = max(len(items) - 1, 0)
    armed = [k for k, s in enumerate(samples) if s.armed]
    flight = list(samples[armed[0]:armed[-1] + 1]) if armed else []
    base = FlownFigures(
        cross_track_max_m=None, cross_track_p95_m=None, agl_min_m=None, agl_max_m=None,
        agl_min_planned_m=None if planned_agl is None else planned_agl[0],
        agl_max_planned_m=None if planned_agl is None else planned_agl[1],
        agl_reference="home" if dem is None else "dem", alt_max_amsl_m=None, incursions=(),
        drop_errors_m=dict.fromkeys(_drop_errors(items, drop_ids, (), track)[0]),
        grab_errors_m=dict.fromkeys(_drop_errors(items, drop_ids, (), track, grabs=True)[0]),
        drop_agl_min_m=dict.fromkeys(drop_labels),
        drop_agl_planned_m={label: d.planned_agl_m
                            for label, d in zip(drop_labels, track.drops, strict=True)},
        duration_planned_s=duration_planned_s, energy_planned_wh=energy_planned_wh,
        items_total=total, final_mode=samples[-1].mode if samples else None)
    if not flight:
        return base
    t = np.array([s.t_s for s in flight])
    lon = np.array([s.lon_deg for s in flight])
    lat = np.array([s.lat_deg for s in flight])
    alt = np.array([s.alt_amsl_m for s in flight])
    x, y = track.projection.to_xy(lon, lat)
    points = shapely.points(x, y)
    line = (shapely.LineString(np.column_stack([track.x_m, track.y_m]))
            if len(track.seq) >= 2 else shapely.Point(track.x_m[0], track.y_m[0]))
    cross = np.asarray(shapely.distance(line, points), dtype=float)
    ground = (np.full(t.shape, track.home_amsl_m) if dem is None
              else np.asarray(dem.elevation_amsl_m(lon, lat), dtype=float))
    auto = np.array([s.mode == "AUTO" for s in flight])
    seqs = np.array([-1 if s.mission_seq is None else s.mission_seq for s in flight],
                    dtype=np.int64)
    height = alt - ground
    known = auto & np.isfinite(ground)
    cruise = known & np.isin(seqs, list(track.cruise_seqs)) & ~track.near_drop_edge(seqs, x, y)
    agl = height[cruise]
    drop_agl: dict[str, float | None] = {}
    for label, drop in zip(drop_labels, track.drops, strict=True):
        there = height[known & track.in_drop_phase(drop, seqs, x, y)]
        drop_agl[label] = float(there.min()) if there.size else None
    areas = zone_areas(zones, track.projection) + fence_areas(fence, track.projection)
    in_window = [r for r in releases if t[0] - 1.0 <= r.t_s <= t[-1] + 1.0]
    errors, unplanned = _drop_errors(items, drop_ids, in_window, track)
    grab_errors, unplanned_grabs = _drop_errors(
        items, drop_ids, [g for g in grabs if t[0] - 1.0 <= g.t_s <= t[-1] + 1.0], track,
        grabs=True)
    landed = not samples[-1].armed
    # the flight ends when the vehicle is first seen disarmed again
    end_s = samples[armed[-1] + 1].t_s if armed[-1] + 1 < len(samples) else flight[-1].t_s
    got = [q for q in reached if q > 0]
    done = _items_reached(flight, got, total, landed)
    state = "in_flight" if not landed else "completed" if done >= total else "landed_short"
    return dataclasses.replace(
        base, cross_track_max_m=float(cross.max()),
        cross_track_p95_m=float(np.percentile(cross, 95)),
        agl_min_m=float(agl.min()) if agl.size else None,
        agl_max_m=float(agl.max()) if agl.size else None,
        alt_max_amsl_m=float(alt.max()),
        incursions=tuple(incursions(areas, t, x, y)),
        drop_errors_m=errors, drop_agl_min_m=drop_agl, unplanned_releases=unplanned,
        grab_errors_m=grab_errors, unplanned_grabs=unplanned_grabs,
        duration_flown_s=float(end_s - t[0]), energy_used_wh=_used_wh(flight),
        items_reached=done, final_state=state)

