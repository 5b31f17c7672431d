"""The console flying a plan on simulated copters through its API: upload and verify, start,
pause and resume, live events with catch-up, deliveries and public tracking, the audit log,
alerts, and the replay of a recorded flight."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.gcs.helpers import FleetCase, start_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, plan_done, services
from web import db as tables

pytestmark = pytest.mark.slow
DROPS = ["P014", "P020"]
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 2}}


@pytest.fixture(scope="module", params=CONSOLE_MODES)
def flown(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two simulated copters at the tutorial hub and a console flying them (on its own links,
    or through two workers: :data:`tests.helpers.bus_workers.CONSOLE_MODES`), with a two-drop
    plan made through the API; the fleet flies it during the tests of this module."""
    planner_app = make_app(tmp_path_factory.mktemp("plan"))
    c = Client(planner_app, "operator")
    plan_id = plan_done(c, edits={"depots": [HUB], "drop_ids": DROPS}, app=planner_app)
    scenario, dem = services(planner_app).plans.scenario(plan_id)
    plan = services(planner_app).plans.plan(plan_id)
    fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 2)
    data = Path(services(planner_app).plans.root).parent
    services(planner_app).close()
    try:
        with fleet_console(request.param, data, fleet.connection_strings, request) as app:
            # the console's own data folder: plans are made again there
            c = Client(app, "operator")
            plan_id = plan_done(c, edits={"depots": [HUB], "drop_ids": DROPS}, app=app)
            yield {"app": app, "plan_id": plan_id, "fleet": fleet, "mode": request.param}
    finally:
        fleet.stop()


def _audit(app: Flask) -> list[tuple[str, str, str]]:
    rows = services(app).db.rows(sa.select(tables.audit_log).order_by(tables.audit_log.c.id))
    return [(r.username, r.action, r.result) for r in rows]


def test_start_before_upload_is_409(flown: dict[str, Any]) -> None:
    """Nothing uploaded yet: start is refused with 409."""
    r = Client(flown["app"], "operator").post("/api/fleet/start")
    assert r.status_code == 409


def test_upload_of_unknown_or_unplanned_plan(flown: dict[str, Any]) -> None:
    """Uploading an unknown plan is 404, a draft 409, a missing plan_id 400."""
    c = Client(flown["app"], "operator")
    assert c.post("/api/fleet/upload", json={"plan_id": "nope"}).status_code == 404
    draft = c.post("/api/plans", json={"scenario": "tutorial"}).json["id"]
    assert c.post("/api/fleet/upload", json={"plan_id": draft}).status_code == 409
    assert c.post("/api/fleet/upload", json={}).status_code == 400


def test_fly_the_plan(flown: dict[str, Any]) -> None:
    """Upload and verify, start, pause and resume one copter: every drop is delivered, each
    command is audited with its result, and public tracking follows the parcel."""
    app, plan_id = flown["app"], flown["plan_id"]
    c = Client(app, "operator")
    wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 2, 20, "two vehicles heard",
               period_s=0.2)
    r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
    assert r.status_code == 200, r.json
    assert all(x["ok"] and "verified" in x["detail"] for x in r.json["results"])
    tokens = {d["drop_id"]: d["token"] for d in c.get("/api/deliveries").json["drops"]}
    assert set(tokens) == set(DROPS) and all(len(t) >= 32 for t in tokens.values())
    public = Client(app, None)
    assert public.get(f"/api/track/{tokens['P014']}").json["state"] == "queued"
    assert c.post("/api/fleet/start").status_code == 200
    sysid = next(iter(c.get("/api/fleet").json["run"]["assignment"].values()))
    wait_until(lambda: any(v["sysid"] == sysid and v["mode"] == "AUTO"
                           and (v["alt_rel_m"] or 0) > 20
                           for v in c.get("/api/fleet").json["vehicles"]), 60,
               "a copter in the air", period_s=0.2)
    assert c.post(f"/api/fleet/vehicles/{sysid}/pause").status_code == 200
    assert c.post(f"/api/fleet/vehicles/{sysid}/resume").status_code == 200
    wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240, "the run to finish",
               period_s=0.2)
    drops = c.get("/api/fleet").json["drops"]
    assert {d["drop_id"]: d["state"] for d in drops} == {d: "delivered" for d in DROPS}
    status = public.get(f"/api/track/{tokens['P014']}").json
    assert {k: status[k] for k in ("parcel", "state", "status", "eta_in_s", "eta_at",
                                   "reason", "next_step")} == {
        "parcel": "P014", "state": "delivered", "status": "Delivered", "eta_in_s": None,
        "eta_at": None, "reason": None, "next_step": None}
    assert status["delivered_at"] is not None and status["contact"]["name"] == \
        "North Conway hub"
    assert "vehicle" not in status and "P020" not in str(status)
    page = public.get(f"/track/{tokens['P020']}").get_data(as_text=True)
    assert "Parcel P020" in page and "Delivered" in page and "P014" not in page
    audit = _audit(app)
    assert audit.count(("operator", "upload", "ok")) == 2
    assert audit.count(("operator", "start", "ok")) == 2
    assert ("operator", "pause", "ok") in audit and ("operator", "resume", "ok") in audit


def test_bad_commands(flown: dict[str, Any]) -> None:
    """A vehicle never heard is 404, an unknown command 400; both write nothing to a vehicle."""
    c = Client(flown["app"], "operator")
    assert c.post("/api/fleet/vehicles/99/rtl").status_code == 404
    assert c.post("/api/fleet/vehicles/1/flip").status_code == 400
    assert c.post("/api/fleet/all/flip").status_code == 400
    assert Client(flown["app"], None).get("/api/track/not-a-token").status_code == 404
    assert Client(flown["app"], None).get("/track/not-a-token").status_code == 404


def test_alerts_are_acknowledged(flown: dict[str, Any]) -> None:
    """Crew acknowledges an alert of the run (if the run raised one); unknown ids are 404."""
    c = Client(flown["app"], "crew")
    alerts = c.get("/api/fleet").json["alerts"]
    if alerts:
        r = c.post(f"/api/alerts/{alerts[0]['id']}/ack")
        assert r.status_code == 200
        assert c.get("/api/fleet").json["alerts"][0]["acked_by"] == "crew"
    assert c.post("/api/alerts/99999/ack").status_code == 404


def test_events_catch_up_after_a_reconnect(flown: dict[str, Any]) -> None:
    """A client reconnecting with Last-Event-ID gets every event after that id, in order."""
    app = flown["app"]
    bus = services(app).events
    first = bus.publish("status", {"type": "status", "n": 1})
    bus.publish("status", {"type": "status", "n": 2})
    bus.publish("status", {"type": "status", "n": 3})
    c = Client(app, "crew")
    with c.get("/api/events", headers={"Last-Event-ID": str(first.id)}, buffered=False) as r:
        assert r.mimetype == "text/event-stream"
        text = ""
        for chunk in r.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            if '"n": 3' in text:
                break
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    assert ids[:2] == [first.id + 1, first.id + 2]
    assert '"n": 1' not in text and '"n": 2' in text


@pytest.fixture
def flown_run(flown: dict[str, Any]) -> dict[str, Any]:
    """The module's fleet once the plan's run has finished: flown by ``test_fly_the_plan``
    (which checks each step), or here when that test did not run first in this process."""
    c = Client(flown["app"], "operator")
    if c.get("/api/fleet").json["run"] is None:
        wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 2, 20,
                   "two vehicles heard", period_s=0.2)
        r = c.post("/api/fleet/upload", json={"plan_id": flown["plan_id"]})
        assert r.status_code == 200, r.json
    if not c.get("/api/fleet").json["run"]["started"]:
        assert c.post("/api/fleet/start").status_code == 200
    wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240, "the run to finish",
               period_s=0.2)
    return flown


def test_replay_a_recorded_flight(flown_run: dict[str, Any]) -> None:
    """A flown sortie replays from its .tlog: samples in time order, the planned route and
    plan-against-flown figures."""
    c = Client(flown_run["app"], "engineer")
    flights = c.get("/api/flights").json["flights"]
    assert len(flights) >= 1 and all(f["state"] == "completed" for f in flights)
    r = c.get(f"/api/flights/{flights[-1]['id']}/replay").json
    times = [s["t_s"] for s in r["samples"]]
    assert len(times) > 50 and times == sorted(times)
    assert len(r["planned_route"]) >= 3
    fig = r["figures"]
    assert fig["cross_track_max_m"] < 100 and fig["cross_track_p95_m"] <= fig["cross_track_max_m"]
    assert fig["agl_min_m"] > 0 and fig["agl_max_m"] > fig["agl_min_m"]
    assert fig["duration_flown_s"] > 0.5 * fig["duration_planned_s"]
    assert fig["final_state"] == "completed" and fig["incursions"] == []
    assert fig["items_reached"] == fig["items_total"] > 0
    assert fig["drop_errors_m"] and all(e < 30 for e in fig["drop_errors_m"].values())
