"""The canonical plan key (stable across plan.json write and read) and the drops a plan's runs
delivered, which are never flown again unless re-sent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gcs.fleet import plan_key
from gcs.logs import FlightLog
from gcs.tracking import DropEvent, DropState
from planner.io.planfile import read_plan_json, write_plan_json
from tests.gcs.fixtures import tutorial_case


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


def test_delivered_drops_of_every_run_of_a_plan(tmp_path: Path) -> None:
    """A drop whose last state in some run of the plan is delivered counts, with that run;
    other plans' runs and drops that failed do not."""
    log = FlightLog(tmp_path / "f.db")
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
