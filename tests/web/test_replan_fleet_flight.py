"""A console re-plan from the live fleet on simulated copters: while both are in the air, each
is ready when its sortie is over (plus a turnaround, or on the battery the operator gives);
once they have landed, each starts on the battery its telemetry reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gcs.helpers import FleetCase, start_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, services

pytestmark = pytest.mark.slow
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 2}}
FIRST = ["P014", "P020"]
V1, V2 = "north_conway/heavy_octo/1", "north_conway/heavy_octo/2"
TURN_S = 300.0  # the tutorial octocopter's turnaround


def _plan(app: object, c: Client, drops: list[str]) -> str:
    r = c.post("/api/plans", json={"scenario": "tutorial",
                                   "edits": {"depots": [HUB], "drop_ids": drops,
                                             "time_limit_s": 3}})
    plan_id = str(r.json["id"])
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)  # type: ignore[arg-type]
    return plan_id


@pytest.mark.parametrize("mode", CONSOLE_MODES)
def test_replan_starts_from_the_vehicles_in_the_air_and_then_their_measured_batteries(
        mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Mid-flight: vehicle 2 is ready after the rest of its sortie and a turnaround, vehicle 1
    (given 90 %) after the rest of its sortie; the version plans, verifies and records them.
    After the run: both start now on the battery their telemetry last reported. On links and
    through workers."""
    planner_app = make_app(tmp_path / "plan")
    first_id = _plan(planner_app, Client(planner_app, "operator"), FIRST)
    scenario, dem = services(planner_app).plans.scenario(first_id)
    plan = services(planner_app).plans.plan(first_id)
    services(planner_app).close()
    fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 2)
    try:
        with fleet_console(mode, tmp_path, fleet.connection_strings, request) as app:
            c = Client(app, "operator")
            plan_id = _plan(app, c, FIRST)
            first = services(app).plans.plan(plan_id)
            duration = {s.vehicle: s.metrics.duration_s for s in first.sorties}
            assert set(duration) == {V1, V2}
            wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 2, 30,
                       "two vehicles heard", period_s=0.2)
            assert c.post("/api/fleet/upload", json={"plan_id": plan_id}).status_code == 200
            assert c.post("/api/fleet/start").status_code == 200
            wait_until(lambda: {d["state"] for d in c.get("/api/deliveries").json["drops"]}
                       <= {"en_route", "released"}, 60, "both parcels on their way", period_s=0.2)
            r = c.post(f"/api/plans/{plan_id}/replan", json={"add": ["T01", "T02"],
                                                             "battery": {V1: 90}})
            assert r.status_code == 202, r.json
            starts = {s["vehicle"]: s for s in r.json["replan"]["vehicle_starts"]}
            assert starts[V1]["source"] == "override" and starts[V1]["battery_pct"] == 90.0
            assert 0.0 <= starts[V1]["ready_s"] <= duration[V1]
            assert starts[V2]["source"] == "in the air" and starts[V2]["battery_pct"] is None
            assert TURN_S <= starts[V2]["ready_s"] <= duration[V2] + TURN_S
            record = services(app).plans.wait(plan_id, 120.0)
            assert record.state == "done", record.error
            second = services(app).plans.plan(plan_id)
            assert {s.vehicle: s.ready_s for s in second.vehicle_starts} == \
                {v: s["ready_s"] for v, s in starts.items()}
            for s in second.sorties:
                assert s.start_s >= starts[s.vehicle]["ready_s"] - 0.05

            wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240,
                       "the run to finish", period_s=0.3)
            reported = {v["name"]: v["battery_pct"] for v in c.get("/api/fleet").json["vehicles"]}
            r = c.post(f"/api/plans/{plan_id}/replan", json={})
            assert r.status_code == 202, r.json
            starts = {s["vehicle"]: s for s in r.json["replan"]["vehicle_starts"]}
            assert {v: s["source"] for v, s in starts.items()} == {V1: "measured", V2: "measured"}
            for v, s in starts.items():
                assert s["ready_s"] == 0.0
                assert s["battery_pct"] == pytest.approx(reported[v], abs=2.0)
            assert services(app).plans.wait(plan_id, 120.0).state == "done"
    finally:
        fleet.stop()
