"""The plan folder: one writer (atomic) and one reader of plan folders, .plan and .waypoints."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from planner.errors import InputError, PlanFileError, ScenarioError
from planner.io import plan_folder
from planner.io.inputs import load_scenario_with_dem
from planner.io.plan_folder import (
    MissionFile,
    PlanFolder,
    read_mission_file,
    read_plan_folder,
    read_plan_source,
    write_plan_folder,
)
from planner.plan_model import Plan
from planner.scenario import Depot, Drop, Scenario, TerrainConfig
from tests.planner.helpers import drone_type
from tests.planner.helpers_items import assert_items_equal, sample_plan

REPO = Path(__file__).resolve().parents[3]
MINIMAL = REPO / "tests" / "data" / "scenarios" / "minimal"
SUMMARY: dict[str, Any] = {"drops": 3, "served": 2, "unserved": 1, "sorties": 2}
FILES = ["plan.json", "routes.geojson", "sorties/S1.plan", "sorties/S1.waypoints",
         "sorties/S2.plan", "sorties/S2.waypoints", "summary.json"]


def _scenario() -> Scenario:
    return Scenario(
        name="white-mountains", root=Path("."),
        terrain=TerrainConfig(dem_paths=(Path("terrain/N44W072.hgt"),)),
        nofly=(), buffer_m=30.0,
        depots=(Depot(id="bethlehem", lat_deg=44.2706, lon_deg=-71.3033, drones={"quad": 2}),),
        drone_types={"quad": drone_type()},
        drops=(Drop(id="D2", lat_deg=44.2955, lon_deg=-71.2701, weight_kg=0.8),
               Drop(id="D7", lat_deg=44.2851, lon_deg=-71.2811, weight_kg=1.2),
               Drop(id="D9", lat_deg=44.40, lon_deg=-71.10, weight_kg=2.0)))


def _one_sortie() -> Plan:
    plan = sample_plan()
    return dataclasses.replace(plan, sorties=plan.sorties[:1], seed=8)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative name, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip_of_a_plan_folder(tmp_path: Path) -> None:
    """The folder holds every file; reading it back gives the plan, its missions and summary."""
    out = tmp_path / "deep" / "out"
    write_plan_folder(out, sample_plan(), _scenario(), summary=SUMMARY)
    assert sorted(_files(out)) == FILES
    assert json.loads((out / "summary.json").read_text()) == SUMMARY
    for given in (out, out / "plan.json"):
        folder = read_plan_source(given)
        assert isinstance(folder, PlanFolder)
        assert (folder.plan, folder.folder, folder.plan_path) == (
            sample_plan(), out, out / "plan.json")
    first = sample_plan().sorties[0]
    qgc = read_plan_source(out / "sorties" / "S1.plan")
    assert isinstance(qgc, MissionFile) and qgc.holds_fence and qgc.name == "S1"
    assert_items_equal(qgc.contents.fence, first.fence)
    wpl = read_mission_file(out / "sorties" / "S1.waypoints")
    assert not wpl.holds_fence and wpl.contents.fence == () and wpl.contents.rally == ()
    assert_items_equal(wpl.contents.mission, qgc.contents.mission)
    assert sorted(p.name for p in tmp_path.joinpath("deep").iterdir()) == ["out"]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_rewrite_replaces_the_whole_folder(tmp_path: Path, exchange: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A new plan replaces the old one entirely (no stale sortie files, nothing left beside)."""
    if not exchange:
        monkeypatch.setattr(plan_folder, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    write_plan_folder(out, sample_plan(), _scenario(), summary=SUMMARY)
    out.chmod(0o750)
    write_plan_folder(out, _one_sortie(), _scenario(), summary={"sorties": 1})
    assert sorted(_files(out)) == ["plan.json", "routes.geojson", "sorties/S1.plan",
                                   "sorties/S1.waypoints", "summary.json"]
    assert read_plan_folder(out).plan == _one_sortie()
    assert out.stat().st_mode & 0o777 == 0o750
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_rewrite_keeps_other_files_of_the_folder(tmp_path: Path) -> None:
    """Files that are not part of a plan folder survive a rewrite of the plan into it."""
    out = tmp_path / "out"
    write_plan_folder(out, sample_plan(), _scenario(), summary=SUMMARY)
    (out / "notes.txt").write_text("mine\n")
    write_plan_folder(out, _one_sortie(), _scenario(), summary={"sorties": 1})
    assert (out / "notes.txt").read_text() == "mine\n"
    assert read_plan_folder(out).plan == _one_sortie()
    assert not (out / "sorties" / "S2.plan").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "notes.txt", "plan.json", "routes.geojson", "sorties", "summary.json"]


@pytest.mark.parametrize("writer", ["write_wpl", "write_routes_geojson", "write_plan_json"])
def test_a_failed_rewrite_leaves_the_old_folder_intact(tmp_path: Path, writer: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A write failing part way (disk full) leaves every old file as it was and no leftovers."""
    out = tmp_path / "out"
    write_plan_folder(out, sample_plan(), _scenario(), summary=SUMMARY)
    before = _files(out)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(plan_folder, writer, fail)
    with pytest.raises(OSError, match="disk full"):
        write_plan_folder(out, _one_sortie(), _scenario(), summary={"sorties": 1})
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_reader_during_rewrites_sees_one_whole_plan(tmp_path: Path) -> None:
    """Reading while the folder is rewritten again and again always gives one complete plan,
    and a listing of its sortie files never mixes two plans' files (a listing of the replaced
    folder taken while it is being removed may be short: it is no longer the plan folder)."""
    out = tmp_path / "out"
    plans = (sample_plan(), _one_sortie())
    names: list[set[str]] = []
    for plan in plans:
        write_plan_folder(out, plan, _scenario(), summary=SUMMARY)
        names.append(set(_sortie_files(out)))
    assert len(names[0]) == 4 and len(names[1]) == 2
    seen: list[Plan] = []
    errors: list[Exception] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                folder = read_plan_folder(out)
                seen.append(folder.plan)
                listed = set(_sortie_files(out))
                assert any(listed <= n for n in names), listed
            except Exception as exc:
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(20):
            write_plan_folder(out, plans[n % 2], _scenario(), summary=SUMMARY)
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert seen and all(plan in plans for plan in seen)
    assert set(_sortie_files(out)) == names[1]


def _sortie_files(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "sorties").iterdir())


def test_writing_over_a_file_is_refused(tmp_path: Path) -> None:
    """A plan folder cannot replace a file: the error names the folder it cannot make."""
    target = tmp_path / "out"
    target.write_text("keep\n")
    with pytest.raises(NotADirectoryError) as info:
        write_plan_folder(target, sample_plan(), _scenario(), summary=SUMMARY)
    assert info.value.filename == str(target / "sorties")
    assert target.read_text() == "keep\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_missing_plan_json_is_named(tmp_path: Path) -> None:
    """A folder without plan.json, or a path that does not exist, names the path."""
    with pytest.raises(InputError, match=r"no plan\.json") as info:
        read_plan_folder(tmp_path)
    assert info.value.path == str(tmp_path)
    with pytest.raises(InputError, match=r"no plan\.json in this folder") as info:
        read_plan_source(tmp_path)
    assert info.value.path == str(tmp_path)
    with pytest.raises(InputError, match="no such file or folder") as info:
        read_plan_source(tmp_path / "gone.waypoints")
    assert info.value.path == str(tmp_path / "gone.waypoints")


def test_unknown_file_type_is_named(tmp_path: Path) -> None:
    """A file that is neither plan.json, .plan nor .waypoints is refused with its suffix."""
    path = tmp_path / "mission.txt"
    path.write_text("QGC WPL 110\n")
    with pytest.raises(InputError, match=r"unknown plan file type '\.txt'"):
        read_plan_source(path)
    with pytest.raises(InputError, match=r"unknown mission file type '\.txt'"):
        read_mission_file(path)


@pytest.mark.parametrize(("field", "value"), [("vehicle", None), ("start_s", "soon")])
def test_malformed_plan_json_names_file_and_field(tmp_path: Path, field: str,
                                                  value: object) -> None:
    """A wrong value in plan.json is a PlanFileError naming the file and the JSON path."""
    write_plan_folder(tmp_path / "out", sample_plan(), _scenario(), summary=SUMMARY)
    path = tmp_path / "out" / "plan.json"
    doc = json.loads(path.read_text())
    doc["sorties"][1][field] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanFileError) as info:
        read_plan_source(tmp_path / "out")
    assert (info.value.path, info.value.field) == (str(path), f"sorties[1].{field}")


def test_malformed_mission_file_names_file_and_line(tmp_path: Path) -> None:
    """A bad number in a .waypoints file names the file and its line."""
    write_plan_folder(tmp_path / "out", sample_plan(), _scenario(), summary=SUMMARY)
    path = tmp_path / "out" / "sorties" / "S1.waypoints"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("\t", "\tx", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PlanFileError) as info:
        read_plan_source(path)
    assert (info.value.path, info.value.line) == (str(path), 3)


def test_scenario_with_its_dem_is_loaded_and_checked() -> None:
    """load_scenario_with_dem gives the scenario, its DEM and what loading the DEM did."""
    loaded = load_scenario_with_dem(MINIMAL)
    assert loaded.scenario.name == "minimal"
    assert loaded.dem_report is not None and loaded.dem_report.tiles
    assert loaded.dem.covers(loaded.scenario.depots[0].lon_deg,
                             loaded.scenario.depots[0].lat_deg)


def test_scenario_off_its_dem_is_refused() -> None:
    """A drop moved off the elevation model (by an edit) is refused naming the drop."""
    def off(scenario: Scenario) -> Scenario:
        drop = dataclasses.replace(scenario.drops[0], lat_deg=10.0, lon_deg=10.0)
        return dataclasses.replace(scenario, drops=(drop, *scenario.drops[1:]))

    with pytest.raises(ScenarioError, match="outside the elevation model") as info:
        load_scenario_with_dem(MINIMAL, edit=off)
    assert info.value.item == f"drop '{load_scenario_with_dem(MINIMAL).scenario.drops[0].id}'"
