"""plan.json: exact round trips, layout, malformed input, and atomic writes of every writer."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.errors import PlanFileError
from planner.io.planfile import plan_to_json, read_plan_json, write_plan_json
from planner.io.qgc import write_qgc_plan
from planner.io.wpl import write_wpl
from planner.plan_model import Plan, Sortie
from tests.planner.helpers_items import assert_items_equal, sample_mission, sample_plan


def test_round_trip_gives_an_equal_plan(tmp_path: Path) -> None:
    """Writing then reading gives a Plan equal to the original, floats exact."""
    path = tmp_path / "plan.json"
    write_plan_json(path, sample_plan())
    again = read_plan_json(path)
    assert again == sample_plan()
    assert again.sorties[0].metrics.duration_s == 0.1 + 0.2
    assert list(again.sorties[0].metrics.drop_etas_s) == ["D7", "D2"]


def test_nan_params_round_trip_as_nan(tmp_path: Path) -> None:
    """A NaN param is written null and read back NaN."""
    path = tmp_path / "plan.json"
    write_plan_json(path, sample_plan(with_nan=True))
    items = json.loads(path.read_text())["sorties"][0]["mission"]
    assert items[1]["params"][3] is None
    assert_items_equal(read_plan_json(path).sorties[0].mission, sample_mission(), tol=0.0)


def test_layout_names_format_items_and_extra() -> None:
    """The document has format/version, named item fields, command names and the extra data."""
    data = json.loads(plan_to_json(sample_plan(), extra={"planner": "0.1.0", "argv": ["plan"]}))
    assert (data["format"], data["version"], data["seed"]) == ("dropline-plan", 1, 7)
    assert data["extra"] == {"planner": "0.1.0", "argv": ["plan"]}
    sortie = data["sorties"][0]
    assert sortie["metrics"]["drop_etas_s"] == {"D7": 412.5, "D2": 655.0}
    assert sortie["mission"][4] == {
        "seq": 4, "command": 211, "command_name": "DO_GRIPPER", "frame": 0,
        "params": [1.0, 0.0, 0.0, 0.0], "lat_deg": 0.0, "lon_deg": 0.0, "alt_m": 0.0,
        "autocontinue": True}
    assert [i["command_name"] for i in sortie["fence"]][-1] == "NAV_FENCE_CIRCLE_EXCLUSION"
    assert [i["seq"] for i in sortie["rally"]] == [0, 1]
    assert data["unserved"] == [{"drop_id": "D9", "reason": "beyond the battery range of quad"}]


def test_item_in_the_wrong_list_is_refused(tmp_path: Path) -> None:
    """A mission item placed in a fence list cannot be written."""
    plan = sample_plan()
    sortie = plan.sorties[1]
    bad = Sortie(id=sortie.id, depot_id=sortie.depot_id, drone_type_id=sortie.drone_type_id,
                 vehicle=sortie.vehicle, drop_ids=(), start_s=0.0, mission=sortie.mission,
                 fence=sortie.mission[:1], rally=(), metrics=sortie.metrics)
    with pytest.raises(ValueError, match="'S2' fence item 0 to have mission_type 1"):
        plan_to_json(Plan(scenario="x", altitude_frame="relative", sorties=(bad,), unserved=()))


def _valid() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(plan_to_json(sample_plan()))
    return data


def _drop(data: dict[str, Any], key: str) -> None:
    del data[key]


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("format", lambda d: d.update(format="qgc"), "format", "expected 'dropline-plan'"),
    ("version", lambda d: d.update(version=2), "version", "expected version 1"),
    ("sorties missing", lambda d: _drop(d, "sorties"), "sorties", "missing key"),
    ("seed", lambda d: d.update(seed="7"), "seed", "expected a number, got a string"),
    ("params length", lambda d: d["sorties"][0]["mission"][2].update(params=[0, 0, 0]),
     "sorties[0].mission[2].params", "expected an array of 4 values, got 3"),
    ("param type", lambda d: d["sorties"][0]["mission"][2]["params"].__setitem__(1, "x"),
     "sorties[0].mission[2].params[1]", "expected a number or null"),
    ("seq", lambda d: d["sorties"][0]["fence"][3].update(seq=9),
     "sorties[0].fence[3].seq", "expected seq 3"),
    ("latitude", lambda d: d["sorties"][1]["mission"][0].update(lat_deg=-91.0),
     "sorties[1].mission[0]", "lat_deg in [-90, 90]"),
    ("null latitude", lambda d: d["sorties"][1]["mission"][0].update(lat_deg=None),
     "sorties[1].mission[0].lat_deg", "expected a number, got null"),
    ("autocontinue", lambda d: d["sorties"][0]["rally"][1].update(autocontinue=1),
     "sorties[0].rally[1].autocontinue", "expected true or false"),
    ("metrics key", lambda d: _drop(d["sorties"][0]["metrics"], "energy_wh"),
     "sorties[0].metrics.energy_wh", "missing key"),
    ("eta", lambda d: d["sorties"][0]["metrics"]["drop_etas_s"].update(D7="soon"),
     "sorties[0].metrics.drop_etas_s.D7", "expected a number or null"),
    ("drop id", lambda d: d["sorties"][0]["drop_ids"].__setitem__(1, 2),
     "sorties[0].drop_ids[1]", "expected a string, got a number"),
    ("unserved reason", lambda d: _drop(d["unserved"][0], "reason"),
     "unserved[0].reason", "missing key"),
    ("sortie type", lambda d: d["sorties"].__setitem__(0, []), "sorties[0]",
     "expected an object, got an array"),
]


@pytest.mark.parametrize(("name", "mutate", "field", "reason"), MALFORMED,
                         ids=[case[0] for case in MALFORMED])
def test_malformed_plan_json_names_file_json_path_and_reason(
        tmp_path: Path, name: str, mutate: Callable[[dict[str, Any]], None], field: str,
        reason: str) -> None:
    """Each malformed plan.json raises PlanFileError naming the file, the JSON path and why."""
    data = copy.deepcopy(_valid())
    mutate(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError) as info:
        read_plan_json(path)
    assert (info.value.path, info.value.field) == (str(path), field)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}, field '{field}': ")


def test_truncated_plan_json_names_the_line(tmp_path: Path) -> None:
    """A file cut short (as a crash mid-write would leave it) fails with its line number."""
    path = tmp_path / "plan.json"
    text = plan_to_json(sample_plan())
    path.write_text(text[: len(text) // 2])
    with pytest.raises(PlanFileError, match="not valid JSON") as info:
        read_plan_json(path)
    assert info.value.line is not None and info.value.line > 1


WRITERS: dict[str, Callable[[Path], None]] = {
    "plan.json": lambda p: write_plan_json(p, sample_plan()),
    "qgc": lambda p: write_qgc_plan(p, mission=sample_mission(), cruise_speed_m_s=10,
                                    hover_speed_m_s=5),
    "wpl": lambda p: write_wpl(p, sample_mission()),
}


@pytest.mark.parametrize("writer", list(WRITERS), ids=list(WRITERS))
def test_failed_write_leaves_the_old_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """If the final rename fails, the previous file is intact and no temporary file remains."""
    path = tmp_path / "out"
    path.write_text("previous content")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        WRITERS[writer](path)
    assert path.read_text() == "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("writer", list(WRITERS), ids=list(WRITERS))
def test_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path, writer: str) -> None:
    """A successful write replaces the file's content and leaves no temporary behind."""
    path = tmp_path / "out"
    path.write_text("previous content")
    WRITERS[writer](path)
    assert path.read_text() != "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
