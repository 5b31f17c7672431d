"""``dropline plan --objective``: what is minimised reaches the planner and the summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from dropline.commands.plan import OBJECTIVES, add_plan_arguments, plan_command, print_report
from planner.io.planfile import read_plan_json
from tests.helpers.shared_data import TUTORIAL


def _args(out: Path, **over: object) -> argparse.Namespace:
    base: dict[str, object] = {"scenario": str(TUTORIAL), "out": str(out), "seed": 3,
                               "time_limit": 5.0, "frame": None, "no_progress": True,
                               "objective": None}
    return argparse.Namespace(**{**base, **over})


def test_objective_option_parses_every_choice() -> None:
    """--objective takes makespan, distance or sorties and nothing else."""
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    for name in OBJECTIVES:
        assert parser.parse_args(["--objective", name]).objective == name
    assert parser.parse_args([]).objective is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--objective", "fastest"])


@pytest.mark.parametrize(("choice", "objective"), [(None, "makespan_then_energy"),
                                                   ("distance", "distance"),
                                                   ("sorties", "sorties")])
def test_summary_names_objective_seed_and_winner(tmp_path: Path, choice: str | None,
                                                 objective: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """summary.json records the objective, seed, time limit and which construction won."""
    assert plan_command(_args(tmp_path / "out", objective=choice)) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["objective"] == objective
    assert summary["seed"] == 3
    assert summary["time_limit_s"] == 5.0
    methods = [c["method"] for c in summary["constructions"]]
    assert summary["construction"] in methods and "simple" in methods
    won = next(c for c in summary["constructions"] if c["method"] == summary["construction"])
    assert won["served"] == summary["served"]
    assert won["sorties"] == summary["sorties"]
    assert f"sorties by {summary['construction']}" in capsys.readouterr().out


def test_report_without_construction_still_prints(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A summary from before constructions were compared prints its totals alone."""
    assert plan_command(_args(tmp_path / "out")) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    capsys.readouterr()
    plan = read_plan_json(tmp_path / "out" / "plan.json")
    del summary["construction"]
    print_report(plan, summary, tmp_path / "out")
    out = capsys.readouterr().out
    assert "sorties by" not in out and "drops in" in out
