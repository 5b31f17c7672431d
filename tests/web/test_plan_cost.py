"""The console's Plan page carries the cost report: in the plan API, in summary.json, translated."""

from __future__ import annotations

import json

from flask import Flask

from tests.web.helpers import Client, plan_done, services
from web import i18n

COST_MESSAGES = ("by drone", "by road", "cheaper", "by drone (yuan)", "by road (yuan)",
                 "%(parcel)s yuan per parcel (road %(road)s), %(km)s yuan per drone-km, "
                 "%(kg)s yuan per kg")


def test_plan_result_and_summary_json_carry_the_cost(app: Flask) -> None:
    """A finished plan's result and its summary.json hold the same cost figures per parcel."""
    c = Client(app, "operator")
    plan_id = plan_done(c, edits={"drop_ids": ["P014", "P020", "P021"]}, app=app)
    result = c.get(f"/api/plans/{plan_id}").json["result"]
    cost = result["summary"]["cost"]
    assert cost["currency"] == "yuan" and cost["parcels"] == 3
    assert sorted(d["drop_id"] for d in cost["drops"]) == ["P014", "P020", "P021"]
    assert cost["cost_per_parcel_yuan"] == round(cost["cost_yuan"] / 3, 2)
    assert cost["road_yuan"] == 15.0
    out_dir = services(app).plans.get(plan_id).out_dir
    assert out_dir is not None
    written = json.loads((out_dir / "summary.json").read_text())
    assert written["cost"]["cost_yuan"] == cost["cost_yuan"]
    assert written["cost"]["cheaper_by_drone"] == cost["cheaper_by_drone"]


def test_the_cost_messages_reach_the_browser_translated() -> None:
    """The Plan page's cost texts are in the scripts' catalogue of each language."""
    for code in ("hi", "zh"):
        catalogue = i18n.js_catalogue(code)
        for message in COST_MESSAGES:
            assert catalogue.get(message), (code, message)
