"""``dropline plan --workers``: the planner's independent work on a pool of processes."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from dropline.cli import main
from planner.io.inputs import load_scenario_with_dem
from planner.io.planfile import read_plan_json
from planner.pipeline import make_plan
from planner.scenario import Scenario
from planner.terrain import Dem
from tests.helpers.shared_data import TUTORIAL


def test_negative_workers_are_rejected(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--workers must not be negative; nothing is written."""
    code = main(["plan", str(TUTORIAL), "-o", str(tmp_path / "o"), "--workers", "-1"])
    assert code == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


class _StepClock:
    """A clock that moves 1 µs a reading: the search stops by its work budgets, not by load."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        self.now_s += 1e-6
        return self.now_s


def test_plan_on_workers_is_the_plan_without(tutorial_scenario: Scenario,
                                             tutorial_dem: Dem) -> None:
    """The tutorial plans to the same sorties with two worker processes as with none.

    The 20 s budget leaves the exact trip search room to finish on a loaded machine, so the
    comparison is not decided by which run the machine slowed down.
    """
    scenario = dataclasses.replace(
        tutorial_scenario, params=dataclasses.replace(tutorial_scenario.params, time_limit_s=20))
    alone = make_plan(scenario, tutorial_dem, clock=_StepClock()).plan
    with ProcessPoolExecutor(2) as pool:
        pooled = make_plan(scenario, tutorial_dem, clock=_StepClock(), map_fn=pool.map).plan
    assert pooled == alone
    assert len(alone.sorties) > 0


def test_plan_command_on_workers(tmp_path: Path) -> None:
    """``dropline plan --workers 2`` writes a whole plan serving every tutorial drop."""
    args = ["plan", str(TUTORIAL), "--no-progress", "--time-limit", "3"]
    assert main([*args, "-o", str(tmp_path / "pooled"), "--workers", "2"]) == 0
    pooled = read_plan_json(tmp_path / "pooled" / "plan.json")
    assert pooled.sorties and not pooled.unserved
    assert {d for s in pooled.sorties for d in s.drop_ids} == {
        d.id for d in load_scenario_with_dem(TUTORIAL).scenario.drops}
