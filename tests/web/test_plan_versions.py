"""Plan versions: a flown version is never changed; planning, editing or uploading to a flown
plan makes the next version (audited), the earlier version keeps its files; parcels keep their
tracking token across versions and a delivery is final."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from tests.web.helpers import Client, services
from tests.web.helpers_tracking import DROPS, fly, two_parcel_plan
from web import db as tables


def _replan(app: Flask, c: Client, plan_id: str) -> dict[str, object]:
    r = c.post(f"/api/plans/{plan_id}/run")
    assert r.status_code == 202, r.json
    services(app).plans.wait(plan_id, 120.0)
    return dict(r.json)


def test_unflown_plan_is_planned_again_in_place(app: Flask) -> None:
    """A plan nobody flew is planned again as the same version."""
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    again = _replan(app, c, plan_id)
    assert again["version"] == 1 and again["version_id"] == plan_id
    shown = c.get(f"/api/plans/{plan_id}").json
    assert [v["version"] for v in shown["versions"]] == [1] and shown["read_only"] is False


def test_replanning_a_flown_plan_makes_a_new_version(app: Flask) -> None:
    """A run of version 1 makes it read-only: planning again writes version 2 to its own
    folder, version 1's plan.json is byte for byte the same, the plan keeps its id, and the
    new version is audited with who made it."""
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    first = services(app).plans.get(plan_id)
    before = first.plan_json.read_bytes()
    fly(app, plan_id, {d: ("delivered", {}) for d in DROPS})
    assert c.get(f"/api/plans/{plan_id}").json["read_only"] is True
    second = _replan(app, c, plan_id)
    assert second["id"] == plan_id and second["version"] == 2
    assert second["version_id"] != plan_id and second["created_by"] == "operator"
    shown = c.get(f"/api/plans/{plan_id}").json
    assert shown["version"] == 2 and shown["state"] == "done" and shown["read_only"] is False
    assert [(v["version"], v["read_only"]) for v in shown["versions"]] == [(2, False),
                                                                            (1, True)]
    assert first.plan_json.read_bytes() == before
    assert services(app).plans.version(plan_id).plan_json == first.plan_json
    old = c.get(f"/api/plans/{plan_id}/versions/1").json
    assert old["version_id"] == plan_id and old["read_only"] is True and old["result"]
    with c.get(f"/api/plans/{plan_id}/versions/1/files/plan.json") as download:
        assert download.data == before
    assert c.get(f"/api/plans/{plan_id}/versions/7").status_code == 404
    listed = [p for p in c.get("/api/plans").json["plans"] if p["id"] == plan_id]
    assert len(listed) == 1 and listed[0]["version"] == 2
    audit = services(app).db.rows(sa.select(tables.audit_log)
                                  .where(tables.audit_log.c.action == "plan version"))
    assert [(r.username, r.target, r.result) for r in audit] == [
        ("operator", f"plan {plan_id}", "created")]
    runs = services(app).db.rows(sa.select(tables.audit_log)
                                 .where(tables.audit_log.c.action == "plan run"))
    assert [(r.username, r.detail) for r in runs] == [("operator", "version 1"),
                                                      ("operator", "version 2")]


def test_edits_and_uploads_to_a_flown_plan_go_to_a_new_version(app: Flask) -> None:
    """Edits of a flown plan leave the flown version's edits as they were."""
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    fly(app, plan_id, {"P014": ("delivered", {})})
    edits = c.get(f"/api/plans/{plan_id}").json["edits"]
    r = c.put(f"/api/plans/{plan_id}/edits", json={**edits, "drop_ids": ["P014"]})
    assert r.status_code == 200, r.json
    assert r.json["version"] == 2 and r.json["state"] == "draft"
    assert services(app).plans.version(plan_id).edits["drop_ids"] == DROPS
    again = c.put(f"/api/plans/{plan_id}/edits", json={**edits, "drop_ids": ["P020"]})
    assert again.json["version"] == 2  # the draft is edited in place until it flies
    assert len(services(app).plans.versions(plan_id)) == 2
    drops = c.get(f"/api/deliveries?plan_id={plan_id}").json["drops"]
    assert {d["drop_id"]: d["state"] for d in drops} == {"P014": "delivered", "P020": "planned"}


def test_tokens_follow_the_parcel_and_delivery_is_final(app: Flask) -> None:
    """Version 2 of a plan reuses version 1's tokens; a failed run of version 2 does not
    undo version 1's delivery, whose time is kept from the first delivery."""
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    run1, tokens1 = fly(app, plan_id, {"P014": ("delivered", {}),
                                       "P020": ("failed", {"detail": "landed away"})})
    public = Client(app, None)
    first = public.get(f"/api/track/{tokens1['P014']}").json
    assert first["state"] == "delivered" and first["delivered_at"] is not None
    _replan(app, c, plan_id)
    run2, tokens2 = fly(app, plan_id, {"P014": ("failed", {"detail": "vehicle lost"}),
                                       "P020": ("delivered", {})})
    assert run2 != run1 and tokens2 == tokens1
    p014 = public.get(f"/api/track/{tokens1['P014']}").json
    assert p014["state"] == "delivered" and p014["delivered_at"] == first["delivered_at"]
    assert p014["reason"] is None
    assert public.get(f"/api/track/{tokens1['P020']}").json["state"] == "delivered"
    rows = services(app).db.rows(sa.select(tables.parcels))
    assert {(r.drop_id, r.delivered_run_id) for r in rows} == {("P014", run1),
                                                                ("P020", run2)}
    drops = {d["drop_id"]: d for d in c.get(f"/api/deliveries?plan_id={plan_id}").json["drops"]}
    assert {d: x["state"] for d, x in drops.items()} == {"P014": "delivered",
                                                         "P020": "delivered"}
