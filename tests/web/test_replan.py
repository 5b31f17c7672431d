"""Re-planning from the console: a new version without the parcels delivered (by any version),
the cancelled drops and the grounded vehicles, with drops added; planned and verified by the
planner job; each bad request named; authorised, CSRF-checked and audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.web.helpers import Client, make_app, services
from tests.web.helpers_tracking import fly
from web import db as tables

HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 2}}
DROPS = ["P014", "P020", "P021", "T01"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    found = make_app(tmp_path / "data")
    yield found
    services(found).close()


def _planned(app: Flask, c: Client) -> str:
    r = c.post("/api/plans", json={"scenario": "tutorial",
                                   "edits": {"depots": [HUB], "drop_ids": DROPS}})
    plan_id = str(r.json["id"])
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)
    return plan_id


def test_replan_leaves_out_delivered_and_cancelled_and_grounds_a_vehicle(app: Flask) -> None:
    """P014 delivered by a run, P021 cancelled, T02 added, vehicle 2 grounded: the new version
    plans P020, T01 and T02 on one vehicle; the flown version is unchanged; audited."""
    c = Client(app, "operator")
    plan_id = _planned(app, c)
    fly(app, plan_id, {"P014": ("delivered", {}), "P020": ("failed", {"detail": "x"})})
    r = c.post(f"/api/plans/{plan_id}/replan", json={
        "cancel": ["P021"], "ground": ["north_conway/heavy_octo/2"], "add": ["T02"]})
    assert r.status_code == 202, r.json
    assert r.json["version"] == 2
    assert r.json["replan"] == {"drop_ids": ["P020", "T01", "T02"],
                                "delivered": {"P014": "run 1"}, "in_air": {},
                                "cancelled": ["P021"],
                                "grounded": ["north_conway/heavy_octo/2"]}
    services(app).plans.wait(plan_id, 120.0)
    new = c.get(f"/api/plans/{plan_id}").json
    assert new["state"] == "done", new
    plan = services(app).plans.plan(plan_id)
    assert set(plan.served_drop_ids) == {"P020", "T01", "T02"}
    assert {s.vehicle for s in plan.sorties} == {"north_conway/heavy_octo/1"}
    first = services(app).plans.versions(plan_id)[-1]
    assert set(services(app).plans.plan_of(first).served_drop_ids) == set(DROPS)
    rows = services(app).db.rows(sa.select(tables.audit_log).where(
        tables.audit_log.c.action == "plan replan"))
    assert len(rows) == 1 and rows[0].username == "operator"
    assert "1 delivered" in rows[0].detail and "P021" in rows[0].detail


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"cancel": ["NOPE"]}, 400, "no drop 'NOPE'"),
    ({"add": "T02"}, 400, "Expected a list of strings"),
    ({"ground": ["north_conway/heavy_octo/9"]}, 400, "is not a vehicle"),
    ({"ground": ["<img src=x>/a/1"]}, 400, "is not a vehicle"),
    ({"later": []}, 400, "unknown field 'later'"),
    ({"cancel": DROPS}, 409, "nothing is left to plan"),
])
def test_bad_replans_are_refused_and_change_nothing(app: Flask, body: dict[str, object],
                                                    status: int, words: str) -> None:
    """Each bad request is refused naming what is wrong; no version is made."""
    c = Client(app, "operator")
    plan_id = _planned(app, c)
    r = c.post(f"/api/plans/{plan_id}/replan", json=body)
    assert r.status_code == status and words in r.json["error"], r.json
    assert len(services(app).plans.versions(plan_id)) == 1


def test_replan_needs_the_plan_permission_and_csrf(app: Flask) -> None:
    """A crew member gets 403, a write without the CSRF token 400, an unknown plan 404."""
    c = Client(app, "operator")
    plan_id = _planned(app, c)
    assert Client(app, "crew").post(f"/api/plans/{plan_id}/replan", json={}).status_code == 403
    assert c.http.post(f"/api/plans/{plan_id}/replan", json={}).status_code == 400
    assert c.post("/api/plans/nope/replan", json={}).status_code == 404
    assert len(services(app).plans.versions(plan_id)) == 1
