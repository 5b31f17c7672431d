"""What the plan page draws: scenario layers, sorties with their terrain and altitude profile,
battery use against the reserve, and unserved drops with their reasons (JSON-ready dicts)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from planner.cost import cost_summary, plan_cost
from planner.io.costs import load_costs
from planner.items import Cmd, Frame, MissionItem
from planner.plan_model import Plan, Sortie
from planner.scenario import Scenario
from planner.terrain import Dem

#: Spacing of terrain samples along a sortie's track in the profile chart.
PROFILE_STEP_M = 100.0
_M_PER_DEG = 111_320.0
_RELATIVE = {Frame.GLOBAL_RELATIVE_ALT, Frame.GLOBAL_RELATIVE_ALT_INT}
_TERRAIN = {Frame.GLOBAL_TERRAIN_ALT, Frame.GLOBAL_TERRAIN_ALT_INT}


def _num(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def scenario_layers(scenario: Scenario) -> dict[str, Any]:
    """Depots, drops, zones and drone types of a scenario for the map and the editors."""
    return {
        "name": scenario.name,
        "depots": [{"id": d.id, "lat_deg": d.lat_deg, "lon_deg": d.lon_deg,
                    "drones": dict(d.drones)} for d in scenario.depots],
        "drops": [{"id": d.id, "lat_deg": d.lat_deg, "lon_deg": d.lon_deg,
                   "weight_kg": d.weight_kg} for d in scenario.drops],
        "nofly": [{"name": z.name, "polygon": [list(p) for p in z.polygons[0][0]]}
                  for z in scenario.nofly],
        "drone_types": sorted(scenario.drone_types),
    }


def track_latlon(mission: tuple[MissionItem, ...]) -> list[list[float]]:
    """[lat, lon] of home and every position the mission flies to (RTL: home)."""
    if not mission:
        return []
    home = mission[0]
    out = [[home.lat_deg, home.lon_deg]]
    for item in mission[1:]:
        if item.command == Cmd.NAV_RETURN_TO_LAUNCH:
            out.append([home.lat_deg, home.lon_deg])
        elif item.is_nav and not (item.lat_deg == 0.0 and item.lon_deg == 0.0):
            out.append([item.lat_deg, item.lon_deg])
    return out


def track_amsl(mission: tuple[MissionItem, ...], dem: Dem) -> list[tuple[float, float, float]]:
    """(lat, lon, altitude AMSL) of home and every position the mission flies to, in order.

    Relative altitudes are taken above home (item 0, AMSL), terrain ones above the DEM.
    """
    if not mission:
        return []
    home = mission[0]
    points = [(home.lat_deg, home.lon_deg, home.alt_m)]
    for item in mission[1:]:
        lat, lon, _ = points[-1]
        if item.command == Cmd.NAV_RETURN_TO_LAUNCH:
            points.append((home.lat_deg, home.lon_deg, points[-1][2]))
            points.append((home.lat_deg, home.lon_deg, home.alt_m))
            continue
        if not item.is_nav or item.command == Cmd.NAV_DELAY:
            continue
        if not (item.lat_deg == 0.0 and item.lon_deg == 0.0):
            lat, lon = item.lat_deg, item.lon_deg
        if item.frame in _RELATIVE:
            alt = home.alt_m + item.alt_m
        elif item.frame in _TERRAIN:
            alt = float(dem.elevation_amsl_m(lon, lat)) + item.alt_m
        else:
            alt = item.alt_m
        if item.command == Cmd.NAV_LAND:
            alt = float(dem.elevation_amsl_m(lon, lat))
        points.append((lat, lon, alt))
    return points


def _step_m(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    dlat = (b[0] - a[0]) * _M_PER_DEG
    dlon = (b[1] - a[1]) * _M_PER_DEG * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dlat, dlon)


def profile(sortie: Sortie, dem: Dem) -> dict[str, list[float | None]]:
    """Distance along the track (m) against planned altitude and ground height (m AMSL)."""
    points = track_amsl(sortie.mission, dem)
    dist, lats, lons, alts = [0.0], [], [], []
    for a, b in itertools.pairwise(points):
        n = max(1, math.ceil(_step_m(a, b) / PROFILE_STEP_M))
        for k in range(n):
            f = k / n
            lats.append(a[0] + f * (b[0] - a[0]))
            lons.append(a[1] + f * (b[1] - a[1]))
            alts.append(a[2] + f * (b[2] - a[2]))
            dist.append(dist[-1] + _step_m(a, b) / n)
    if points:
        lats.append(points[-1][0])
        lons.append(points[-1][1])
        alts.append(points[-1][2])
    ground = dem.elevation_amsl_m(np.array(lons), np.array(lats)) if lats else np.array([])
    return {"distance_m": [round(d, 1) for d in dist[:len(lats)]],
            "alt_amsl_m": [_num(a) for a in alts],
            "ground_amsl_m": [_num(g) for g in ground.tolist()]}


def sortie_view(sortie: Sortie, index: int, scenario: Scenario, dem: Dem) -> dict[str, Any]:
    """One sortie: route, drops, figures, battery bar and profile."""
    m = sortie.metrics
    drone = scenario.drone_types.get(sortie.drone_type_id)
    reserve_pct = None if drone is None else drone.reserve_fraction * 100.0
    return {
        "id": sortie.id, "vehicle": sortie.vehicle, "depot_id": sortie.depot_id,
        "drone_type_id": sortie.drone_type_id, "colour_index": index,
        "drop_ids": list(sortie.drop_ids), "start_s": _num(sortie.start_s),
        "track": [[round(p[0], 7), round(p[1], 7)] for p in track_amsl(sortie.mission, dem)],
        "drop_etas_s": {k: _num(v) for k, v in m.drop_etas_s.items()},
        "distance_m": _num(m.distance_m), "duration_s": _num(m.duration_s),
        "energy_wh": _num(m.energy_wh), "energy_pct": _num(m.energy_pct),
        "landing_pct": _num(m.reserve_pct), "reserve_pct": _num(reserve_pct),
        "min_agl_m": _num(m.min_agl_m), "max_agl_m": _num(m.max_agl_m),
        "payload_kg": _num(m.payload_kg, 2),
        "profile": profile(sortie, dem),
    }


#: Kinds of unserved drops, most telling first: (key, title, hint, words of the planner's reason
#: that mark the kind, all of which must appear).
UNSERVED_KINDS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("nofly", "inside or walled in by no-fly zones",
     "goes by road, or move the drop out of the zone", ("no-fly",)),
    ("heavy_and_far", "too heavy for the longer-range types, out of range for the others",
     "goes by road, or add a depot nearer", ("too heavy", "out of range")),
    ("heavy", "too heavy for every drone type", "goes by road", ("too heavy",)),
    ("range", "out of range from every depot",
     "add a depot nearer or a longer-range drone type", ("out of range",)),
    ("terrain", "no safe altitude over the terrain",
     "goes by road, or a drone type with a higher ceiling", ("no safe altitude",)),
)
_OTHER = ("other", "not served for another reason", "see each drop's reason")


def unserved_kind(reason: str) -> tuple[str, str, str]:
    """The kind (key, title, hint) of an unserved drop from the planner's reason.

    Examples
    --------
    >>> unserved_kind("out of range even alone: the shortest round trip, 70.1 km")[0]
    'range'
    >>> unserved_kind("too heavy: 2.50 kg is above the 2.00 kg payload of long_octo; "
    ...               "out of range even alone: ...")[0]
    'heavy_and_far'
    """
    for key, title, hint, words in UNSERVED_KINDS:
        if all(w in reason for w in words):
            return key, title, hint
    return _OTHER


def unserved_groups(plan: Plan) -> list[dict[str, Any]]:
    """Unserved drops grouped by kind, in the order of :data:`UNSERVED_KINDS`, each group with
    its title, a hint of what would serve them, and its drops with their full reasons."""
    groups: dict[str, dict[str, Any]] = {}
    order = [k[0] for k in UNSERVED_KINDS] + [_OTHER[0]]
    for u in plan.unserved:
        key, title, hint = unserved_kind(u.reason)
        group = groups.setdefault(key, {"kind": key, "title": title, "hint": hint, "drops": []})
        group["drops"].append({"drop_id": u.drop_id, "reason": u.reason})
    return [groups[k] for k in order if k in groups]


def plan_view(plan: Plan, scenario: Scenario, dem: Dem) -> dict[str, Any]:
    """Every sortie and unserved drop of a finished plan."""
    etas = [t for s in plan.sorties for t in s.metrics.drop_etas_s.values()]
    return {
        "sorties": [sortie_view(s, i, scenario, dem) for i, s in enumerate(plan.sorties)],
        "unserved": [{"drop_id": u.drop_id, "reason": u.reason} for u in plan.unserved],
        "unserved_groups": unserved_groups(plan),
        "summary": {"drops": len(scenario.drops), "served": len(plan.served_drop_ids),
                    "sorties": len(plan.sorties),
                    "vehicles": len({s.vehicle for s in plan.sorties}),
                    "makespan_s": _num(max(etas)) if etas else 0.0,
                    "energy_wh": _num(sum(s.metrics.energy_wh for s in plan.sorties)),
                    "cost": cost_summary(plan_cost(plan, scenario, load_costs(scenario.root)))},
    }
