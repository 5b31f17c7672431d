"""Wrap one mission read from a .plan or .waypoints file as a plan the verifier can check."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from planner.errors import PlanFileError
from planner.geo import geodesic_distance_m
from planner.items import Cmd, MissionItem, is_grab, is_stop
from planner.plan_model import Plan, Sortie, SortieMetrics, Unserved
from planner.scenario import Scenario

_HOME_TOLERANCE_M = 50.0
_DROP_TOLERANCE_M = 5.0


def stop_positions(mission: Sequence[MissionItem]) -> list[tuple[float, float, bool]]:
    """(lat_deg, lon_deg, grab) of each stop: where a parcel is released (``grab`` False) or
    grabbed (a pickup, ``grab`` True); a stop item's own position, or the last one."""
    out: list[tuple[float, float, bool]] = []
    last: tuple[float, float] | None = None
    for item in mission:
        if item.command == Cmd.NAV_PAYLOAD_PLACE:
            out.append((item.lat_deg, item.lon_deg, False))
        elif is_stop(item) and last is not None:
            out.append((*last, is_grab(item)))
        if item.is_nav and item.command not in (Cmd.NAV_DELAY, Cmd.NAV_RETURN_TO_LAUNCH):
            last = (item.lat_deg, item.lon_deg)
    return out


def release_positions(mission: Sequence[MissionItem]) -> list[tuple[float, float]]:
    """(lat_deg, lon_deg) where each release happens: a release item's own position, or the last
    one (gripper grabs at pickups are not releases)."""
    return [(lat, lon) for lat, lon, grab in stop_positions(mission) if not grab]


def plan_from_mission(scenario: Scenario, mission: Sequence[MissionItem],
                      fence: Sequence[MissionItem], rally: Sequence[MissionItem], *, name: str,
                      drone_type: str | None, path: str | Path) -> Plan:
    """A one-sortie plan from a mission file, its drops found by their release positions.

    The depot is the scenario depot nearest to home (item 0); drops of the scenario released
    (or, for pickups, grabbed) nowhere in the mission are listed as not part of it.
    """
    if not mission:
        raise PlanFileError("the mission has no items", path=path)
    home = mission[0]
    depot = min(scenario.depots,
                key=lambda d: geodesic_distance_m(d.lat_deg, d.lon_deg, home.lat_deg, home.lon_deg))
    gap = geodesic_distance_m(depot.lat_deg, depot.lon_deg, home.lat_deg, home.lon_deg)
    if gap > _HOME_TOLERANCE_M:
        raise PlanFileError(f"home ({home.lat_deg:.6f}, {home.lon_deg:.6f}) is {gap:.0f} m from "
                            f"the nearest depot '{depot.id}'; expected it at a depot",
                            path=path, item="item 0")
    if drone_type is None:
        based = [t for t, n in depot.drones.items() if n > 0]
        if len(based) != 1:
            raise PlanFileError(f"depot '{depot.id}' has drone types {', '.join(based)}: "
                                "name the one flying it with --drone-type", path=path)
        drone_type = based[0]
    if drone_type not in scenario.drone_types:
        raise PlanFileError(f"unknown drone type '{drone_type}'; the scenario has "
                            f"{', '.join(scenario.drone_types)}", path=path)
    drop_ids: list[str] = []
    pickup_ids: list[str] = []
    for lat, lon, grab in stop_positions(mission):
        near = min(scenario.drops, default=None,
                   key=lambda d: geodesic_distance_m(d.lat_deg, d.lon_deg, lat, lon))
        if near is not None and geodesic_distance_m(near.lat_deg, near.lon_deg, lat, lon) \
                <= _DROP_TOLERANCE_M:
            drop_ids.append(near.id)
            if grab:
                pickup_ids.append(near.id)
    metrics = SortieMetrics(distance_m=0, duration_s=0, energy_wh=0, energy_pct=0,
                            reserve_pct=0, min_agl_m=0, max_agl_m=0, payload_kg=0)
    sortie = Sortie(id=name, depot_id=depot.id, drone_type_id=drone_type,
                    vehicle=f"{depot.id}/{drone_type}/1", drop_ids=tuple(drop_ids),
                    pickup_ids=tuple(pickup_ids), start_s=0.0,
                    mission=tuple(mission), fence=tuple(fence), rally=tuple(rally),
                    metrics=metrics)
    served = set(drop_ids)
    unserved = tuple(Unserved(drop_id=d.id, reason="not part of this mission")
                     for d in scenario.drops if d.id not in served)
    return Plan(scenario=scenario.name, altitude_frame="relative", sorties=(sortie,),
                unserved=unserved)
