"""The canonical plan key (stable across plan.json write and read) and the drops a plan's runs
delivered, which are never flown again unless re-sent."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager, plan_key
from gcs.fleet.tracking import DropEvent, DropState
from gcs.link import Link
from planner.io.planfile import read_plan_json, write_plan_json
from tests.gcs import helpers
from tests.gcs.helpers import SPEEDUP, tutorial_case

fleet_sim = helpers.fleet_sim


def test_plan_key_is_the_same_for_a_plan_read_back(tmp_path: Path) -> None:
    """A plan in memory (enum commands) and its plan.json read back (ints) share one key; a
    changed mission item changes it."""
    plan = tutorial_case(3).plan
    write_plan_json(tmp_path / "plan.json", plan)
    again = read_plan_json(tmp_path / "plan.json")
    assert plan_key(again) == plan_key(plan)
    sortie = plan.sorties[0]
    moved = dataclasses.replace(sortie.mission[1], alt_m=sortie.mission[1].alt_m + 1.0)
    other = dataclasses.replace(sortie, mission=(sortie.mission[0], moved, *sortie.mission[2:]))
    changed = dataclasses.replace(plan, sorties=(other, *plan.sorties[1:]))
    assert plan_key(changed) != plan_key(plan)


def _event(drop_id: str, state: DropState) -> DropEvent:
    return DropEvent(drop_id=drop_id, sortie_id="S1", state=state, at_s=0.0)


def test_delivered_drops_of_every_run_of_a_plan(database_url: str, tmp_path: Path) -> None:
    """A drop whose last state in some run of the plan is delivered counts, with that run;
    other plans' runs and drops that failed do not (on SQLite and on PostgreSQL)."""
    log = FlightLog(database_url, tlog_dir=tmp_path / "tlogs")
    first = log.start_run(plan_key="k", plan_name="p")
    for drop_id, state in (("A", DropState.EN_ROUTE), ("A", DropState.DELIVERED),
                           ("B", DropState.EN_ROUTE), ("B", DropState.FAILED)):
        log.record_drop_event(first.id, _event(drop_id, state))
    log.end_run(first.id, "not every drop delivered")
    second = log.start_run(plan_key="k", plan_name="p")
    log.record_drop_event(second.id, _event("B", DropState.DELIVERED))
    other = log.start_run(plan_key="other", plan_name="p")
    log.record_drop_event(other.id, _event("C", DropState.DELIVERED))
    assert log.delivered_drops("k") == {"A": first.id, "B": second.id}
    unfinished = log.unfinished_run()
    assert unfinished is not None and unfinished.id == other.id
    log.close()


@pytest.mark.sitl
def test_fly_never_flies_a_delivered_parcel_again(fleet_sim: Any, tmp_path: Path,
                                                  capsys: Any) -> None:
    """``dropline fly`` on a plan whose parcels an earlier run delivered: the sortie delivered
    in full is skipped, the one with a delivered parcel too (its other drops fail naming it),
    nothing takes off; ``resend_delivered`` opens a new run that skips nothing."""
    case = tutorial_case(3)
    full, partial = case.plan.sorties[0], case.plan.sorties[1]
    partial = dataclasses.replace(partial, vehicle=full.vehicle)
    plan = dataclasses.replace(case.plan, sorties=(full, partial))
    folder = tmp_path / "plan"
    folder.mkdir()
    write_plan_json(folder / "plan.json", plan)
    db = tmp_path / "fly.db"
    log = FlightLog(db)
    earlier = log.start_run(plan_key=plan_key(read_plan_json(folder / "plan.json")),
                            plan_name=plan.scenario)
    for drop_id in (*full.drop_ids, partial.drop_ids[0]):
        log.record_drop_event(earlier.id, _event(drop_id, DropState.DELIVERED))
    log.end_run(earlier.id, "not every drop delivered")
    log.close()
    fleet = fleet_sim(case, 1)
    connect = [a for u in fleet.connection_strings for a in ("--connect", u)]
    code = main(["fly", str(folder), *connect, "--db", str(db), "--speedup", str(SPEEDUP),
                 "--timeout", "60", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"sortie {full.id} not flown: every drop delivered already" in out
    assert f"sortie {partial.id} not flown: {partial.drop_ids[0]} delivered already" in out
    assert fleet.vehicle(0).snapshot().gripper_released_count == 0
    assert not fleet.vehicle(0).snapshot().armed
    log = FlightLog(db)
    assert log.flights() == []  # nothing prepared, nothing flown
    states = log.drop_states(earlier.id + 1)
    assert {d: states[d][0] for d in plan.served_drop_ids} == {
        **{d: "delivered" for d in (*full.drop_ids, partial.drop_ids[0])},
        **{d: "failed" for d in partial.drop_ids[1:]}}
    assert partial.drop_ids[0] in (states[partial.drop_ids[1]][1] or "")
    links = [Link(u).open() for u in fleet.connection_strings]
    manager = FleetManager(links, read_plan_json(folder / "plan.json"), flight_log=log,
                           resend_delivered=True)
    try:
        manager.connect(10.0)
        assert manager.run is not None and not manager.run.resumed
        assert manager.skipped == {} and manager.will_fly(full.id)
        assert all(d.state == DropState.QUEUED for d in manager.drops())
    finally:
        manager.stop()
        for link in links:
            link.close()
        log.close()


@pytest.mark.sitl
def test_a_parcel_an_earlier_version_delivered_is_not_flown(fleet_sim: Any,
                                                             tmp_path: Path) -> None:
    """Drops delivered outside the plan's own runs (by an earlier version of the plan) are
    treated like its own deliveries: the sortie is skipped naming where, the drop reads
    delivered, nothing takes off."""
    case = tutorial_case(3)
    sortie = case.plan.sorties[0]
    plan = dataclasses.replace(case.plan, sorties=(sortie,))
    fleet = fleet_sim(case, 1)
    log = FlightLog(tmp_path / "fly.db")
    links = [Link(u).open() for u in fleet.connection_strings]
    delivered = {d: "plan version 1, run 7" for d in sortie.drop_ids}
    manager = FleetManager(links, plan, flight_log=log, delivered_before=delivered)
    try:
        manager.connect(10.0)
        assert set(manager.skipped) == {sortie.id}
        assert not manager.will_fly(sortie.id)
        states = {d.drop_id: d for d in manager.drops()}
        assert {d: s.state for d, s in states.items()} == \
            {d: DropState.DELIVERED for d in sortie.drop_ids}
        assert all("plan version 1, run 7" in (s.reason or "") for s in states.values())
    finally:
        manager.stop()
        for link in links:
            link.close()
        log.close()
    assert not fleet.vehicle(0).snapshot().armed
