"""Console re-plans from the fleet's state: the request's ``battery`` per vehicle (a first
sortie flies on it only if it covers it, else a swap first) and ``wind``; recorded in the
version, its plan and the audit log; each bad value refused with a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from planner.fleet_state import VehicleStart
from tests.web.helpers import Client, make_app, services
from tests.web.helpers_tracking import fly
from tests.web.test_replan import DROPS, HUB
from web import db as tables

V1, V2 = "north_conway/heavy_octo/1", "north_conway/heavy_octo/2"
TURN_S = 300.0  # the tutorial octocopter's turnaround


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    found = make_app(tmp_path / "data")
    yield found
    services(found).close()


def _planned(app: Flask, c: Client) -> str:
    r = c.post("/api/plans", json={"scenario": "tutorial",
                                   "edits": {"depots": [HUB], "drop_ids": DROPS,
                                             "time_limit_s": 3}})
    plan_id = str(r.json["id"])
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)
    return plan_id


def _firsts(app: Flask, plan_id: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in services(app).plans.plan(plan_id).sorties:
        out[s.vehicle] = min(out.get(s.vehicle, s.start_s), s.start_s)
    return out


def test_replan_with_measured_batteries_and_a_new_wind(app: Flask) -> None:
    """Vehicle 1 at 21 % (its reserve is 20 %) swaps first, vehicle 2 at 95 % takes off at
    once; the wind is 7 m/s from the west. The answer, the version's plan (which verifies),
    and the audit log carry them; the flown version keeps its calm air and no starts."""
    c = Client(app, "operator")
    plan_id = _planned(app, c)
    fly(app, plan_id, {"P014": ("delivered", {})})
    r = c.post(f"/api/plans/{plan_id}/replan", json={
        "battery": {V1: 21, V2: 95.0}, "wind": {"speed_m_s": 7, "from_deg": 270}})
    assert r.status_code == 202, r.json
    assert r.json["replan"]["vehicle_starts"] == [
        {"vehicle": V1, "was": V1, "ready_s": 0.0, "battery_pct": 21.0, "source": "override"},
        {"vehicle": V2, "was": V2, "ready_s": 0.0, "battery_pct": 95.0, "source": "override"}]
    assert r.json["replan"]["wind"] == {"speed_m_s": 7.0, "from_deg": 270.0}
    assert r.json["edits"]["wind"] == {"speed_m_s": 7.0, "from_deg": 270.0}
    record = services(app).plans.wait(plan_id, 120.0)
    assert record.state == "done", record.error
    plan = services(app).plans.plan(plan_id)
    assert plan.vehicle_starts == (VehicleStart(vehicle=V1, battery_pct=21.0),
                                   VehicleStart(vehicle=V2, battery_pct=95.0))
    firsts = _firsts(app, plan_id)
    assert firsts.get(V1, TURN_S) == TURN_S and firsts.get(V2, 0.0) == 0.0 and firsts
    scenario, _ = services(app).plans.scenario(plan_id)
    assert (scenario.wind.speed_m_s, scenario.wind.from_deg) == (7.0, 270.0)
    flown = services(app).plans.versions(plan_id)[-1]
    assert "wind" not in flown.edits and "vehicle_starts" not in flown.edits
    assert services(app).plans.plan_of(flown).vehicle_starts == ()
    rows = services(app).db.rows(sa.select(tables.audit_log).where(
        tables.audit_log.c.action == "plan replan"))
    assert len(rows) == 1
    assert f"{V1} 21 %" in rows[0].detail and "wind 7 m/s from 270 deg" in rows[0].detail


def test_grounded_vehicle_s_battery_is_dropped_and_the_next_renumbered(app: Flask) -> None:
    """Vehicle 1 grounded: vehicle 2's 21 % goes with it as vehicle 1 of the re-plan, which
    swaps before its first sortie."""
    c = Client(app, "operator")
    plan_id = _planned(app, c)
    r = c.post(f"/api/plans/{plan_id}/replan", json={"ground": [V1],
                                                     "battery": {V1: 90, V2: 21}})
    assert r.status_code == 202, r.json
    assert r.json["replan"]["vehicle_starts"] == [
        {"vehicle": V1, "was": V2, "ready_s": 0.0, "battery_pct": 21.0, "source": "override"}]
    services(app).plans.wait(plan_id, 120.0)
    assert _firsts(app, plan_id) == {V1: TURN_S}


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"battery": [V1]}, "battery", "Expected an object"),
    ({"battery": {"north_conway/heavy_octo/9": 50}}, "battery", "is not a vehicle"),
    ({"battery": {"<b>x</b>": 50}}, "battery", "is not a vehicle"),
    ({"battery": {V1: 150}}, "battery", "percentage from 0 to 100"),
    ({"battery": {V1: "full"}}, "battery", "percentage from 0 to 100"),
    ({"battery": {V1: True}}, "battery", "percentage from 0 to 100"),
    ({"wind": 7}, "wind", "speed_m_s"),
    ({"wind": {"speed_m_s": 7}}, "wind", "from_deg"),
    ({"wind": {"speed_m_s": 70, "from_deg": 90}}, "wind", "speed_m_s from 0 to 60"),
    ({"wind": {"speed_m_s": 5, "from_deg": -10}}, "wind", "from_deg from 0 to 360"),
    ({"wind": {"speed_m_s": "calm", "from_deg": 0}}, "wind", "speed_m_s"),
])
def test_bad_battery_or_wind_is_a_400_naming_the_field(app: Flask, body: dict[str, object],
                                                       field: str, words: str) -> None:
    """Each bad value is refused naming the field; no version is made, nothing audited."""
    c = Client(app, "operator")
    plan_id = _planned(app, c)
    r = c.post(f"/api/plans/{plan_id}/replan", json=body)
    assert r.status_code == 400, r.json
    assert words in r.json["error"] and field in r.json["error"], r.json
    assert len(services(app).plans.versions(plan_id)) == 1
    assert not services(app).db.rows(sa.select(tables.audit_log).where(
        tables.audit_log.c.action == "plan replan"))
