"""A plan job that fails tells its users why without naming a server path: files are named
as the user knows them (upload name, path in the scenario), other paths by their last part."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from flask import Flask

from tests.web.helpers import Client, services
from web.scenario_edit import scrub_paths

DROPS = b"id,lat_deg,lon_deg,weight_kg\nA1,44.06875,-71.12162,0.4\n"


def _no_server_path(app: Flask, text: str) -> None:
    assert app.config["DATA_DIR"] not in text, text
    assert str(Path(app.config["DATA_DIR"]).resolve()) not in text, text
    assert not re.search(r"(?<![\w.])/(?:tmp|work|home|root|var|etc)/", text), text


def test_a_failed_plan_job_names_no_server_path(app: Flask) -> None:
    """Planning that cannot write its output fails; the stored error, the API's answer and the
    plan_done event name the folder it could not make without its server path."""
    c = Client(app, "operator")
    r = c.post("/api/plans", json={"scenario": "tutorial", "edits": {}})
    assert r.status_code == 201, r.json
    plan_id = r.json["id"]
    blocked = Path(app.config["DATA_DIR"]) / "plans" / plan_id / "out"
    blocked.write_text("not a folder")
    bus = services(app).events
    before = bus.last_id
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)
    state = c.get(f"/api/plans/{plan_id}").json
    assert state["state"] == "failed", state
    assert state["error"] == ("internal error: NotADirectoryError: [Errno 20] Not a directory: "
                              "'sorties'"), state
    _no_server_path(app, json.dumps(state))
    done = [e.data for e in bus.since(before) or [] if e.kind == "plan_done"]
    assert [d["error"] for d in done] == [state["error"]], done
    _no_server_path(app, json.dumps(c.get("/api/plans").json))


def test_failure_messages_name_uploads_by_their_upload_names(app: Flask) -> None:
    """A message naming an uploaded file by its server path names it as uploaded; the
    scenario's own files by their path in the scenario; anything else by its last part."""
    c = Client(app, "operator")
    plan_id = c.post("/api/plans", json={"scenario": "tutorial", "edits": {}}).json["id"]
    r = c.post(f"/api/plans/{plan_id}/uploads",
               data={"kind": "drops", "file": (io.BytesIO(DROPS), "my drops.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200, r.json
    folder = services(app).plans.get(plan_id).folder
    uploaded = next(p for p in folder.rglob("*.csv") if "my drops" in
                    json.loads((folder / ".upload_names.json").read_text()).get(
                        p.relative_to(folder).as_posix(), ""))
    message = (f"cannot read {uploaded}: bad row; see {folder.resolve() / 'scenario.toml'} "
               f"and /etc/dropline/secret.conf")
    shown = scrub_paths(message, folder)
    assert shown == "cannot read my drops.csv: bad row; see scenario.toml and secret.conf"
