"""QGroundControl .plan files: writer layout, round trips, real files, malformed input."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from planner.errors import PlanFileError
from planner.io.qgc import format_qgc_plan, read_qgc_plan, write_qgc_plan
from planner.items import MissionItem
from tests.planner.helpers_items import (
    assert_items_equal,
    sample_fence,
    sample_mission,
    sample_rally,
)

PLANS = Path(__file__).parents[2] / "data" / "plans"


def _write(tmp_path: Path, **kwargs: Any) -> Path:
    path = tmp_path / "out.plan"
    write_qgc_plan(path, cruise_speed_m_s=12.0, hover_speed_m_s=5.0, **kwargs)
    return path


def _raw_items(path: Path) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(path.read_text())
    return list(data["mission"]["items"])


@pytest.mark.parametrize("lists", ["mission", "mission+fence", "mission+fence+rally"])
def test_round_trip_gives_the_same_items(tmp_path: Path, lists: str) -> None:
    """Writing then reading returns equal mission, fence and rally lists."""
    fence = sample_fence() if "fence" in lists else ()
    rally = sample_rally() if "rally" in lists else ()
    path = _write(tmp_path, mission=sample_mission(), fence=fence, rally=rally)
    got = read_qgc_plan(path)
    assert_items_equal(got.mission, sample_mission(), tol=0.0)
    assert_items_equal(got.fence, fence, tol=0.0)
    assert_items_equal(got.rally, rally, tol=0.0)


def test_writer_reproduces_a_qgroundcontrol_file_byte_for_byte() -> None:
    """Our output for the items of a QGroundControl file is that file (bar the firmware type)."""
    source = PLANS / "mavsdk_qgroundcontrol_sample.plan"
    contents = read_qgc_plan(source)
    text = format_qgc_plan(mission=contents.mission, cruise_speed_m_s=15, hover_speed_m_s=5)
    assert text == source.read_text().replace('"firmwareType": 12', '"firmwareType": 3')


def test_top_level_layout_is_what_qgroundcontrol_writes(tmp_path: Path) -> None:
    """File, mission, geofence and rally headers carry QGroundControl's keys and versions."""
    path = _write(tmp_path, mission=sample_mission(), fence=sample_fence(), rally=sample_rally())
    data = json.loads(path.read_text())
    assert list(data) == ["fileType", "geoFence", "groundStation", "mission", "rallyPoints",
                          "version"]
    assert (data["fileType"], data["groundStation"], data["version"]) == (
        "Plan", "QGroundControl", 1)
    mission = data["mission"]
    assert {k: mission[k] for k in ("version", "firmwareType", "vehicleType", "cruiseSpeed",
                                     "hoverSpeed", "globalPlanAltitudeMode")} == {
        "version": 2, "firmwareType": 3, "vehicleType": 2, "cruiseSpeed": 12,
        "hoverSpeed": 5, "globalPlanAltitudeMode": 0}
    assert mission["plannedHomePosition"] == [44.2706, -71.3033, 612.5]
    assert len(mission["items"]) == len(sample_mission()) - 1
    assert [item["doJumpId"] for item in mission["items"]] == list(
        range(1, len(sample_mission())))
    assert data["rallyPoints"] == {"version": 2, "points": [[44.2711, -71.302, 30],
                                                             [44.289, -71.279, 30]]}


def test_geofence_groups_vertices_into_polygons_and_circles(tmp_path: Path) -> None:
    """Fence vertices become one polygon per run, circles keep centre and radius."""
    path = _write(tmp_path, mission=sample_mission()[:1], fence=sample_fence())
    fence = json.loads(path.read_text())["geoFence"]
    assert fence["version"] == 2
    assert [(p["inclusion"], len(p["polygon"]), p["version"]) for p in fence["polygons"]] == [
        (True, 4, 1), (False, 3, 1)]
    assert fence["polygons"][1]["polygon"][0] == [44.281, -71.3]
    assert fence["circles"] == [{"circle": {"center": [44.29, -71.285], "radius": 150},
                                 "inclusion": False, "version": 1}]


@pytest.mark.parametrize(("frame", "mode"), [(3, 1), (6, 1), (0, 2), (5, 2), (10, 4), (11, 4)])
def test_altitude_keys_follow_the_item_frame(tmp_path: Path, frame: int, mode: int) -> None:
    """Position items carry Altitude/AltitudeMode as QGroundControl maps the frame."""
    mission = (sample_mission()[0],
               MissionItem(command=16, frame=frame, lat_deg=44.28, lon_deg=-71.29, alt_m=42.5))
    item = _raw_items(_write(tmp_path, mission=mission))[0]
    assert item["AltitudeMode"] == mode
    assert item["Altitude"] == 42.5
    assert item["AMSLAltAboveTerrain"] is None
    assert item["params"] == [0, 0, 0, 0, 44.28, -71.29, 42.5]


def test_items_without_a_position_have_no_altitude_keys_and_nan_is_null(tmp_path: Path) -> None:
    """DO_GRIPPER, NAV_DELAY and RTL carry no altitude keys; a NaN param is written null."""
    items = _raw_items(_write(tmp_path, mission=sample_mission()))
    by_command = {item["command"]: item for item in items}
    for command in (211, 93, 20, 42600):
        assert "AltitudeMode" not in by_command[command]
        assert by_command[command]["type"] == "SimpleItem"
    assert items[0]["params"][3] is None


REAL_FILES = [
    ("upci_asv_mission.plan", [16, 16, 16, 16], (-6.972711483823127, 107.63036859, 663.0)),
    ("mavsdk_qgroundcontrol_sample.plan", [22, 16, 2000, 16, 16, 20],
     (47.3977507, 8.5456075, 488.93101752001763)),
    ("qgc_ce_geofence_home_base.plan", [], (38.75084010396389, -77.49721463637287, 30.0)),
]


@pytest.mark.parametrize(("name", "commands", "home"), REAL_FILES)
def test_real_files_load_with_the_values_their_json_holds(
        name: str, commands: list[int], home: tuple[float, float, float]) -> None:
    """Real QGroundControl files give the commands, frames and params their JSON says."""
    path = PLANS / name
    contents = read_qgc_plan(path)
    assert [i.command for i in contents.mission[1:]] == commands
    assert (contents.mission[0].lat_deg, contents.mission[0].lon_deg,
            contents.mission[0].alt_m) == home
    for item, raw in zip(contents.mission[1:], _raw_items(path), strict=True):
        assert (item.command, item.frame, item.autocontinue) == (
            raw["command"], raw["frame"], raw["autoContinue"])
        for got, want in zip((*item.params, item.lat_deg, item.lon_deg, item.alt_m),
                             raw["params"], strict=True):
            assert math.isnan(got) if want is None else got == want


@pytest.mark.parametrize("name", [name for name, _, _ in REAL_FILES] + ["qgc_SectionTest.plan"])
def test_real_files_survive_our_writer(tmp_path: Path, name: str) -> None:
    """Items read from a real file, written by us and read again, are unchanged."""
    first = read_qgc_plan(PLANS / name)
    path = _write(tmp_path, mission=first.mission, fence=first.fence, rally=first.rally)
    again = read_qgc_plan(path)
    for got, want in ((again.mission, first.mission), (again.fence, first.fence),
                      (again.rally, first.rally)):
        assert_items_equal(got, want, tol=0.0)


def test_real_geofence_file_gives_fence_items() -> None:
    """A QGroundControl geofence becomes vertex items with param1 = vertex count."""
    contents = read_qgc_plan(PLANS / "qgc_ce_geofence_home_base.plan")
    assert [i.command for i in contents.fence] == [5001] * 4 + [5002] * 4
    assert {i.param1 for i in contents.fence} == {4.0}
    assert {(i.mission_type, i.frame) for i in contents.fence} == {(1, 0)}
    assert (contents.fence[4].lat_deg, contents.fence[4].lon_deg) == (38.750552, -77.4971324)
    assert contents.rally == ()  # rallyPoints version 1, ignored as QGroundControl does


def test_old_item_layout_with_coordinate_is_converted() -> None:
    """QGroundControl's own test file with 'coordinate' and 4 params loads."""
    contents = read_qgc_plan(PLANS / "qgc_SectionTest.plan")
    assert [i.command for i in contents.mission] == [16, 22, 16, 16, 205, 16]
    assert (contents.mission[1].lat_deg, contents.mission[1].lon_deg,
            contents.mission[1].alt_m) == (47.63311996, -122.090763, 20.0)
    assert contents.mission[4].alt_m == 2.0
    assert math.isnan(contents.mission[1].param4)
    assert contents.fence == ()  # geoFence version 1, ignored as QGroundControl does


def test_complex_item_names_the_item_and_its_type() -> None:
    """A survey ComplexItem is refused with its JSON path and complexItemType."""
    path = PLANS / "mavsdk_survey_complex_item.plan"
    with pytest.raises(PlanFileError) as info:
        read_qgc_plan(path)
    assert info.value.field == "mission.items[1]"
    assert info.value.path == str(path)
    assert "ComplexItem" in str(info.value)
    assert "'survey'" in str(info.value)


def test_null_position_of_a_simple_item_reads_as_zero(tmp_path: Path) -> None:
    """QGroundControl's null lat/lon/alt (no position) read as 0.0, null param3/4 as NaN."""
    data = json.loads((PLANS / "mavsdk_survey_complex_item.plan").read_text())
    del data["mission"]["items"][1]
    path = tmp_path / "simple_only.plan"
    path.write_text(json.dumps(data))
    item = read_qgc_plan(path).mission[1]
    assert (item.command, item.lat_deg, item.lon_deg, item.alt_m) == (530, 0.0, 0.0, 0.0)
    assert (item.param1, item.param2) == (0.0, 2.0)
    assert math.isnan(item.param3) and math.isnan(item.param4)


def _valid() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(format_qgc_plan(
        mission=sample_mission(), fence=sample_fence(), rally=sample_rally(),
        cruise_speed_m_s=10, hover_speed_m_s=5))
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split("/")
    for key in parents:
        data = data[int(key)] if isinstance(data, list) else data[key]
    if value is _DELETE:
        del data[last]
    elif isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


class _Deleted:
    """The key is removed (the id of its parametrized cases reads ``<deleted>``)."""

    def __repr__(self) -> str:
        return "<deleted>"


_DELETE = _Deleted()

MALFORMED = [
    ("fileType", "Mission", "fileType", "expected 'Plan'"),
    ("version", 2, "version", "expected version 1"),
    ("mission", _DELETE, "mission", "missing key"),
    ("mission/version", 1, "mission.version", "expected version 2"),
    ("mission/plannedHomePosition", [44.0, -71.0], "mission.plannedHomePosition",
     "expected an array of 3 values, got 2"),
    ("mission/plannedHomePosition/0", "44.2", "mission.plannedHomePosition[0]",
     "expected a number, got a string"),
    ("mission/items", {}, "mission.items", "expected an array, got an object"),
    ("mission/items/0", 7, "mission.items[0]", "expected an object, got a number"),
    ("mission/items/0/params", [0, 0, 0, 0, 0, 40], "mission.items[0].params",
     "expected an array of 7 numbers or nulls, got 6 values"),
    ("mission/items/1/params/2", "north", "mission.items[1].params[2]",
     "expected a number or null, got a string"),
    ("mission/items/1/params/4", 95.0, "mission.items[1].params", "lat_deg in [-90, 90]"),
    ("mission/items/0/command", _DELETE, "mission.items[0].command", "missing key"),
    ("mission/items/0/command", 22.5, "mission.items[0].command", "expected an integer"),
    ("mission/items/0/autoContinue", "yes", "mission.items[0].autoContinue",
     "expected true or false"),
    ("mission/items/0/type", "WaypointItem", "mission.items[0].type",
     "expected 'SimpleItem' or 'ComplexItem'"),
    ("geoFence/version", 3, "geoFence.version", "expected version 2"),
    ("geoFence/polygons/1/polygon", [[44.0, -71.0], [44.1, -71.0]],
     "geoFence.polygons[1].polygon", "expected at least 3 vertices, got 2"),
    ("geoFence/polygons/0/inclusion", 1, "geoFence.polygons[0].inclusion",
     "expected true or false"),
    ("geoFence/circles/0/circle/radius", -5, "geoFence.circles[0].circle.radius",
     "expected a radius > 0 m"),
    ("geoFence/circles/0/circle/center", [44.0], "geoFence.circles[0].circle.center",
     "expected [lat, lon]"),
    ("rallyPoints/points/0", [44.0, -71.0], "rallyPoints.points[0]",
     "expected an array of 3 values, got 2"),
    ("rallyPoints/points", _DELETE, "rallyPoints.points", "missing key"),
]


@pytest.mark.parametrize(("key", "value", "field", "reason"), MALFORMED,
                         ids=[f"{c[0]}={c[1]!r}" for c in MALFORMED])
def test_malformed_plan_names_file_json_path_and_reason(
        tmp_path: Path, key: str, value: Any, field: str, reason: str) -> None:
    """Each malformed document raises PlanFileError naming the file, the JSON path and why."""
    data = copy.deepcopy(_valid())
    _set(data, key, value)
    path = tmp_path / "bad.plan"
    path.write_text(json.dumps(data, indent=4))
    with pytest.raises(PlanFileError) as info:
        read_qgc_plan(path)
    assert info.value.field == field
    assert info.value.path == str(path)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}, field '{field}': ")


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('{\n  "fileType": "Plan",\n  "version": 1,,\n}', 3, "not valid JSON"),
    ('{"fileType": "Plan", "version": NaN}', None, "NaN is not valid JSON"),
    ("[1, 2]", None, "expected an object, got an array"),
])
def test_unparsable_plan_names_the_line(tmp_path: Path, text: str, line: int | None,
                                        reason: str) -> None:
    """Syntax errors give the line number; a non-object document is refused."""
    path = tmp_path / "broken.plan"
    path.write_text(text)
    with pytest.raises(PlanFileError) as info:
        read_qgc_plan(path)
    assert info.value.line == line
    assert reason in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("mission", "fence", "message"), [
    ((), (), "home item"),
    (sample_mission()[1:], (), "home item"),
    (sample_mission()[:1], sample_fence()[:3], "4 vertices"),
    (sample_mission()[:1], (sample_mission()[2],), "polygon vertex"),
])
def test_writer_refuses_items_a_plan_cannot_hold(
        tmp_path: Path, mission: tuple[MissionItem, ...], fence: tuple[MissionItem, ...],
        message: str) -> None:
    """A mission without home or a broken fence polygon is refused before anything is written."""
    path = tmp_path / "never.plan"
    with pytest.raises(ValueError, match=message):
        write_qgc_plan(path, mission=mission, fence=fence, cruise_speed_m_s=10,
                       hover_speed_m_s=5)
    assert not path.exists()
