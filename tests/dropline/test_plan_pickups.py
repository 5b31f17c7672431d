"""``dropline plan`` on a scenario mixing deliveries and pickups: every stop served, verified,
and plan.json naming the pickups."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dropline.commands.plan import plan_command

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "pickups"


def test_plan_command_serves_deliveries_and_pickups(tmp_path: Path) -> None:
    """Exit 0, nothing unserved, the pickups listed per sortie and grabbed in the mission."""
    args = argparse.Namespace(scenario=str(SAMPLE), out=str(tmp_path / "out"), seed=None,
                              time_limit=5.0, frame=None, no_progress=True, objective=None)
    assert plan_command(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert summary["served"] == summary["drops"] == 5 and summary["unserved"] == 0
    pickups = [p for s in plan["sorties"] for p in s.get("pickup_ids", [])]
    assert sorted(pickups) == ["U1", "U2"]
    for s in plan["sorties"]:
        grabs = [i for i in s["mission"] if i["command"] == 211 and i["params"][1] == 1]
        assert len(grabs) == len(s.get("pickup_ids", []))
