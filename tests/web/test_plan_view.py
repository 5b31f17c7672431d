"""What the Plan page opens with and how it explains unserved drops."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from planner.plan_model import Plan, Unserved
from tests.web.helpers import Client, make_app, plan_done, services
from web.plan_view import unserved_groups

FAR = "out of range even alone: the shortest round trip, 70.1 km from colebrook with heavy_octo"
HEAVY_FAR = ("too heavy: 2.50 kg is above the 2.00 kg payload of long_octo; out of range even "
             "alone: the shortest round trip, 39.9 km from littleton with heavy_octo")


def test_unserved_drops_are_grouped_by_kind_with_a_hint() -> None:
    """Groups in a fixed order, each with a title, a hint and its drops with full reasons."""
    plan = Plan(scenario="s", altitude_frame="relative", sorties=(), unserved=(
        Unserved(drop_id="P1", reason=FAR), Unserved(drop_id="P2", reason=HEAVY_FAR),
        Unserved(drop_id="P3", reason="too heavy: 9.00 kg is above the 3.00 kg payload of q"),
        Unserved(drop_id="P4", reason="inside no-fly zone 'box' (or its 50 m buffer)"),
        Unserved(drop_id="P5", reason=FAR), Unserved(drop_id="P6", reason="something new")))
    groups = unserved_groups(plan)
    assert [(g["kind"], [d["drop_id"] for d in g["drops"]]) for g in groups] == [
        ("nofly", ["P4"]), ("heavy_and_far", ["P2"]), ("heavy", ["P3"]), ("range", ["P1", "P5"]),
        ("other", ["P6"])]
    by_kind = {g["kind"]: g for g in groups}
    assert by_kind["range"]["title"] == "out of range from every depot"
    assert "add a depot nearer or a longer-range drone type" in by_kind["range"]["hint"]
    assert "by road" in by_kind["heavy"]["hint"]
    assert by_kind["heavy_and_far"]["drops"][0]["reason"] == HEAVY_FAR


def test_plan_result_carries_the_groups(app: Flask) -> None:
    """The plan API's result has the grouped unserved drops next to the flat list."""
    c = Client(app, "operator")
    box = [[-71.13, 44.065], [-71.11, 44.065], [-71.11, 44.075], [-71.13, 44.075]]
    plan_id = plan_done(c, edits={"nofly": [{"name": "box", "polygon": box}],
                                  "drop_ids": ["P014", "P020"]}, app=app)
    result = c.get(f"/api/plans/{plan_id}").json["result"]
    assert [(g["kind"], [d["drop_id"] for d in g["drops"]])
            for g in result["unserved_groups"]] == [("nofly", ["P014"])]


def test_default_plan_is_the_configured_one_else_the_newest(tmp_path: Path) -> None:
    """The plan list names the plan the Plan page opens: DEFAULT_PLAN when it exists, else the
    newest plan, and none without plans."""
    app = make_app(tmp_path / "data")
    try:
        c = Client(app, "operator")
        assert c.get("/api/plans").json["default"] is None
        first = c.post("/api/plans", json={"scenario": "tutorial"}).json["id"]
        second = c.post("/api/plans", json={"scenario": "tutorial"}).json["id"]
        assert c.get("/api/plans").json["default"] == second
        app.config["DEFAULT_PLAN"] = first
        assert c.get("/api/plans").json["default"] == first
        app.config["DEFAULT_PLAN"] = "gone"
        assert c.get("/api/plans").json["default"] == second
    finally:
        services(app).close()


@pytest.mark.parametrize("reason", [FAR, HEAVY_FAR])
def test_every_kind_has_a_hint(reason: str) -> None:
    """No group comes without a title and a hint."""
    plan = Plan(scenario="s", altitude_frame="relative", sorties=(),
                unserved=(Unserved(drop_id="P1", reason=reason),))
    (group,) = unserved_groups(plan)
    assert group["title"] and group["hint"]
