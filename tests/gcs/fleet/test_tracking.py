"""Delivery tracking from mission progress, gripper texts and payload places (no vehicle)."""

from __future__ import annotations

import dataclasses

import pytest

from gcs.fleet.progress import SortieProgress
from gcs.fleet.tracking import DropState, SortieTracker
from planner.items import Cmd, Frame, MissionItem
from planner.plan_model import Sortie
from tests.gcs.helpers import tutorial_case


@pytest.fixture(scope="module")
def sortie() -> Sortie:
    """The three-drop sortie of the three-drone tutorial plan."""
    return max(tutorial_case(3).plan.sorties, key=lambda s: len(s.drop_ids))


def _fly_to(tracker: SortieTracker, seq: int, now_s: float) -> list[DropState]:
    """Report item ``seq`` as current at its planned position; the drops' states after."""
    p = tracker.progress.points[seq]
    tracker.update(now_s, seq=seq, lat_deg=p.lat_deg, lon_deg=p.lon_deg)
    return [s.state for s in tracker.statuses()]


def test_queued_until_start_then_en_route(sortie: Sortie) -> None:
    """Drops stay queued before take-off, even if stale progress is reported, then en route."""
    tracker = SortieTracker(sortie)
    late = len(tracker.progress.points) - 2
    assert _fly_to(tracker, late, 0.0) == [DropState.QUEUED] * len(sortie.drop_ids)
    events = tracker.start(1.0)
    assert [e.state for e in events] == [DropState.EN_ROUTE] * len(sortie.drop_ids)


def test_gripper_text_releases_then_progress_delivers(sortie: Sortie) -> None:
    """A gripper text at the drop releases it there; moving past the hover delivers it."""
    tracker = SortieTracker(sortie)
    tracker.start(0.0)
    first = tracker.statuses()[0]
    approach = tracker.progress.previous_nav(first.release_seq)
    _fly_to(tracker, approach, 10.0)
    events = tracker.on_text(11.0, "Gripper load releasing")
    assert [(e.drop_id, e.state) for e in events] == [(first.drop_id, DropState.RELEASED)]
    released = tracker.status(first.drop_id)
    assert released.release_error_m is not None and released.release_error_m < 1.0
    assert tracker.on_text(11.5, "Gripper load released") == []
    _fly_to(tracker, first.release_seq + 1, 20.0)  # the hover
    assert tracker.status(first.drop_id).state == DropState.RELEASED
    _fly_to(tracker, first.release_seq + 2, 30.0)
    assert tracker.status(first.drop_id).state == DropState.DELIVERED
    assert tracker.statuses()[1].state == DropState.EN_ROUTE


def test_progress_past_release_item_releases_without_text(sortie: Sortie) -> None:
    """With the texts lost, the mission moving past the DO_GRIPPER releases the drop."""
    tracker = SortieTracker(sortie)
    tracker.start(0.0)
    first = tracker.statuses()[0]
    assert _fly_to(tracker, first.release_seq + 1, 5.0)[0] == DropState.RELEASED


def test_release_far_from_the_drop_fails_it(sortie: Sortie) -> None:
    """A release seen 500 m away from the drop position fails the drop with the distance."""
    tracker = SortieTracker(sortie, max_release_error_m=30.0)
    tracker.start(0.0)
    first = tracker.statuses()[0]
    approach = tracker.progress.previous_nav(first.release_seq)
    tracker.update(1.0, seq=approach, lat_deg=first.planned_lat_deg + 0.0045,
                   lon_deg=first.planned_lon_deg)
    tracker.on_text(2.0, "Gripper load releasing")
    failed = tracker.status(first.drop_id)
    assert failed.state == DropState.FAILED
    assert failed.reason is not None and "m from the drop position" in failed.reason


@pytest.mark.parametrize(("completed", "expected"), [
    (True, DropState.DELIVERED), (False, DropState.FAILED)])
def test_finish_decides_undecided_drops(sortie: Sortie, completed: bool,
                                        expected: DropState) -> None:
    """At the end a released drop is delivered; the others follow how the mission ended."""
    tracker = SortieTracker(sortie)
    tracker.start(0.0)
    first = tracker.statuses()[0]
    _fly_to(tracker, first.release_seq + 1, 5.0)
    tracker.finish(9.0, completed=completed, reason="returned early")
    states = [s.state for s in tracker.statuses()]
    assert states[0] == DropState.DELIVERED
    assert states[1:] == [expected] * (len(states) - 1)
    if not completed:
        assert tracker.statuses()[-1].reason == "returned early"
    assert tracker.done


def test_eta_shrinks_with_progress_and_follows_time_scale(sortie: Sortie) -> None:
    """ETAs of later drops shrink as the vehicle advances; the caller's clock is scaled."""
    tracker = SortieTracker(sortie, time_scale=10.0)
    tracker.start(0.0)
    _fly_to(tracker, 2, 1.0)
    last = tracker.statuses()[-1]
    assert last.eta_remaining_s is not None and last.eta_at_s is not None
    _fly_to(tracker, tracker.statuses()[-1].release_seq - 1, 2.0)
    later = tracker.statuses()[-1]
    assert later.eta_remaining_s is not None and later.eta_at_s is not None
    assert later.eta_remaining_s < last.eta_remaining_s
    assert later.eta_at_s == pytest.approx(2.0 + later.eta_remaining_s / 10.0)


def test_planned_time_matches_the_plan_etas(sortie: Sortie) -> None:
    """At each release item the progress model gives the plan's own ETA."""
    progress = SortieProgress(sortie)
    for drop_id, seq in zip(sortie.drop_ids, progress.releases, strict=True):
        expected = sortie.metrics.drop_etas_s[drop_id] - sortie.start_s
        assert progress.planned_time_s(progress.cum_m[seq]) == pytest.approx(expected)
    assert progress.planned_time_s(progress.total_m) == pytest.approx(sortie.metrics.duration_s)


def test_payload_place_is_delivered_when_reached(sortie: Sortie) -> None:
    """A NAV_PAYLOAD_PLACE drop is released by its text and delivered by ITEM_REACHED."""
    home = sortie.mission[0]
    place = MissionItem(command=Cmd.NAV_PAYLOAD_PLACE, frame=Frame.GLOBAL_RELATIVE_ALT,
                        lat_deg=home.lat_deg + 0.01, lon_deg=home.lon_deg, alt_m=60.0)
    mission = (home, sortie.mission[1], place,
               MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH))
    one = dataclasses.replace(sortie, mission=mission, drop_ids=("X1",),
                              metrics=dataclasses.replace(sortie.metrics,
                                                          drop_etas_s={"X1": 100.0}))
    tracker = SortieTracker(one)
    tracker.start(0.0)
    tracker.update(1.0, seq=2, lat_deg=place.lat_deg, lon_deg=place.lon_deg)
    tracker.on_text(2.0, "PayloadPlace: Releasing the gripper")
    assert tracker.status("X1").state == DropState.RELEASED
    tracker.on_item_reached(3.0, 2)
    assert tracker.status("X1").state == DropState.DELIVERED
