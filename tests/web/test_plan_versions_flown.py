"""Planning a flown plan again, with simulated copters: the earlier flights replay against the
version they flew (route and plan-against-flown figures unchanged), a parcel an earlier version
delivered is not flown again unless the operator re-sends it, the new version flies with the same
tracking links, and a failed re-run of it never undoes a delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gcs.helpers import FleetCase, start_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, plan_done, services
from tests.web.helpers_tracking import DROPS, EDITS
from web.flights import FlightService

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=CONSOLE_MODES)
def console(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two simulated copters at the tutorial hub and a console flying them (on its links or
    through workers), with a two-parcel plan made through the API."""
    planner_app = make_app(tmp_path_factory.mktemp("plan"))
    c = Client(planner_app, "operator")
    plan_id = plan_done(c, edits=EDITS, app=planner_app)
    scenario, dem = services(planner_app).plans.scenario(plan_id)
    plan = services(planner_app).plans.plan(plan_id)
    fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 2)
    data = Path(services(planner_app).plans.root).parent
    services(planner_app).close()
    try:
        with fleet_console(request.param, data, fleet.connection_strings, request) as app:
            c = Client(app, "operator")
            plan_id = plan_done(c, edits=EDITS, app=app)
            yield {"app": app, "plan_id": plan_id}
    finally:
        fleet.stop()


def _fly(c: Client, plan_id: str, **upload: Any) -> None:
    r = c.post("/api/fleet/upload", json={"plan_id": plan_id, **upload})
    assert r.status_code == 200, r.json
    assert c.post("/api/fleet/start").status_code == 200


def _replays(app: Any) -> dict[int, dict[str, Any]]:
    """Every recorded flight's replay, read afresh (no cached answer)."""
    svc = services(app)
    fresh = FlightService(svc.fleet.flight_log, svc.plans)
    return {f["id"]: fresh.replay(f["id"]) for f in fresh.all() if f["has_log"]}


def test_replan_keeps_flown_history(console: dict[str, Any]) -> None:
    """Fly version 1, plan again with other drops (version 2, its sortie S001 different):
    version 1's flights replay exactly as before; version 2 flies under the same tokens, and
    when a re-run of it is landed in the field the delivered parcel stays delivered."""
    app, plan_id = console["app"], console["plan_id"]
    c = Client(app, "operator")
    wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 2, 20, "two vehicles heard",
               period_s=0.2)
    _fly(c, plan_id)
    wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240, "run 1 to finish",
               period_s=0.2)
    tokens = {d["drop_id"]: d["token"] for d in c.get("/api/deliveries").json["drops"]}
    public = Client(app, None)
    delivered = {d: public.get(f"/api/track/{t}").json for d, t in tokens.items()}
    assert all(s["state"] == "delivered" for s in delivered.values())
    before = _replays(app)
    assert before and all(r["figures"]["cross_track_max_m"] < 100 for r in before.values())
    v1_route = {fid: r["planned_route"] for fid, r in before.items()}

    r = c.put(f"/api/plans/{plan_id}/edits", json={**EDITS, "drop_ids": ["P014"]})
    assert r.status_code == 200 and r.json["version"] == 2, r.json
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)
    v2 = c.get(f"/api/plans/{plan_id}").json
    assert v2["version"] == 2 and v2["state"] == "done"
    v1 = c.get(f"/api/plans/{plan_id}/versions/1").json
    assert v1["read_only"] and v1["result"]["sorties"] != v2["result"]["sorties"]

    after = _replays(app)
    assert after == before
    assert {fid: r["planned_route"] for fid, r in after.items()} == v1_route

    # version 2 holds only P014, delivered by version 1: it is never flown again unasked
    r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
    assert r.status_code == 409 and "P014" in r.json["error"], r.json
    _fly(c, plan_id, resend_delivered=True)  # the operator re-sends it
    assert {d["drop_id"]: d["token"] for d in c.get("/api/deliveries").json["drops"]} == \
        {"P014": tokens["P014"]}
    sysid = next(iter(c.get("/api/fleet").json["run"]["assignment"].values()))
    wait_until(lambda: any(v["sysid"] == sysid and (v["alt_rel_m"] or 0) > 20
                           for v in c.get("/api/fleet").json["vehicles"]), 60,
               "a copter in the air", period_s=0.2)
    assert c.post(f"/api/fleet/vehicles/{sysid}/land").status_code == 200
    wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240, "run 2 to finish",
               period_s=0.2)
    live = {d["drop_id"]: d["state"] for d in c.get("/api/fleet").json["drops"]}
    assert live == {"P014": "failed"}
    for drop_id in DROPS:
        s = public.get(f"/api/track/{tokens[drop_id]}").json
        assert s["state"] == "delivered" and s["reason"] is None
        assert s["delivered_at"] == delivered[drop_id]["delivered_at"]
    assert {fid: r for fid, r in _replays(app).items() if fid in before} == before
