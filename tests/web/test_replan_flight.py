"""The delivery day on simulated copters through the console: two parcels in the air, the
operator adds five drops and grounds a drone, the re-plan flies after the first run, and no
parcel is flown twice; every recipient is told "on its way" and "delivered" exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from gcs.fleet import logs
from tests.gcs.helpers import FleetCase, start_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.shared_data import TUTORIAL
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, services, upload
from tests.web.helpers_notify import receiver, write_settings
from web.notify.config import load_notify_config

pytestmark = pytest.mark.slow
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 2}}
FIRST = ["P014", "P020"]
ADDED = ["P021", "T01", "T02", "T03", "T04"]


def _drops_with_recipients() -> bytes:
    """The tutorial's drops CSV with a phone number for every recipient."""
    lines = [ln for ln in (TUTORIAL / "drops.csv").read_text().splitlines()
             if ln and not ln.startswith("#")]
    out = [lines[0] + ",phone"]
    out += [f"{row},+1 603 555 01{n:02d}" for n, row in enumerate(lines[1:])]
    return ("\n".join(out) + "\n").encode()


def _plan(app: object, c: Client) -> str:
    r = c.post("/api/plans", json={"scenario": "tutorial",
                                   "edits": {"depots": [HUB], "drop_ids": FIRST}})
    plan_id = str(r.json["id"])
    assert upload(c, plan_id, "drops", "drops.csv", _drops_with_recipients()).status_code == 200
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)  # type: ignore[arg-type]
    return plan_id


@pytest.mark.parametrize("mode", CONSOLE_MODES)
def test_replan_mid_flight_adds_drops_grounds_a_drone_and_flies_nothing_twice(
        mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Run 1 flies P014 and P020 on two copters; while both are in the air the operator
    re-plans with five more drops and vehicle 2 grounded: the new version leaves the two out as
    on their way and plans the five on vehicle 1; after run 1 it is uploaded and flown. Every
    parcel is delivered exactly once over both runs, vehicle 2 flies nothing in run 2, and each
    recipient hears "on its way" and "delivered" once; by the console or through workers."""
    planner_app = make_app(tmp_path / "plan")
    pc = Client(planner_app, "operator")
    first_id = _plan(planner_app, pc)
    scenario, dem = services(planner_app).plans.scenario(first_id)
    plan = services(planner_app).plans.plan(first_id)
    services(planner_app).close()
    fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 2)
    try:
        with receiver() as hook:
            settings = write_settings(tmp_path / "conf", hook.url, None, extra="interval_s = 0.3")
            with fleet_console(mode, tmp_path, fleet.connection_strings, request,
                               NOTIFY=load_notify_config(settings)) as app:
                c = Client(app, "operator")
                plan_id = _plan(app, c)
                first = services(app).plans.plan(plan_id)
                assert len(first.sorties) == 2 and set(first.served_drop_ids) == set(FIRST)
                wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 2, 30,
                           "two vehicles heard", period_s=0.2)
                assert c.post("/api/fleet/upload", json={"plan_id": plan_id}).status_code == 200
                assert c.post("/api/fleet/start").status_code == 200
                wait_until(lambda: {d["state"] for d in c.get("/api/deliveries").json["drops"]}
                           <= {"en_route", "released"}, 60, "both parcels on their way",
                           period_s=0.2)
                r = c.post(f"/api/plans/{plan_id}/replan",
                           json={"add": ADDED, "ground": ["north_conway/heavy_octo/2"]})
                assert r.status_code == 202, r.json
                assert set(r.json["replan"]["in_air"]) == set(FIRST)
                assert r.json["replan"]["drop_ids"] == ADDED
                services(app).plans.wait(plan_id, 120.0)
                second = services(app).plans.plan(plan_id)
                assert set(second.served_drop_ids) == set(ADDED)
                assert {s.vehicle for s in second.sorties} == {"north_conway/heavy_octo/1"}
                wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240,
                           "run 1 to finish", period_s=0.3)
                r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
                assert r.status_code == 200, r.json
                assert c.post("/api/fleet/start").status_code == 200
                wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 600,
                           "run 2 to finish", period_s=0.5)
                drops = c.get("/api/fleet").json["drops"]
                assert {d["drop_id"]: d["state"] for d in drops} == {d: "delivered" for d in ADDED}
                wait_until(lambda: sum(e["event"] == "delivered" for e in hook.events()) == 7, 20,
                           "seven deliveries told", period_s=0.2)
                flight_log = services(app).fleet.flight_log
                with flight_log.engine.connect() as conn:
                    rows = list(conn.execute(sa.select(logs.delivery_events).where(
                        logs.delivery_events.c.state == "delivered")))
                    flights = list(conn.execute(sa.select(logs.flights)))
    finally:
        fleet.stop()
    delivered = Counter(str(r.drop_id) for r in rows)
    assert delivered == dict.fromkeys(FIRST + ADDED, 1)
    run2 = max(int(f.run_id) for f in flights)
    assert {f.vehicle for f in flights if int(f.run_id) == run2} == {"north_conway/heavy_octo/1"}
    told = Counter((e["parcel"], e["event"]) for e in hook.events())
    assert told == {**{(d, "out_for_delivery"): 1 for d in FIRST + ADDED},
                    **{(d, "delivered"): 1 for d in FIRST + ADDED}}
