"""``routes.geojson``: a plan drawn on a map (RFC 7946 FeatureCollection, WGS84 ``[lon, lat]``).

Features, in drawing order, each with a ``kind`` property:

- ``nofly``: the scenario's no-fly zones (Polygon or MultiPolygon; ``name``);
- ``route``: one LineString per sortie through the positions it flies (home, waypoints, drop
  points, back home); properties ``sortie_id``, ``vehicle``, ``depot_id``, ``drone_type_id``,
  ``drop_ids``, ``start_s``, ``distance_m``, ``duration_s``, ``energy_wh``, ``reserve_pct``,
  ``min_agl_m``, ``max_agl_m`` and ``colour_index`` (the sortie's 0-based position in the
  plan; a map takes it modulo its palette size), and ``pickup_ids`` when it collects parcels;
- ``depot``: one Point per depot (``depot_id``, ``drones``);
- ``drop``: one Point per drop (``drop_id``, ``weight_kg``, ``served``; served drops add
  ``sortie_id``, ``vehicle`` and ``eta_s``, unserved ones ``reason``; a pickup adds
  ``pickup: true``).

Positions are 2D; altitudes stay in the mission files and the AGL band of a route is given by
its ``min_agl_m``/``max_agl_m``. NaN figures are written ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from planner.io._atomic import write_text_atomic
from planner.items import Cmd, MissionItem
from planner.plan_model import Plan, Sortie
from planner.scenario import NoFlyZone, Scenario

__all__ = ["routes_feature_collection", "write_routes_geojson"]

Position = list[float]


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _track(mission: tuple[MissionItem, ...]) -> list[Position]:
    """[lon, lat] of home and of every position the mission flies to, repeats removed."""
    if not mission:
        return []
    home = [mission[0].lon_deg, mission[0].lat_deg]
    track = [home]
    for item in mission[1:]:
        if item.command == Cmd.NAV_RETURN_TO_LAUNCH:
            point = home
        elif item.is_nav and not (item.lat_deg == 0.0 and item.lon_deg == 0.0):
            point = [item.lon_deg, item.lat_deg]
        else:
            continue  # DO items, and NAV items at the current position (0, 0)
        if point != track[-1]:
            track.append(point)
    return track


def _route(sortie: Sortie, index: int) -> dict[str, object]:
    track = _track(sortie.mission)
    if len(track) == 1:
        track = track * 2  # a LineString needs two positions
    m = sortie.metrics
    extra: dict[str, object] = {"pickup_ids": list(sortie.pickup_ids)} if sortie.pickup_ids \
        else {}
    return {"type": "Feature", "id": f"route/{sortie.id}",
            "geometry": {"type": "LineString", "coordinates": track},
            "properties": {
                "kind": "route", "sortie_id": sortie.id, "vehicle": sortie.vehicle,
                "depot_id": sortie.depot_id, "drone_type_id": sortie.drone_type_id,
                "drop_ids": list(sortie.drop_ids), "start_s": sortie.start_s,
                "distance_m": _clean(m.distance_m), "duration_s": _clean(m.duration_s),
                "energy_wh": _clean(m.energy_wh), "reserve_pct": _clean(m.reserve_pct),
                "min_agl_m": _clean(m.min_agl_m), "max_agl_m": _clean(m.max_agl_m),
                "colour_index": index, **extra}}


def _ring(ring: tuple[tuple[float, float], ...]) -> list[Position]:
    coords = [[lon, lat] for lon, lat in ring]
    if coords and coords[0] != coords[-1]:
        coords.append(coords[0])
    return coords


def _nofly(zone: NoFlyZone, index: int) -> dict[str, object]:
    polygons = [[_ring(r) for r in polygon] for polygon in zone.polygons]
    geometry: dict[str, object] = (
        {"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1
        else {"type": "MultiPolygon", "coordinates": polygons})
    return {"type": "Feature", "id": f"nofly/{index}", "geometry": geometry,
            "properties": {"kind": "nofly", "name": zone.name}}


def _point(lon: float, lat: float, feature_id: str,
           properties: dict[str, object]) -> dict[str, object]:
    return {"type": "Feature", "id": feature_id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def routes_feature_collection(plan: Plan, scenario: Scenario) -> dict[str, object]:
    """The GeoJSON FeatureCollection of ``plan`` over ``scenario``, as a dict.

    Parameters
    ----------
    plan
        The plan whose sorties become routes.
    scenario
        The scenario the plan was made from (drops, depots, no-fly zones).

    Returns
    -------
    dict
        A FeatureCollection ready for ``json.dumps``.
    """
    served = {drop_id: sortie for sortie in plan.sorties for drop_id in sortie.drop_ids}
    reasons = {u.drop_id: u.reason for u in plan.unserved}
    features: list[dict[str, object]] = [_nofly(z, i) for i, z in enumerate(scenario.nofly)]
    features += [_route(s, i) for i, s in enumerate(plan.sorties)]
    features += [_point(d.lon_deg, d.lat_deg, f"depot/{d.id}",
                        {"kind": "depot", "depot_id": d.id, "drones": dict(d.drones)})
                 for d in scenario.depots]
    for drop in scenario.drops:
        props: dict[str, object] = {"kind": "drop", "drop_id": drop.id,
                                    "weight_kg": drop.weight_kg, "served": drop.id in served}
        if drop.is_pickup:
            props["pickup"] = True
        sortie = served.get(drop.id)
        if sortie is not None:
            props.update(sortie_id=sortie.id, vehicle=sortie.vehicle,
                         eta_s=_clean(sortie.metrics.drop_etas_s.get(drop.id)))
        else:
            props["reason"] = reasons.get(drop.id, "not in the plan")
        features.append(_point(drop.lon_deg, drop.lat_deg, f"drop/{drop.id}", props))
    return {"type": "FeatureCollection", "features": features}


def write_routes_geojson(path: str | Path, plan: Plan, scenario: Scenario) -> None:
    """Write ``routes.geojson`` atomically; see :func:`routes_feature_collection`.

    Parameters
    ----------
    path
        The file to create or replace.
    plan
        The plan to draw.
    scenario
        The scenario the plan was made from.
    """
    text = json.dumps(routes_feature_collection(plan, scenario), indent=1, ensure_ascii=False,
                      allow_nan=False)
    write_text_atomic(path, text + "\n")
