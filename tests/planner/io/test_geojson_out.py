"""routes.geojson: routes, drops, depots and no-fly zones of a plan on a map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.io.geojson_out import routes_feature_collection, write_routes_geojson
from planner.plan_model import Plan
from planner.scenario import Depot, Drop, NoFlyZone, Scenario, TerrainConfig
from tests.planner.helpers_items import sample_plan

SQUARE = ((-71.300, 44.281), (-71.296, 44.281), (-71.296, 44.284), (-71.300, 44.284))


def _scenario() -> Scenario:
    return Scenario(
        name="white-mountains", root=Path("."),
        terrain=TerrainConfig(dem_paths=(Path("terrain/N44W072.hgt"),)),
        nofly=(NoFlyZone(name="quarry", polygons=((SQUARE,),)),
               NoFlyZone(name="twin ponds", polygons=(((*SQUARE, SQUARE[0]),),
                                                     (((-71.29, 44.29), (-71.28, 44.29),
                                                       (-71.28, 44.30), (-71.29, 44.29)),)))),
        buffer_m=30.0,
        depots=(Depot(id="bethlehem", lat_deg=44.2706, lon_deg=-71.3033, drones={"quad": 2}),),
        drone_types={},
        drops=(Drop(id="D2", lat_deg=44.2955, lon_deg=-71.2701, weight_kg=0.8),
               Drop(id="D7", lat_deg=44.2851, lon_deg=-71.2811, weight_kg=1.2),
               Drop(id="D9", lat_deg=44.40, lon_deg=-71.10, weight_kg=2.0)))


def _features(kind: str, plan: Plan | None = None) -> list[dict[str, Any]]:
    collection = routes_feature_collection(plan or sample_plan(), _scenario())
    features: list[dict[str, Any]] = collection["features"]  # type: ignore[assignment]
    return [f for f in features if f["properties"]["kind"] == kind]


def test_route_follows_the_flown_positions_home_to_home() -> None:
    """The LineString runs home, waypoints, drops, back home; DO items and (0, 0) are skipped."""
    route = _features("route")[0]
    assert route["geometry"] == {"type": "LineString", "coordinates": [
        [-71.3033, 44.2706], [-71.29052468, 44.28013579], [-71.2811, 44.2851],
        [-71.2755, 44.2902], [-71.2701, 44.2955], [-71.3033, 44.2706]]}


def test_route_properties_carry_the_sortie_figures() -> None:
    """Route properties hold ids, drops, distance, energy, reserve and a colour index."""
    routes = _features("route")
    props = routes[0]["properties"]
    assert props["sortie_id"] == "S1" and props["vehicle"] == "bethlehem/quad/1"
    assert props["drop_ids"] == ["D7", "D2"]
    assert (props["distance_m"], props["energy_wh"], props["reserve_pct"]) == (
        8123.456789, 61.25, 38.5)
    assert [r["properties"]["colour_index"] for r in routes] == [0, 1]
    assert routes[1]["geometry"]["coordinates"][0] == routes[1]["geometry"]["coordinates"][1]


@pytest.mark.parametrize(("drop_id", "expected"), [
    ("D7", {"served": True, "sortie_id": "S1", "eta_s": 412.5}),
    ("D2", {"served": True, "sortie_id": "S1", "eta_s": 655.0}),
    ("D9", {"served": False, "reason": "beyond the battery range of quad"}),
])
def test_drops_say_who_serves_them_or_why_not(drop_id: str, expected: dict[str, Any]) -> None:
    """Served drops carry sortie and ETA; unserved ones carry the reason."""
    drop = next(f for f in _features("drop") if f["properties"]["drop_id"] == drop_id)
    assert {k: drop["properties"].get(k) for k in expected} == expected
    assert ("reason" in drop["properties"]) is not expected["served"]


def test_nofly_zones_are_closed_polygons_with_names() -> None:
    """One polygon becomes a closed Polygon, two become a MultiPolygon; names are kept."""
    zones = _features("nofly")
    assert [(z["geometry"]["type"], z["properties"]["name"]) for z in zones] == [
        ("Polygon", "quarry"), ("MultiPolygon", "twin ponds")]
    ring = zones[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert zones[1]["geometry"]["coordinates"][0][0] == [list(p) for p in (*SQUARE, SQUARE[0])]


def test_depots_and_written_file(tmp_path: Path) -> None:
    """Depots are Points; the written file is the same FeatureCollection as valid JSON."""
    depot = _features("depot")[0]
    assert depot["geometry"] == {"type": "Point", "coordinates": [-71.3033, 44.2706]}
    assert depot["properties"]["drones"] == {"quad": 2}
    path = tmp_path / "routes.geojson"
    write_routes_geojson(path, sample_plan(), _scenario())
    assert json.loads(path.read_text()) == routes_feature_collection(sample_plan(), _scenario())
