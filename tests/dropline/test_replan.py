"""``dropline replan``: what a flown plan delivered or has in the air is not planned again,
added drops are, cancelled drops and grounded vehicles are left out, and a re-plan of a re-plan
remembers the first plan's deliveries; every left-out drop is listed with its reason, the plan
verifies against the whole scenario, and each bad input is named."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from dropline.cli import main
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import plan_key
from gcs.fleet.tracking import DropEvent, DropState
from planner.io.planfile import read_plan_json
from tests.helpers.shared_data import REPO, TUTORIAL

ADDED = ("A01,added north,44.0720,-71.1330,0.6,,,0\n"
         "A02,added east,44.0610,-71.1150,0.8,,,0\n")


def _scenario(tmp_path: Path, drones: int = 2, added: str = "") -> Path:
    """The tutorial with ``drones`` octocopters and ``added`` drops rows."""
    folder = tmp_path / "scn"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(TUTORIAL, folder)
    toml = (folder / "scenario.toml").read_text()
    dem = REPO / "missions" / "district" / "terrain" / "N44W072.hgt"
    toml = toml.replace('"../district/terrain/N44W072.hgt"', f'"{dem}"')
    toml = toml.replace("drones = { heavy_octo = 1 }", f"drones = {{ heavy_octo = {drones} }}")
    (folder / "scenario.toml").write_text(toml)
    with (folder / "drops.csv").open("a") as f:
        f.write(added)
    return folder


def _plan(scenario: Path, out: Path) -> Path:
    assert main(["plan", str(scenario), "-o", str(out), "--no-progress",
                 "--time-limit", "3"]) == 0
    return out


def _flown(plan_dir: Path, db: Path) -> tuple[str, str]:
    """A run of the plan: its first sortie completed and delivered, its second in the air
    with its first drop released; (delivered sortie, flying sortie)."""
    plan = read_plan_json(plan_dir / "plan.json")
    done, flying = plan.sorties[0], plan.sorties[1]
    log = FlightLog(db)
    run = log.start_run(plan_key=plan_key(plan), plan_name="t", plan_path=str(plan_dir),
                        resume=False)
    for sortie, state in ((done, "completed"), (flying, "flying")):
        flight = log.open_flight(run.id, sortie_id=sortie.id, vehicle=sortie.vehicle, sysid=1)
        log.set_flight_state(flight, state)
    for drop_id in done.drop_ids:
        log.record_drop_event(run.id, DropEvent(drop_id=drop_id, sortie_id=done.id,
                                                state=DropState.DELIVERED, at_s=0.0))
    log.record_drop_event(run.id, DropEvent(drop_id=flying.drop_ids[0], sortie_id=flying.id,
                                            state=DropState.RELEASED, at_s=0.0))
    log.close()
    return done.id, flying.id


def test_replan_leaves_out_what_is_done_and_plans_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Delivered and in-the-air drops are listed, not flown; two added drops are planned; a
    cancelled drop is left out; a grounded vehicle flies nothing; the result verifies."""
    scenario = _scenario(tmp_path)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    done_id, flying_id = _flown(first, db)
    plan = read_plan_json(first / "plan.json")
    delivered = set(next(s for s in plan.sorties if s.id == done_id).drop_ids)
    in_air = set(next(s for s in plan.sorties if s.id == flying_id).drop_ids)
    rest = [d for s in plan.sorties for d in s.drop_ids if d not in delivered | in_air]
    assert rest, "the test needs a drop left to cancel and one to plan"
    cancel = rest[0]
    _scenario(tmp_path, added=ADDED)  # the operator adds two rows to the drops CSV
    capsys.readouterr()
    code = main(["replan", str(first), "--scenario", str(scenario), "--flights", str(db),
                 "-o", str(tmp_path / "second"), "--cancel", cancel,
                 "--ground", "north_conway/heavy_octo/2", "--no-progress", "--time-limit", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    second = read_plan_json(tmp_path / "second" / "plan.json")
    served = set(second.served_drop_ids)
    assert served == (set(rest) - {cancel}) | {"A01", "A02"}
    reasons = {u.drop_id: u.reason for u in second.unserved}
    assert {d for d, r in reasons.items() if r.startswith("delivered already")} == delivered
    assert {d for d, r in reasons.items() if r.startswith("in the air")} == in_air
    assert reasons[cancel] == "cancelled by the operator"
    assert {s.vehicle for s in second.sorties} == {"north_conway/heavy_octo/1"}
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert set(summary["replan"]["delivered"]) == delivered
    assert summary["replan"]["grounded"] == ["north_conway/heavy_octo/2"]
    assert f"{len(delivered)} delivered, {len(in_air)} in the air, 1 cancelled" in out
    assert main(["verify", str(tmp_path / "second"), "--scenario", str(scenario)]) == 0

    # a re-plan of the re-plan (nothing flown of it yet) still keeps the first deliveries out
    empty = tmp_path / "empty.db"
    FlightLog(empty).close()
    assert main(["replan", str(tmp_path / "second"), "--scenario", str(scenario),
                 "--flights", str(empty), "-o", str(tmp_path / "third"), "--no-progress",
                 "--time-limit", "3"]) == 0
    third = read_plan_json(tmp_path / "third" / "plan.json")
    assert not delivered & set(third.served_drop_ids)
    assert in_air <= set(third.served_drop_ids)  # no run of the re-plan has them in the air
    assert cancel in third.served_drop_ids  # cancelling was for that re-plan only


@pytest.mark.parametrize(("extra", "field", "reason"), [
    (["--cancel", "NOPE"], "--cancel", "'NOPE' is not a drop of the scenario"),
    (["--ground", "north_conway/heavy_octo/3"], "--ground", "is not a vehicle"),
    (["--ground", "elsewhere/heavy_octo/1"], "--ground", "is not a vehicle"),
    (["--time-limit", "-1"], "--time-limit", "time_limit_s"),
])
def test_bad_replan_options_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      extra: list[str], field: str, reason: str) -> None:
    """A wrong cancel, ground or time limit is exit 2 naming the option; nothing is written."""
    scenario = _scenario(tmp_path)
    first = _plan(scenario, tmp_path / "first")
    db = tmp_path / "fly.db"
    _flown(first, db)
    capsys.readouterr()
    code = main(["replan", str(first), "--scenario", str(scenario), "--flights", str(db),
                 "-o", str(tmp_path / "out"), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2 and field in err and reason in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_or_foreign_flight_log(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """No flight log, or a file that is not one, is exit 2 naming --flights."""
    scenario = _scenario(tmp_path)
    first = _plan(scenario, tmp_path / "first")
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE parcels (id TEXT)")
    con.close()
    for db in (tmp_path / "none.db", first / "summary.json", foreign):
        capsys.readouterr()
        code = main(["replan", str(first), "--scenario", str(scenario), "--flights", str(db),
                     "-o", str(tmp_path / "out"), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and "--flights" in err, err
    assert not (tmp_path / "out").exists()
    with sqlite3.connect(foreign) as con:  # the foreign database is left as it was
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()
    assert names == ["parcels"]
