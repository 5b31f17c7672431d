"""Mission Planner .waypoints files: format, round trips, real files, malformed lines."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.errors import PlanFileError
from planner.io.wpl import COLUMNS, format_wpl, read_wpl, write_wpl
from tests.planner.helpers_items import assert_items_equal, sample_mission

PLANS = Path(__file__).parents[2] / "data" / "plans"
GOOD_LINE = "1\t0\t3\t16\t0\t0\t0\t0\t44.28\t-71.29\t60\t1"


def test_round_trip_gives_the_same_items(tmp_path: Path) -> None:
    """Writing then reading returns the items within the file's 8/6 decimals."""
    path = tmp_path / "sortie.waypoints"
    write_wpl(path, sample_mission())
    assert_items_equal(read_wpl(path), sample_mission(), tol=1e-8, alt_tol_m=1e-6)


def test_lines_are_formatted_as_mission_planner_writes_them() -> None:
    """Header, 12 tab columns, current=1 on home only, 8-decimal params and lat/lon, NaN kept."""
    lines = format_wpl(sample_mission()).splitlines()
    assert lines[0] == "QGC WPL 110"
    assert len(lines) == len(sample_mission()) + 1
    rows = [line.split("\t") for line in lines[1:]]
    assert {len(row) for row in rows} == {12}
    assert [row[1] for row in rows] == ["1"] + ["0"] * (len(rows) - 1)
    assert [int(row[0]) for row in rows] == list(range(len(rows)))
    assert rows[2] == ["2", "0", "3", "16", "0.00000000", "0.00000000", "0.00000000",
                       "0.00000000", "44.28013579", "-71.29052468", "60.000000", "1"]
    assert rows[1][7] == "NaN"
    assert rows[9][11] == "0"  # autocontinue false


def test_nan_param_reads_back_as_nan(tmp_path: Path) -> None:
    """A NaN param4 (takeoff yaw) survives the round trip as NaN."""
    path = tmp_path / "nan.waypoints"
    write_wpl(path, sample_mission()[:2])
    assert math.isnan(read_wpl(path)[1].param4)


REAL_FILES = [
    ("ardupilot_copter_gripper_mission.waypoints", [16, 22, 211, 211, 21],
     (-35.363262, 149.165237, 584.080017)),
    ("qgc_MissionPlanner.waypoints", [16, 16, 16, 16, 16, 16], (47.660459, -122.103167, 5.21)),
    ("mavsdk_mission_planner_sample.waypoints", [22, 16, 16, 20], (47.3978101, 8.545538, 15.0)),
]


@pytest.mark.parametrize(("name", "commands", "first"), REAL_FILES)
def test_real_files_load_with_the_values_their_lines_hold(
        name: str, commands: list[int], first: tuple[float, float, float]) -> None:
    """Files from ArduPilot, QGroundControl and MAVSDK give the numbers each line holds."""
    path = PLANS / name
    items = read_wpl(path)
    assert [i.command for i in items] == commands
    assert (items[0].lat_deg, items[0].lon_deg, items[0].alt_m) == first
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    for item, row in zip(items, rows, strict=True):
        assert (item.frame, item.command, item.autocontinue) == (
            int(row[2]), int(row[3]), row[11] == "1")
        assert (*item.params, item.lat_deg, item.lon_deg, item.alt_m) == tuple(
            float(v) for v in row[4:11])


def test_gripper_release_params_are_read() -> None:
    """ArduPilot's gripper mission: DO_GRIPPER grab then release, NAV_LAND param4 = 1."""
    items = read_wpl(PLANS / "ardupilot_copter_gripper_mission.waypoints")
    assert [(i.param1, i.param2) for i in items[2:4]] == [(0.0, 1.0), (0.0, 0.0)]
    assert items[4].param4 == 1.0


@pytest.mark.parametrize("name", [name for name, _, _ in REAL_FILES])
def test_real_files_survive_our_writer(tmp_path: Path, name: str) -> None:
    """Items read from a real file, written by us and read again, are unchanged."""
    first = read_wpl(PLANS / name)
    path = tmp_path / name
    write_wpl(path, first)
    assert_items_equal(read_wpl(path), first, tol=0.0)


def test_reader_accepts_crlf_spaces_blank_lines_and_header_suffix(tmp_path: Path) -> None:
    """CRLF ends, space-separated columns, blank lines and 'QGC WPL 110 REL' are accepted."""
    path = tmp_path / "loose.waypoints"
    path.write_bytes(b"QGC WPL 110 REL\r\n0 1 0 16 0 0 0 0 44.27 -71.30 612.5 1\r\n\r\n"
                     + GOOD_LINE.encode() + b"\r\n")
    items = read_wpl(path)
    assert [(i.command, i.frame, i.lat_deg, i.alt_m) for i in items] == [
        (16, 0, 44.27, 612.5), (16, 3, 44.28, 60.0)]


def _replace(column: str, value: str) -> str:
    row = GOOD_LINE.split("\t")
    row[COLUMNS.index(column)] = value
    return "\t".join(row)


MALFORMED = [
    ("QGC WPL 100\n", 1, "header", "expected the first line to be 'QGC WPL 110'"),
    ("", 1, "header", "got 'an empty file'"),
    ("{\n", 1, "header", "expected the first line"),
    ("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t44.2\t-71.3\t600\n", 2, "autocontinue",
     "expected 12 tab-separated columns"),
    (f"QGC WPL 110\n{GOOD_LINE}\t7\n", 2, "autocontinue", "got 13"),
    (f"QGC WPL 110\n{GOOD_LINE.replace('1', '0', 1)}\n{_replace('lat', '44,28')}\n", 3, "lat",
     "expected a number, got '44,28'"),
    (f"QGC WPL 110\n{_replace('seq', '0').replace('44.28', '91.5')}\n", 2, "lat",
     "latitude out of range"),
    (f"QGC WPL 110\n{_replace('seq', '0').replace('-71.29', '-181')}\n", 2, "lon",
     "longitude out of range"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('seq', '5')}\n", 3, "seq",
     "expected seq 1"),
    (f"QGC WPL 110\n{_replace('seq', '0').replace('0', '2', 1)}\n", 2, "seq", "expected seq 0"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('current', '2')}\n", 3, "current",
     "expected one of (0, 1)"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('frame', '3.5')}\n", 3, "frame",
     "expected a whole number"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('command', '-16')}\n", 3, "command",
     "expected a whole number >= 0"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('param2', 'x')}\n", 3, "param2",
     "expected a number, got 'x'"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('alt', 'nan')}\n", 3, "alt",
     "expected a finite number"),
    (f"QGC WPL 110\n{_replace('seq', '0')}\n{_replace('autocontinue', '5')}\n", 3,
     "autocontinue", "expected one of (0, 1)"),
]


@pytest.mark.parametrize(("text", "line", "field", "reason"), MALFORMED,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(MALFORMED)])
def test_malformed_line_names_file_line_column_and_reason(
        tmp_path: Path, text: str, line: int, field: str, reason: str) -> None:
    """Each malformed line raises PlanFileError naming the file, the line, the column and why."""
    path = tmp_path / "bad.waypoints"
    path.write_text(text)
    with pytest.raises(PlanFileError) as info:
        read_wpl(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}:{line}, field '{field}': ")


def test_missing_file_is_a_plan_file_error(tmp_path: Path) -> None:
    """A file that cannot be read raises PlanFileError naming it."""
    path = tmp_path / "absent.waypoints"
    with pytest.raises(PlanFileError, match="cannot read the file") as info:
        read_wpl(path)
    assert info.value.path == str(path)

