"""``dropline replay`` and ``dropline replay-log``: bad input, log playback, figures from a log,
and a mission flown through a no-fly zone caught by the report."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from gcs.link import Link
from gcs.mavlink import read_tlog
from planner.io.wpl import write_wpl
from tests.helpers.cli import run_main
from tests.helpers.ports import free_udp_port
from tests.helpers.shared_data import REPO, needs
from tests.sitl.helpers import TRACES
from tests.sitl.helpers_traces import GRIPPER_MISSION, as_items

pytestmark = pytest.mark.sitl

REGRESSION = REPO / "missions" / "regression"
PLAN = REGRESSION / "plan"



# -- bad input -------------------------------------------------------------------------------
def test_missing_mission_is_named(tmp_path: Path, capsys: Any) -> None:
    """A mission path that does not exist: exit 2 naming it, no traceback."""
    code, _, err = run_main(["replay", str(tmp_path / "gone.waypoints")], capsys)
    assert code == 2
    assert "gone.waypoints" in err and "no such file" in err and "Traceback" not in err


def test_malformed_waypoints_line_is_named(tmp_path: Path, capsys: Any) -> None:
    """A .waypoints line with a bad number: exit 2 naming file, line and column."""
    lines = (PLAN / "sorties" / "S002.waypoints").read_text().splitlines()
    columns = lines[3].split("\t")
    columns[8] = "north"
    lines[3] = "\t".join(columns)
    bad = tmp_path / "bad.waypoints"
    bad.write_text("\n".join(lines) + "\n")
    code, _, err = run_main(["replay", str(bad), "--scenario", str(REGRESSION)], capsys)
    assert code == 2
    assert f"{bad}:4" in err and "lat" in err and "Traceback" not in err


def test_malformed_plan_file_is_named(tmp_path: Path, capsys: Any) -> None:
    """A QGroundControl .plan without its mission: exit 2 naming file and key."""
    bad = tmp_path / "bad.plan"
    bad.write_text(json.dumps({"fileType": "Plan", "version": 1}))
    code, _, err = run_main(["replay", str(bad)], capsys)
    assert code == 2
    assert "bad.plan" in err and "mission" in err and "Traceback" not in err


def test_unknown_backend_is_refused(capsys: Any) -> None:
    """--backend outside builtin|ardupilot: exit 2 naming the option and the choices."""
    code, _, err = run_main(["replay", str(PLAN), "--backend", "gazebo"], capsys)
    assert code == 2
    assert "--backend" in err and "gazebo" in err and "builtin" in err


@pytest.mark.parametrize(("line", "field"), [("cross_track_max = 3.0", "cross_track_max"),
                                             ('drop_error_m = "small"', "drop_error_m"),
                                             ("energy_ratio_max = -1.0", "energy_ratio_max"),
                                             ('final_states = ["crashed"]', "final_states")])
def test_bad_tolerance_field_is_named(tmp_path: Path, capsys: Any, line: str,
                                      field: str) -> None:
    """A tolerance file with an unknown, mistyped or out-of-range key: file, line, field."""
    tol = tmp_path / "tol.toml"
    tol.write_text(f"# tolerances\n[default]\ncross_track_p95_m = 10.0\n{line}\n")
    code, _, err = run_main(["replay", str(PLAN), "--tolerances", str(tol)], capsys)
    assert code == 2
    assert f"{tol}:4" in err and f"field '{field}'" in err and "Traceback" not in err


def test_ardupilot_backend_without_sitl_is_skipped(monkeypatch: Any, tmp_path: Path,
                                                   capsys: Any) -> None:
    """Without ARDUPILOT_SITL_BIN the ArduPilot backend is skipped with the reason, exit 0."""
    monkeypatch.delenv("ARDUPILOT_SITL_BIN", raising=False)
    code, out, _ = run_main(["replay", str(PLAN / "sorties" / "S002.plan"), "--backend",
                         "ardupilot", "--report", str(tmp_path / "r")], capsys)
    assert code == 0
    assert "replay skipped" in out and "ARDUPILOT_SITL_BIN" in out


@needs(TRACES)
def test_replay_log_bad_input(tmp_path: Path, capsys: Any) -> None:
    """A missing log, a bad --out and a log without a mission for --figures: exit 2, named."""
    code, _, err = run_main(["replay-log", str(tmp_path / "none.tlog")], capsys)
    assert code == 2 and "none.tlog" in err
    code, _, err = run_main(["replay-log", str(TRACES / "fence_rally_upload.tlog"), "--out",
                         "carrier-pigeon:1"], capsys)
    assert code == 2 and "--out" in err
    code, _, err = run_main(["replay-log", str(TRACES / "auto_flight_gripper_drop.tlog"),
                         "--figures"], capsys)
    assert code == 2 and "--mission" in err and "Traceback" not in err


# -- replay-log --------------------------------------------------------------------------------
@needs(TRACES)
def test_replay_log_streams_the_vehicle_in_order_at_the_given_speed(capsys: Any) -> None:
    """A trace played at 2x reaches a udpin link: every heartbeat and position, in order."""
    trace = TRACES / "fence_rally_upload.tlog"
    recorded = [m for _, m in read_tlog(trace) if m.get_srcSystem() == 1
                and m.get_type() in ("HEARTBEAT", "GLOBAL_POSITION_INT")]
    stamps = [t for t, m in read_tlog(trace) if m.get_srcSystem() == 1]
    port = free_udp_port()
    got: list[Any] = []
    done = threading.Event()

    def keep(msg: Any) -> None:
        if msg.get_type() in ("HEARTBEAT", "GLOBAL_POSITION_INT") and msg.get_srcSystem() == 1:
            got.append(msg)

    link = Link(f"udpin:127.0.0.1:{port}", heartbeat_period_s=0).open()
    link.add_listener(keep)
    result: dict[str, Any] = {}

    def play() -> None:
        result["code"] = main(["replay-log", str(trace), "--speed", "2", "--out",
                               f"udp:127.0.0.1:{port}"])
        done.set()

    try:
        thread = threading.Thread(target=play)
        thread.start()
        thread.join(60.0)
    finally:
        link.close()
    out = capsys.readouterr().out
    assert done.is_set() and result["code"] == 0
    positions = [m.time_boot_ms for m in got if m.get_type() == "GLOBAL_POSITION_INT"]
    assert positions == sorted(positions)
    assert len(got) >= 0.98 * len(recorded)  # loopback UDP: nothing or next to nothing lost
    kinds = [m.get_type() for m in got]
    assert kinds.count("HEARTBEAT") >= 5 and kinds.count("GLOBAL_POSITION_INT") >= 20
    played = float(out.rsplit(" in ", 1)[1].split(" s")[0])
    assert played >= (stamps[-1] - stamps[0]) / 2 - 0.1  # never faster than the log / speed


@needs(TRACES)
def test_replay_log_figures_from_a_trace_and_its_mission(tmp_path: Path, capsys: Any) -> None:
    """--figures with the .waypoints flown: items, release, state; tolerances checked."""
    mission = tmp_path / "gripper.waypoints"
    write_wpl(mission, as_items(GRIPPER_MISSION))
    code, out, _ = run_main(["replay-log", str(TRACES / "auto_flight_gripper_drop.tlog"),
                         "--figures", "--mission", str(mission)], capsys)
    assert code == 0
    assert "items_reached: 8" in out and "final_state: completed" in out
    assert "alt_max_amsl_m: 670.08" in out
    tol = tmp_path / "tol.toml"
    tol.write_text("[default]\nagl_min_m = 35.0\n")
    code, _, err = run_main(["replay-log", str(TRACES / "auto_flight_gripper_drop.tlog"),
                         "--figures", "--mission", str(mission), "--tolerances", str(tol)],
                        capsys)
    assert code == 1 and "gripper: agl_min_m" in err


# -- a mission through a no-fly zone -------------------------------------------------------
def _through_the_zone(tmp_path: Path) -> Path:
    """S001 with its detour around the quarry zone replaced by a leg across it."""
    lines = (PLAN / "sorties" / "S001.waypoints").read_text().splitlines()
    out = []
    for line in lines:
        columns = line.split("\t")
        if columns[0] in ("16", "17"):  # the two detour corners outside the zone
            columns[8:11] = ["44.05775000", "-71.66300000", "260.000000"]  # clear of the hill
        out.append("\t".join(columns))
    path = tmp_path / "detour.waypoints"
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.slow
def test_a_mission_into_a_zone_is_caught_by_the_report(tmp_path: Path, capsys: Any) -> None:
    """A .waypoints edited across a zone: exit 1 naming it and "incursion"; reports written."""
    mission = _through_the_zone(tmp_path)
    report = tmp_path / "report"
    code, out, err = run_main(["replay", str(mission), "--scenario", str(REGRESSION), "--speedup",
                           "100", "--report", str(report), "--tolerances",
                           str(REGRESSION / "tolerances.toml")], capsys)
    assert code == 1, out + err
    assert "[1/1] detour: flying" in out
    assert "FAILED detour" in err and "incursion" in err
    assert "incursion into Quarry blasting area" in out
    doc = json.loads((report / "report.json").read_text())
    assert doc["passed"] is False
    [entry] = doc["missions"]
    assert entry["name"] == "detour" and entry["drops"] == ["R01", "R02"]
    assert [i["name"] for i in entry["figures"]["incursions"]] == ["Quarry blasting area"]
    assert entry["figures"]["incursions"][0]["depth_m"] > 100.0
    assert all(v is not None and v < 3.0 for v in entry["figures"]["drop_errors_m"].values())
    assert entry["figures"]["final_state"] == "completed"
    assert Path(entry["tlog"]).is_file()
    junit = ET.parse(report / "junit.xml").getroot()
    assert junit.tag == "testsuites" and int(junit.get("failures", "0")) >= 1
    [suite] = junit.findall("testsuite")
    failures = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    assert failures["incursions"] is not None
    assert "Quarry blasting area" in (failures["incursions"].get("message") or "")
    assert failures["drops"] is None and failures["items_reached"] is None
    page = (report / "report.html").read_text()
    assert "FAIL" in page and "Quarry blasting area" in page
    pngs = sorted(p.name for p in (report / "plots").glob("*.png"))
    assert pngs == ["detour_battery.png", "detour_drops.png", "detour_track.png"]
    assert all(f'src="plots/{name}"' in page for name in pngs)
    assert all((report / "plots" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in pngs)


@needs(TRACES)
def test_the_vehicle_clock_plays_a_log_as_the_vehicle_lived_it() -> None:
    """A 10x trace spans about 22 s of recording but 216 s of the vehicle's own clock."""
    from sitl.replay.logplay import timeline

    trace = TRACES / "auto_flight_gripper_drop.tlog"
    log_span = timeline(trace)[-1][0]
    vehicle = timeline(trace, clock="vehicle")
    assert log_span == pytest.approx(21.6, abs=0.2)
    assert vehicle[-1][0] == pytest.approx(263.814 - 47.564, abs=0.5)
    assert [t for t, _ in vehicle] == sorted(t for t, _ in vehicle)
