"""``dropline replan`` from the fleet's state: a landed vehicle starts on the battery its flight's
``.tlog`` last read (a swap first when that does not cover its first sortie), a vehicle in the
air when its sortie is over plus a turnaround, ``--battery`` overrides the reading, ``--wind``
plans under a new wind; each is recorded in ``summary.json`` and bad values name their option."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import pytest

from dropline.cli import main
from gcs import mavlink as mav
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import plan_key
from gcs.tlog.writer import TlogWriter
from planner.io.planfile import read_plan_json
from tests.dropline.test_replan import _plan, _scenario

TURN_S = 300.0  # the tutorial octocopter's turnaround
SINCE_TAKEOFF_S = 100.0


def _tlog(path: Path, battery_pct: int) -> None:
    """A short ``.tlog`` of vehicle 1 standing at the tutorial hub with ``battery_pct`` left."""
    codec = mav.codec(1, 1)
    writer = TlogWriter(path)
    for k in range(3):
        for msg in (codec.sys_status_encode(0, 0, 0, 500, 22000, 1000, battery_pct,
                                            0, 0, 0, 0, 0, 0),
                    codec.global_position_int_encode(1000 * (k + 1), 440618130, -711368540,
                                                     160000, 0, 0, 0, 0, 0)):
            msg.pack(codec)
            writer.write(msg)
    writer.close()


def _flown(plan_dir: Path, db: Path, battery_pct: int) -> tuple[str, str, float]:
    """A run of the plan: sortie 1 completed by its vehicle, whose log last read
    ``battery_pct``; the other vehicle's first sortie in the air for SINCE_TAKEOFF_S.
    Returns (landed vehicle, flying vehicle, the flying sortie's planned duration)."""
    plan = read_plan_json(plan_dir / "plan.json")
    done = plan.sorties[0]
    flying = next(s for s in plan.sorties if s.vehicle != done.vehicle)
    log = FlightLog(db, clock=lambda: time.time() - SINCE_TAKEOFF_S)
    run = log.start_run(plan_key=plan_key(plan), plan_name="t", plan_path=str(plan_dir),
                        resume=False)
    for sortie, state in ((done, "completed"), (flying, "flying")):
        flight = log.open_flight(run.id, sortie_id=sortie.id, vehicle=sortie.vehicle, sysid=1)
        log.set_flight_state(flight, state)
        if sortie is done:
            path = log.flight_tlog_path(flight)
            assert path is not None
            _tlog(path, battery_pct)
    log.close()
    return done.vehicle, flying.vehicle, flying.metrics.duration_s


def _replan(scenario: Path, first: Path, db: Path, out: Path, *extra: str) -> int:
    return main(["replan", str(first), "--scenario", str(scenario), "--flights", str(db),
                 "-o", str(out), "--no-progress", "--time-limit", "3", *extra])


def _first_takeoffs(out: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    for s in read_plan_json(out / "plan.json").sorties:
        found[s.vehicle] = min(found.get(s.vehicle, s.start_s), s.start_s)
    return found


def test_replan_starts_from_the_measured_battery_and_the_vehicle_in_the_air(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The landed vehicle read 21 % (its reserve is 20 %): it swaps first and takes off a
    turnaround from now; with ``--battery`` at 95 % it takes off now. The flying vehicle is
    ready when its sortie is over plus a turnaround. The plan records the starts, the summary
    lists them with their source, and the plan verifies."""
    scenario = _scenario(tmp_path, drones=2)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    landed, flying, duration_s = _flown(first, db, battery_pct=21)
    capsys.readouterr()
    assert _replan(scenario, first, db, tmp_path / "low") == 0
    out = capsys.readouterr().out
    assert f"{landed}: ready at 0 s with 21 % battery (measured)" in out
    firsts = _first_takeoffs(tmp_path / "low")
    assert firsts[landed] == TURN_S
    ready = duration_s - SINCE_TAKEOFF_S + TURN_S
    if flying in firsts:
        assert firsts[flying] >= ready - 5.0
    summary = json.loads((tmp_path / "low" / "summary.json").read_text())
    rows = {r["was"]: r for r in summary["replan"]["vehicle_starts"]}
    assert rows[landed] == {"vehicle": landed, "was": landed, "ready_s": 0.0,
                            "battery_pct": 21.0, "source": "measured"}
    assert rows[flying]["source"] == "in the air" and rows[flying]["battery_pct"] is None
    assert rows[flying]["ready_s"] == pytest.approx(ready, abs=5.0)
    swaps = {r["vehicle"]: r["swap_first"] for r in summary["vehicle_starts"]}
    assert swaps[landed] is True
    recorded = {s.vehicle: s for s in read_plan_json(tmp_path / "low" / "plan.json")
                .vehicle_starts}
    assert recorded[landed].battery_pct == 21.0 and recorded[landed].ready_s == 0.0
    assert main(["verify", str(tmp_path / "low"), "--scenario", str(scenario)]) == 0

    assert _replan(scenario, first, db, tmp_path / "full", "--battery", f"{landed}=95") == 0
    assert _first_takeoffs(tmp_path / "full")[landed] == 0.0
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    rows = {r["was"]: r for r in summary["replan"]["vehicle_starts"]}
    assert rows[landed]["source"] == "override" and rows[landed]["battery_pct"] == 95.0


def _airborne_tlog(path: Path, *, vehicle_s: float, wall_s: float) -> None:
    """A ``.tlog`` of vehicle 1 armed in AUTO for ``vehicle_s`` of its own clock over the last
    ``wall_s`` wall seconds (a simulator at a speed-up), ending now."""
    codec = mav.codec(1, 1)
    now = time.time()
    for k in range(11):
        writer = TlogWriter(path, clock=functools.partial(float, now - wall_s + wall_s * k / 10))
        boot_ms = int(1000 + vehicle_s * 1000 * k / 10)
        for msg in (codec.heartbeat_encode(2, 3, 128 | 1, 3, 4),
                    codec.global_position_int_encode(boot_ms, 440618130, -711368540,
                                                     200000, 40000, 0, 0, 0, 0)):
            msg.pack(codec)
            writer.write(msg)
        writer.close()


def test_a_vehicle_in_the_air_is_timed_on_its_own_clock(tmp_path: Path) -> None:
    """The flying vehicle's log shows 500 s flown on its clock in the last 50 s of wall time
    (10x): it is ready when the rest of its sortie after those 500 s, plus a turnaround, is
    over, not after the 100 s of wall time since its take-off."""
    scenario = _scenario(tmp_path, drones=2)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    _landed, flying, duration_s = _flown(first, db, battery_pct=80)
    log = FlightLog(db)
    record = next(f for f in log.flights() if f.vehicle == flying)
    path = log.flight_tlog_path(record.id)
    log.close()
    assert path is not None and duration_s > 600.0
    _airborne_tlog(path, vehicle_s=500.0, wall_s=50.0)
    assert _replan(scenario, first, db, tmp_path / "out") == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    rows = {r["was"]: r for r in summary["replan"]["vehicle_starts"]}
    assert rows[flying]["source"] == "in the air"
    assert rows[flying]["ready_s"] == pytest.approx(duration_s - 500.0 + TURN_S, abs=5.0)


def test_grounding_renumbers_the_starts(tmp_path: Path) -> None:
    """Vehicle 1 grounded: vehicle 2 flies as vehicle 1 of the re-plan with its own start."""
    scenario = _scenario(tmp_path, drones=2)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    FlightLog(db).close()
    assert _replan(scenario, first, db, tmp_path / "out", "--ground",
                   "north_conway/heavy_octo/1", "--battery", "north_conway/heavy_octo/2=21",
                   "--battery", "north_conway/heavy_octo/1=90") == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["replan"]["vehicle_starts"] == [
        {"vehicle": "north_conway/heavy_octo/1", "was": "north_conway/heavy_octo/2",
         "ready_s": 0.0, "battery_pct": 21.0, "source": "override"}]
    assert _first_takeoffs(tmp_path / "out") == {"north_conway/heavy_octo/1": TURN_S}


def test_replan_under_a_new_wind(tmp_path: Path) -> None:
    """``--wind 9@270`` plans and verifies under 9 m/s from the west, recorded in the summary;
    the sorties take more energy than in calm air."""
    scenario = _scenario(tmp_path)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    FlightLog(db).close()
    assert _replan(scenario, first, db, tmp_path / "calm") == 0
    assert _replan(scenario, first, db, tmp_path / "windy", "--wind", "9@270") == 0
    summary = json.loads((tmp_path / "windy" / "summary.json").read_text())
    assert summary["replan"]["wind"] == {"speed_m_s": 9.0, "from_deg": 270.0}
    assert "wind" not in json.loads((tmp_path / "calm" / "summary.json").read_text())["replan"]
    calm = json.loads((tmp_path / "calm" / "summary.json").read_text())
    assert summary["energy_wh"] > calm["energy_wh"]


@pytest.mark.parametrize(("extra", "field", "reason"), [
    (["--battery", "north_conway/heavy_octo/3=50"], "--battery", "is not a vehicle"),
    (["--battery", "elsewhere/heavy_octo/1=50"], "--battery", "is not a vehicle"),
    (["--battery", "north_conway/heavy_octo/1=150"], "--battery", "expected VEHICLE=PCT"),
    (["--battery", "north_conway/heavy_octo/1=half"], "--battery", "expected VEHICLE=PCT"),
    (["--battery", "north_conway/heavy_octo/1"], "--battery", "expected VEHICLE=PCT"),
    (["--wind", "9"], "--wind", "SPEED_M_S@FROM_DEG"),
    (["--wind", "70@90"], "--wind", "speed_m_s from 0 to 60"),
    (["--wind", "5@400"], "--wind", "from_deg from 0 to 360"),
    (["--wind", "nan@90"], "--wind", "speed_m_s"),
])
def test_bad_battery_and_wind_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        extra: list[str], field: str, reason: str) -> None:
    """A wrong vehicle, percentage or wind is exit 2 naming the option; nothing is written."""
    scenario = _scenario(tmp_path, drones=2)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    FlightLog(db).close()
    capsys.readouterr()
    code = main(["replan", str(first), "--scenario", str(scenario), "--flights", str(db),
                 "-o", str(tmp_path / "out"), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2 and field in err and reason in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
