"""``dropline plan --workers``: the planner's independent work on a pool of processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropline.cli import main
from planner.io.planfile import read_plan_json
from tests.helpers.shared_data import TUTORIAL


def test_negative_workers_are_rejected(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--workers must not be negative; nothing is written."""
    code = main(["plan", str(TUTORIAL), "-o", str(tmp_path / "o"), "--workers", "-1"])
    assert code == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_plan_on_workers_is_the_plan_without(tmp_path: Path) -> None:
    """The tutorial plans to the same sorties with two worker processes as with none."""
    args = ["plan", str(TUTORIAL), "--no-progress", "--time-limit", "3"]
    assert main([*args, "-o", str(tmp_path / "alone")]) == 0
    assert main([*args, "-o", str(tmp_path / "pooled"), "--workers", "2"]) == 0
    alone = read_plan_json(tmp_path / "alone" / "plan.json")
    pooled = read_plan_json(tmp_path / "pooled" / "plan.json")
    assert pooled == alone
    assert len(alone.sorties) > 0
