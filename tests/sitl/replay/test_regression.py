"""The regression missions of ``missions/regression`` flown on the built-in simulator."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from planner.io.planfile import read_plan_json
from planner.items import Cmd
from tests.helpers.shared_data import REPO

pytestmark = pytest.mark.sitl

REGRESSION = REPO / "missions" / "regression"


def test_the_regression_plan_exercises_every_drop_method() -> None:
    """The committed plan has gripper, winch and landing drops, a zone detour and wind."""
    plan = read_plan_json(REGRESSION / "plan" / "plan.json")
    commands = {m.command for s in plan.sorties for m in s.mission}
    assert {Cmd.DO_GRIPPER, Cmd.DO_WINCH, Cmd.NAV_LAND} <= commands
    assert {s.drone_type_id for s in plan.sorties} == {"heavy_octo", "small_quad", "land_quad"}
    assert not plan.unserved
    assert min(s.metrics.reserve_pct for s in plan.sorties) < 60.0


@pytest.mark.slow
def test_regression_missions_fly_within_their_tolerances(tmp_path: Path, capsys: Any) -> None:
    """Every sortie of the regression plan flown at 40x, two at a time: the report passes."""
    report = tmp_path / "report"
    code = main(["replay", str(REGRESSION / "plan"), "--scenario", str(REGRESSION),
                 "--tolerances", str(REGRESSION / "tolerances.toml"), "--speedup", "40",
                 "--parallel", "2", "--report", str(report)])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    doc = json.loads((report / "report.json").read_text())
    assert doc["passed"] is True
    names = [m["name"] for m in doc["missions"]]
    assert names == ["plan/S001", "plan/S002", "plan/S003", "plan/S004"]
    for mission in doc["missions"]:
        figures = mission["figures"]
        assert figures["final_state"] == "completed"
        assert figures["incursions"] == []
        assert figures["items_reached"] == figures["items_total"]
        assert all(e is not None for e in figures["drop_errors_m"].values())
        assert figures["agl_reference"] == "dem"
    for name in names:
        assert f"{name}: PASS" in captured.out
    junit = ET.parse(report / "junit.xml").getroot()
    assert junit.get("failures") == "0" and junit.get("errors") == "0"
    assert len(list((report / "plots").glob("*.png"))) == 12
