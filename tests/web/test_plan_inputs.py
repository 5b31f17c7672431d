"""What the console accepts from users: drop lists with parcels no drone can carry, uploads named
as the user knows them, DEM uploads that cannot read server files or fetch URLs, files named by
id never by path, and every number bounded (400 naming the field, never 500)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from flask import Flask

from tests.helpers.shared_data import REPO
from tests.web.helpers import Client, new_plan, services, upload

HEAVY_DROPS = (b"id,lat_deg,lon_deg,weight_kg\n"
               b"A1,44.06875,-71.12162,0.4\nA2,44.04150,-71.12240,4.0\n")
DEPOT = {"id": "hub", "lat_deg": 44.061813, "lon_deg": -71.136854}


def _data_dir(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"])


def _no_server_path(app: Flask, body: dict[str, Any]) -> None:
    text = json.dumps(body)
    for server in (str(_data_dir(app)), str(REPO)):
        assert server not in text, text
    assert not re.search(r"(?<![\w.])/(?:tmp|work|home|root|var|etc)/", text), text


def _geotiff(heights: np.ndarray, west: float, north: float, step: float) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.MemoryFile() as mem:
            with mem.open(driver="GTiff", width=heights.shape[1], height=heights.shape[0],
                          count=1, dtype="float32", crs="EPSG:4326",
                          transform=Affine(step, 0, west, 0, -step, north)) as dst:
                dst.write(heights.astype("float32"), 1)
            return bytes(mem.read())


def test_overweight_parcel_uploads_and_is_planned_unserved(app: Flask) -> None:
    """A drops CSV with a parcel heavier than every drone type uploads; planning lists it as
    unserved with the reason and plans the rest."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    r = upload(c, plan_id, "drops", "today.csv", HEAVY_DROPS)
    assert r.status_code == 200, r.json
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)
    body = c.get(f"/api/plans/{plan_id}").json
    assert body["state"] == "done", body
    result = body["result"]
    assert [(u["drop_id"], u["reason"]) for u in result["unserved"]] == [
        ("A2", "4.0 kg exceeds the 3.0 kg payload of every drone type")]
    assert result["summary"]["served"] == 1


def test_strict_edit_refuses_an_overweight_parcel(app: Flask) -> None:
    """With the strict edit the upload is refused, naming the uploaded file, line and field."""
    c = Client(app, "operator")
    plan_id = new_plan(c, edits={"strict": True})
    r = upload(c, plan_id, "drops", "today.csv", HEAVY_DROPS)
    assert r.status_code == 400
    assert (r.json["file"], r.json["line"], r.json["field"]) == ("today.csv", 3, "weight_kg")
    _no_server_path(app, r.json)


@pytest.mark.parametrize(("kind", "name", "data", "expected"), [
    ("drops", "Orders 12-06.csv", b"id,lat_deg,lon_deg,weight_kg\nA,44.05,x,1\n",
     {"file": "Orders 12-06.csv", "line": 2, "field": "lon_deg"}),
    ("drops", "far.csv", b"id,lat_deg,lon_deg,weight_kg\nA,40.05,-71.12,1\n",
     {"file": "far.csv", "line": 2, "field": "lat_deg"}),
    ("drops", "reports/12/orders.csv", b"id,lat_deg\n", {"file": "orders.csv"}),
    ("nofly", "airspace.json", b'{"type": "FeatureCollection", "features": [7]}',
     {"file": "airspace.json", "item": "feature 0"}),
    ("dem", "terrain.tif", b"II*\x00" + b"\x00" * 64, {"file": "terrain.tif"}),
    ("dem", "terrain.tiff", b"<VRTDataset/>", {"file": "terrain.tiff"}),
    ("dem", "N44W072.hgt", b"\x00" * 1000, {"file": "N44W072.hgt"}),
    ("dem", "mountain.hgt", b"\x00" * 1000, {"file": "mountain.hgt"}),
])
def test_upload_errors_name_the_uploaded_file(app: Flask, kind: str, name: str, data: bytes,
                                              expected: dict[str, Any]) -> None:
    """Every upload error names the file by its upload name, never by a server path."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    r = upload(c, plan_id, kind, name, data)
    assert r.status_code == 400, r.json
    for key, value in expected.items():
        assert r.json[key] == value, r.json
    _no_server_path(app, r.json)


def test_later_errors_still_name_the_uploaded_file(app: Flask) -> None:
    """After a good upload, an edit that breaks it names the file by its upload name."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    drops = b"id,lat_deg,lon_deg,weight_kg\nA1,44.06875,-71.12162,0.4\n"
    assert upload(c, plan_id, "drops", "mine.csv", drops).status_code == 200
    far = _geotiff(np.full((50, 50), 300.0), -71.30, 44.30, 0.001)
    r = upload(c, plan_id, "dem", "north.tif", far)
    assert r.status_code == 400
    assert r.json["file"] in ("mine.csv", "scenario.toml"), r.json
    assert "outside the elevation model" in r.json["reason"]
    _no_server_path(app, r.json)


def test_vrt_named_tif_cannot_read_the_secret_key(app: Flask) -> None:
    """A VRT named .tif whose band is the server's secret_key is refused; no byte of it leaks,
    and no file is left behind."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    secret = _data_dir(app) / "secret_key"
    vrt = f"""<VRTDataset rasterXSize="8" rasterYSize="2"><SRS>EPSG:4326</SRS>
<GeoTransform>-71.2, 0.01, 0, 44.1, 0, -0.01</GeoTransform>
<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">
<SourceFilename relativeToVRT="0">{secret}</SourceFilename></VRTRasterBand></VRTDataset>"""
    r = upload(c, plan_id, "dem", "terrain.tif", vrt.encode())
    assert r.status_code == 400
    key = secret.read_text().strip()
    assert key[:8] not in json.dumps(r.json)
    _no_server_path(app, r.json)
    assert not list((_data_dir(app) / "plans" / plan_id / "scenario").glob("uploads/*/*"))


def test_tiff_bomb_upload_is_refused(app: Flask, tmp_path: Path) -> None:
    """A small compressed GeoTIFF of 10000 x 10000 cells is refused from its header."""
    path = tmp_path / "bomb.tif"
    with rasterio.open(path, "w", driver="GTiff", width=10_000, height=10_000, count=1,
                       dtype="float32", crs="EPSG:4326", compress="deflate", tiled=True,
                       sparse_ok=True, transform=Affine(1e-4, 0, -72.0, 0, -1e-4, 45.0)):
        pass
    c = Client(app, "operator")
    plan_id = new_plan(c)
    r = upload(c, plan_id, "dem", "terrain.tif", path.read_bytes())
    assert r.status_code == 400
    assert "100000000 cells" in r.json["reason"] and r.json["file"] == "terrain.tif"


def test_good_dem_upload_is_named_by_id(app: Flask) -> None:
    """An uploaded GeoTIFF is stored under an id that the plan's edits name, never a path."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    dem = _geotiff(np.full((250, 300), 300.0), -71.30, 44.20, 0.0012)  # < 500 KB: in memory
    r = upload(c, plan_id, "dem", "../../valley.tif", dem)
    assert r.status_code == 200, r.json
    dem_id = r.json["edits"]["dem"]
    assert re.fullmatch(r"[0-9a-f]{16}", dem_id)
    assert c.get(f"/api/plans/{plan_id}").status_code == 200
    assert not (_data_dir(app) / "valley.tif").exists()
    r = c.put(f"/api/plans/{plan_id}/edits", json={"dem": "/etc/passwd", "time_limit_s": 5})
    assert r.status_code == 200 and r.json["edits"]["dem"] == dem_id


@pytest.mark.parametrize("dem", ["../../secret_key", "/etc/passwd", "uploads/N44W072.hgt",
                                 "../district/terrain/N44W072.hgt", "0123456789abcdef",
                                 "/vsicurl/http://127.0.0.1:9/x.tif", 7])
def test_dem_edit_must_be_an_uploaded_id(app: Flask, dem: object) -> None:
    """edits.dem with a path (relative, absolute, /vsi) or an unknown id is 400 naming 'dem'."""
    c = Client(app, "operator")
    r = c.post("/api/plans", json={"scenario": "tutorial", "edits": {"dem": dem}})
    assert r.status_code == 400, r.json
    assert r.json["field"] == "dem"
    assert len(list((_data_dir(app) / "plans").glob("*"))) == 0


@pytest.mark.parametrize("name", ["a\x00b.csv", "\x00", "../", "..", "x\n.csv", "a" * 300])
def test_odd_upload_names_are_400(app: Flask, name: str) -> None:
    """Upload names with NUL, newlines, nothing but separators or too long are 400, not 500."""
    c = Client(app, "operator")
    plan_id = new_plan(c)
    r = upload(c, plan_id, "drops", name, HEAVY_DROPS)
    assert r.status_code == 400, r.json
    assert r.json["field"] == "file"


@pytest.mark.parametrize(("edits", "field"), [
    ({"depots": [{**DEPOT, "drones": {"heavy_octo": 10**30}}]}, "drones"),
    ({"depots": [{**DEPOT, "drones": {"heavy_octo": 10**6}}]}, "drones"),
    ({"depots": [{**DEPOT, "drones": {"heavy_octo": 600}},
                 {**DEPOT, "id": "hub2", "drones": {"heavy_octo": 401}}]}, "depots"),
    ({"depots": [{**DEPOT, "drones": {"heavy_octo": 1.5}}]}, "drones"),
    ({"depots": [{**DEPOT, "id": "../hub", "drones": {"heavy_octo": 1}}]}, "id"),
    ({"depots": [{**DEPOT, "id": "h" * 65, "drones": {"heavy_octo": 1}}]}, "id"),
    ({"depots": [{**DEPOT, "lat_deg": 1e308, "drones": {"heavy_octo": 1}}]}, "lat_deg"),
    ({"time_limit_s": 1e308}, "time_limit_s"),
    ({"time_limit_s": 10**400}, "time_limit_s"),
    ({"seed": 10**30}, "seed"), ({"seed": -1}, "seed"), ({"seed": "1"}, "seed"),
    ({"strict": "yes"}, "strict"),
    ({"nofly": [{"name": "bad\x07name", "polygon": [[-71.3, 44.2], [-71.29, 44.2],
                                                    [-71.29, 44.21]]}]}, "name"),
    ({"nofly": [{"name": "n" * 201, "polygon": [[-71.3, 44.2], [-71.29, 44.2],
                                                [-71.29, 44.21]]}]}, "name"),
    ({"nofly": [{"polygon": [[-71.3, 44.2], [-71.29, 44.2], [-71.29, 44.21]]}] * 1001}, "nofly"),
])
def test_numbers_ids_and_names_are_bounded(app: Flask, edits: dict[str, Any],
                                           field: str) -> None:
    """Huge or invalid numbers, bad ids and names in a plan request are 400 naming the field."""
    c = Client(app, "operator")
    r = c.post("/api/plans", json={"scenario": "tutorial", "edits": edits})
    assert r.status_code == 400, r.json
    assert r.json["field"] == field, r.json
    plan_id = new_plan(c)
    r = c.put(f"/api/plans/{plan_id}/edits", json=edits)
    assert r.status_code == 400 and r.json["field"] == field, r.json


def test_seed_edit_is_used(app: Flask) -> None:
    """A seed in the plan request reaches the planner's parameters."""
    c = Client(app, "operator")
    plan_id = new_plan(c, edits={"seed": 42, "time_limit_s": 5})
    scenario, _ = services(app).plans.scenario(plan_id)
    assert (scenario.params.seed, scenario.params.time_limit_s) == (42, 5.0)
