"""The plan API: scenarios, uploads with file/line/feature errors, map edits, the planner job,
the page's sortie data and the downloads."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from tests.web.helpers import Client, new_plan, plan_done, services, upload

GOOD_DROPS = (b"id,lat_deg,lon_deg,weight_kg\n"
              b"A1,44.06875,-71.12162,0.4\nA2,44.04150,-71.12240,1.0\n")


def test_scenarios_are_the_mission_folders(app: Flask) -> None:
    """The scenario list holds the sample folders."""
    r = Client(app, "crew").get("/api/scenarios")
    assert {"district", "tutorial", "edge"} <= set(r.json["scenarios"])


def test_unknown_scenario_and_unknown_plan(app: Flask) -> None:
    """An unknown scenario is 400 naming the field; unknown plan ids are 404 everywhere."""
    c = Client(app, "operator")
    r = c.post("/api/plans", json={"scenario": "../etc"})
    assert r.status_code == 400 and r.json["field"] == "scenario"
    assert c.post("/api/plans", json={"scenario": 3}).status_code == 400
    assert c.post("/api/plans", data="x").status_code == 400
    assert c.get("/api/plans/nope").status_code == 404
    assert c.post("/api/plans/nope/run").status_code == 404
    assert c.put("/api/plans/nope/edits", json={}).status_code == 404
    assert upload(c, "nope", "drops", "d.csv", GOOD_DROPS).status_code == 404  # type: ignore[attr-defined]
    assert c.get("/api/plans/nope/files/plan.json").status_code == 404


@pytest.mark.parametrize(("kind", "name", "data", "expected"), [
    ("drops", "drops.csv", b"id,lat_deg,lon_deg,weight_kg\nA,44.05,-71.12,1\nB,abc,-71.1,1\n",
     {"file": "drops.csv", "line": 3, "field": "lat_deg", "item": "drop 'B'"}),
    ("drops", "drops.csv", b"id,lat_deg,weight_kg\nA,44.05,1\n", {"file": "drops.csv"}),
    ("drops", "orders.csv", b"id,lat_deg,lon_deg,weight_kg\nA,44.05,-71.12,1999\n",
     {"file": "orders.csv", "line": 2, "field": "weight_kg"}),
    ("drops", "drops.csv", b"id,lat_deg,lon_deg,weight_kg\nA,40.05,-71.12,1\n",
     {"file": "drops.csv", "line": 2, "field": "lat_deg"}),
    ("nofly", "zones.geojson", b'{"type": "FeatureCollection", "features": [{"type": '
     b'"Feature", "properties": {"name": "z"}, "geometry": {"type": "Point", '
     b'"coordinates": [0, 0]}}]}',
     {"file": "zones.geojson", "item": "feature 0 ('z')", "field": "geometry"}),
    ("nofly", "zones.geojson", b"{not json", {"file": "zones.geojson", "line": 1}),
    ("dem", "N44W072.hgt", b"\x00" * 100, {"file": "N44W072.hgt"}),
    ("dem", "terrain.txt", b"x", {"file": "terrain.txt"}),
    ("maps", "x.csv", b"x", {"field": "kind"}),
])
def test_bad_uploads_name_file_line_and_feature(app: Flask, kind: str, name: str, data: bytes,
                                                expected: dict[str, object]) -> None:
    """A bad drops CSV, no-fly GeoJSON or DEM is 400 with where and why, and is not kept."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    r = upload(c, plan_id, kind, name, data)
    assert r.status_code == 400, r.json  # type: ignore[attr-defined]
    body = r.json  # type: ignore[attr-defined]
    for key, value in expected.items():
        assert body[key] == value, body
    assert body["error"] and body["reason"]
    assert c.get(f"/api/plans/{plan_id}").json["scenario"]["drops"][0]["id"] == "P014"


def test_empty_upload_and_missing_file(app: Flask) -> None:
    """An empty file or no file at all is 400."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    assert upload(c, plan_id, "drops", "drops.csv", b"").status_code == 400  # type: ignore[attr-defined]
    r = c.post(f"/api/plans/{plan_id}/uploads", data={"kind": "drops"},
               content_type="multipart/form-data")
    assert r.status_code == 400 and r.json["field"] == "file"


def test_good_upload_replaces_the_drops(app: Flask) -> None:
    """A good drops CSV becomes the plan's drops."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    assert upload(c, plan_id, "drops", "mine.csv", GOOD_DROPS).status_code == 200  # type: ignore[attr-defined]
    drops = c.get(f"/api/plans/{plan_id}").json["scenario"]["drops"]
    assert [d["id"] for d in drops] == ["A1", "A2"]


@pytest.mark.parametrize(("edits", "expected"), [
    ({"depots": [{"id": "h", "lat_deg": 95, "lon_deg": -71.1, "drones": {"heavy_octo": 1}}]},
     {"item": "depot 0"}),
    ({"depots": [{"id": "h", "lat_deg": 44.06, "lon_deg": -71.13, "drones": {"jet": 1}}]},
     {"item": "depot 0", "field": "drones"}),
    ({"depots": [{"id": "h", "lat_deg": 44.06, "lon_deg": -71.13, "drones": {"heavy_octo": 0}}]},
     {"field": "depots"}),
    ({"nofly": [{"name": "z", "polygon": [[-71.1, 44.0], [-71.0, 44.0]]}]},
     {"item": "zone 0", "field": "polygon"}),
    ({"nofly": [{"name": "bow", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}]},
     {"item": "zone 0", "field": "polygon"}),
    ({"drop_ids": ["P999"]}, {"field": "drop_ids"}),
    ({"time_limit_s": -1}, {"field": "time_limit_s"}),
    ({"colour": "red"}, {"field": "colour"}),
    ({"nofly": [{"name": "hub", "polygon": [[-71.14, 44.06], [-71.13, 44.06],
                                            [-71.13, 44.065]]}]}, {"field": "lat_deg"}),
])
def test_bad_edits_name_the_item_and_field(app: Flask, edits: dict[str, object],
                                           expected: dict[str, object]) -> None:
    """Map edits are checked: a bad depot, zone, drop choice or limit is 400 with where."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    r = c.put(f"/api/plans/{plan_id}/edits", json=edits)
    assert r.status_code == 400, r.json
    for key, value in expected.items():
        assert r.json[key] == value, r.json


def test_plan_job_runs_and_the_page_data_is_complete(app: Flask) -> None:
    """Edited depots, zones and a drop choice are planned in the background: sorties with
    tracks, profiles and battery figures, unserved drops with reasons, and downloads."""
    c = Client(app, "operator")
    events_before = services(app).events.last_id
    zone = [[-71.20, 44.10], [-71.19, 44.10], [-71.19, 44.11], [-71.20, 44.11]]
    plan_id = plan_done(c, edits={
        "depots": [{"id": "hub", "lat_deg": 44.061813, "lon_deg": -71.136854,
                    "drones": {"heavy_octo": 2}}],
        "nofly": [{"name": "drawn", "polygon": zone}],
        "drop_ids": ["P014", "P020", "P021"], "time_limit_s": 5}, app=app)
    body = c.get(f"/api/plans/{plan_id}").json
    assert body["scenario"]["nofly"][0]["name"] == "drawn"
    result = body["result"]
    assert result["summary"]["served"] == 3 and result["summary"]["drops"] == 3
    for s in result["sorties"]:
        assert s["vehicle"].startswith("hub/heavy_octo/")
        assert len(s["track"]) >= 3
        p = s["profile"]
        assert len(p["distance_m"]) == len(p["alt_amsl_m"]) == len(p["ground_amsl_m"]) > 10
        assert all(a > g for a, g in zip(p["alt_amsl_m"][5:-5], p["ground_amsl_m"][5:-5],
                                         strict=True))
        assert s["landing_pct"] >= s["reserve_pct"] == 20.0
    kinds = {json.loads(e.sse().split("data: ")[1])["type"]
             for e in services(app).events.since(events_before) or []}
    assert {"plan_progress", "plan_done"} <= kinds
    for name in body["files"]:
        r = c.get(f"/api/plans/{plan_id}/files/{name}")
        assert r.status_code == 200 and r.data
        r.close()
    assert c.get(f"/api/plans/{plan_id}/files/summary.json").status_code == 404
    assert c.get(f"/api/plans/{plan_id}/files/../../console.db").status_code == 404


def test_unserved_drops_carry_their_reason(app: Flask) -> None:
    """A drop inside a drawn zone is unserved with the reason the planner gives."""
    c = Client(app, "operator")
    box = [[-71.13, 44.065], [-71.11, 44.065], [-71.11, 44.075], [-71.13, 44.075]]
    plan_id = plan_done(c, edits={"nofly": [{"name": "box", "polygon": box}],
                                  "drop_ids": ["P014", "P020"]}, app=app)
    result = c.get(f"/api/plans/{plan_id}").json["result"]
    assert [u["drop_id"] for u in result["unserved"]] == ["P014"]
    assert "box" in result["unserved"][0]["reason"]


def test_downloads_need_a_finished_plan(app: Flask) -> None:
    """Files of a draft plan are 409; a plan being planned cannot be edited (409)."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    assert c.get(f"/api/plans/{plan_id}/files/plan.json").status_code == 409
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    r = c.put(f"/api/plans/{plan_id}/edits", json={})
    assert r.status_code in (200, 409)
    services(app).plans.wait(plan_id, 120.0)
