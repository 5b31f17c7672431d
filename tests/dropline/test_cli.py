"""The dropline command line as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dropline.cli import main
from planner.io.planfile import read_plan_json, write_plan_json
from planner.io.qgc import read_qgc_plan
from planner.io.wpl import read_wpl
from tests.helpers.shared_data import REPO, TUTORIAL

EDGE = REPO / "missions" / "edge"


@pytest.fixture(scope="module")
def tutorial_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial scenario planned once by the real console script."""
    out = tmp_path_factory.mktemp("tutorial") / "out"
    proc = subprocess.run([sys.executable, "-m", "dropline.cli", "plan", str(TUTORIAL), "-o",
                           str(out)], capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sorties" in proc.stdout
    return out


def test_plan_writes_every_output(tutorial_plan: Path) -> None:
    """plan.json, summary.json, routes.geojson and a .plan and .waypoints per sortie."""
    plan = read_plan_json(tutorial_plan / "plan.json")
    summary = json.loads((tutorial_plan / "summary.json").read_text())
    assert summary["sorties"] == len(plan.sorties) > 0
    assert summary["served"] + summary["unserved"] == summary["drops"]
    geo = json.loads((tutorial_plan / "routes.geojson").read_text())
    assert geo["type"] == "FeatureCollection"
    for s in plan.sorties:
        qgc = read_qgc_plan(tutorial_plan / "sorties" / f"{s.id}.plan")
        assert len(qgc.mission) == len(s.mission)
        assert len(qgc.fence) == len(s.fence)
        wpl = read_wpl(tutorial_plan / "sorties" / f"{s.id}.waypoints")
        assert [i.command for i in wpl] == [i.command for i in s.mission]


@pytest.mark.parametrize("target", ["dir", "plan.json", "first.plan", "first.waypoints"])
def test_verify_accepts_what_plan_wrote(tutorial_plan: Path, target: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Every file dropline plan writes verifies cleanly against its scenario."""
    path = {"dir": tutorial_plan, "plan.json": tutorial_plan / "plan.json",
            "first.plan": tutorial_plan / "sorties" / "S001.plan",
            "first.waypoints": tutorial_plan / "sorties" / "S001.waypoints"}[target]
    assert main(["verify", str(path), "--scenario", str(TUTORIAL)]) == 0
    assert "OK" in capsys.readouterr().out


def test_verify_reports_a_tampered_plan(tutorial_plan: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Lowering every cruise waypoint into the ground gives violations and exit code 1."""
    from dataclasses import replace

    from planner.items import Cmd

    plan = read_plan_json(tutorial_plan / "plan.json")
    s = plan.sorties[0]
    low = tuple(replace(i, alt_m=-50.0) if i.command == Cmd.NAV_WAYPOINT and k > 1 else i
                for k, i in enumerate(s.mission))
    bad = replace(plan, sorties=(replace(s, mission=low), *plan.sorties[1:]))
    write_plan_json(tmp_path / "plan.json", bad)
    assert main(["verify", str(tmp_path / "plan.json"), "--scenario", str(TUTORIAL)]) == 1
    out = capsys.readouterr().out
    assert "agl_low" in out or "below" in out


def test_edge_scenario_lists_unserved_with_reasons(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The edge scenario plans, and each unservable drop comes with its reason."""
    assert main(["plan", str(EDGE), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    plan = read_plan_json(tmp_path / "out" / "plan.json")
    reasons = " | ".join(u.reason for u in plan.unserved)
    for word in ("too heavy", "out of range", "inside no-fly zone", "enclosed"):
        assert word in reasons, reasons
    assert "unserved drops" in capsys.readouterr().out


def test_bad_scenario_exits_2_with_a_message(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A missing scenario folder is a clear error, exit code 2, and no output folder."""
    code = main(["plan", str(tmp_path / "nope"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "nope" in err
    assert not (tmp_path / "out").exists()


def test_bad_time_limit_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--time-limit must be positive."""
    code = main(["plan", str(TUTORIAL), "-o", str(tmp_path / "o"), "--time-limit", "-1"])
    assert code == 2
    assert "--time-limit" in capsys.readouterr().err


def test_verify_rejects_unknown_file_type(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A plan file of an unknown kind is named in the error."""
    f = tmp_path / "mission.txt"
    f.write_text("hello")
    assert main(["verify", str(f), "--scenario", str(TUTORIAL)]) == 2
    assert "mission.txt" in capsys.readouterr().err


def _tutorial_with_heavy_parcel(tmp_path: Path) -> Path:
    """The tutorial scenario with a 4.0 kg parcel (its only drone type carries 3.0 kg) on line 5."""
    folder = tmp_path / "heavy"
    shutil.copytree(TUTORIAL, folder)
    tile = (REPO / "missions" / "district" / "terrain" / "N44W072.hgt").resolve()
    toml = folder / "scenario.toml"
    toml.write_text(toml.read_text().replace('"../district/terrain/N44W072.hgt"', f'"{tile}"'))
    lines = (folder / "drops.csv").read_text().splitlines()
    lines[3] = "P020,North Conway NH,44.04150,-71.12240,4.0,,,0"
    (folder / "drops.csv").write_text("\n".join(lines[:5]) + "\n")
    return folder


def test_overweight_parcel_is_unserved_and_the_rest_planned(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A parcel heavier than every drone type is listed as unserved with its reason, the other
    drops are planned, and the plan verifies."""
    folder = _tutorial_with_heavy_parcel(tmp_path)
    out = tmp_path / "out"
    assert main(["plan", str(folder), "-o", str(out), "--no-progress", "--time-limit", "3"]) == 0
    printed = capsys.readouterr().out
    plan = read_plan_json(out / "plan.json")
    reason = "4.0 kg exceeds the 3.0 kg payload of every drone type"
    assert [(u.drop_id, u.reason) for u in plan.unserved] == [("P020", reason)]
    assert set(plan.served_drop_ids) == {"P014", "P021"}
    assert f"P020: {reason}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["drops"], summary["served"], summary["unserved"]) == (3, 2, 1)
    assert main(["verify", str(out), "--scenario", str(folder)]) == 0


def test_strict_refuses_an_overweight_parcel(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """With --strict the whole drops list is refused (exit 2), naming file, line and field."""
    folder = _tutorial_with_heavy_parcel(tmp_path)
    code = main(["plan", str(folder), "-o", str(tmp_path / "out"), "--strict"])
    err = capsys.readouterr().err
    assert code == 2
    assert "drops.csv:4, drop 'P020', field 'weight_kg'" in err
    assert "exceeds the max_payload_kg of every drone type" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "value", "field"), [
    ("--time-limit", "1e30", "--time-limit"), ("--time-limit", "nan", "--time-limit"),
    ("--seed", "1000000000000000000000000000000", "--seed"), ("--seed", "-5", "--seed")])
def test_out_of_range_options_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           option: str, value: str, field: str) -> None:
    """A huge or invalid --seed or --time-limit is exit 2 naming the option, no traceback."""
    code = main(["plan", str(TUTORIAL), "-o", str(tmp_path / "o"), option, value])
    err = capsys.readouterr().err
    assert code == 2 and f"field '{field}'" in err and "Traceback" not in err
