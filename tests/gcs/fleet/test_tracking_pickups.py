"""Pickup tracking: a gripper grab at the pickup point collects the parcel (a release text does
not), and it counts as delivered only when the sortie brings it home."""

from __future__ import annotations

import dataclasses

import pytest

from gcs.fleet.tracking import DropState, SortieTracker
from planner.items import GRIPPER_GRAB, is_grab
from planner.plan_model import Sortie
from tests.gcs.helpers import tutorial_case


@pytest.fixture(scope="module")
def sortie() -> Sortie:
    """The tutorial's three-drop sortie with its first stop made a pickup (gripper grab)."""
    base = max(tutorial_case(3).plan.sorties, key=lambda s: len(s.drop_ids))
    first = SortieTracker(base).statuses()[0]
    mission = list(base.mission)
    mission[first.release_seq] = dataclasses.replace(mission[first.release_seq],
                                                     param2=float(GRIPPER_GRAB))
    assert is_grab(mission[first.release_seq])
    return dataclasses.replace(base, mission=tuple(mission), pickup_ids=(first.drop_id,))


def _fly_to(tracker: SortieTracker, seq: int, now_s: float) -> None:
    p = tracker.progress.points[seq]
    tracker.update(now_s, seq=seq, lat_deg=p.lat_deg, lon_deg=p.lon_deg)


def test_grab_collects_the_pickup_and_home_delivers_it(sortie: Sortie) -> None:
    """At the pickup a release text changes nothing, the grab text collects it there; flying
    on does not deliver it, completing the sortie does."""
    tracker = SortieTracker(sortie)
    tracker.start(0.0)
    pickup, drop = tracker.statuses()[0], tracker.statuses()[1]
    assert pickup.pickup and not drop.pickup
    _fly_to(tracker, tracker.progress.previous_nav(pickup.release_seq), 10.0)
    assert tracker.on_text(11.0, "Gripper load releasing") == []
    events = tracker.on_text(11.5, "Gripper load grabbing")
    assert [(e.drop_id, e.state) for e in events] == [(pickup.drop_id, DropState.RELEASED)]
    collected = tracker.status(pickup.drop_id)
    assert collected.release_error_m is not None and collected.release_error_m < 1.0
    _fly_to(tracker, drop.release_seq + 2, 30.0)
    assert tracker.status(pickup.drop_id).state == DropState.RELEASED
    assert tracker.status(drop.drop_id).state == DropState.DELIVERED  # passed its release
    events = tracker.finish(40.0, completed=True, reason="landed")
    assert (pickup.drop_id, DropState.DELIVERED) in [(e.drop_id, e.state) for e in events]


def test_a_collected_pickup_not_brought_home_fails(sortie: Sortie) -> None:
    """A sortie that ends away from home (a field landing) fails the parcel it collected."""
    tracker = SortieTracker(sortie)
    tracker.start(0.0)
    pickup = tracker.statuses()[0]
    _fly_to(tracker, pickup.release_seq + 1, 10.0)
    assert tracker.status(pickup.drop_id).state == DropState.RELEASED
    events = tracker.finish(20.0, completed=False, reason="landed away from a depot")
    failed = next(e for e in events if e.drop_id == pickup.drop_id)
    assert failed.state == DropState.FAILED
    assert failed.detail == "collected but not brought home: landed away from a depot"


def test_grab_far_from_the_pickup_point_fails_it(sortie: Sortie) -> None:
    """A grab seen 500 m away from the pickup point fails it, saying so."""
    tracker = SortieTracker(sortie, max_release_error_m=30.0)
    tracker.start(0.0)
    pickup = tracker.statuses()[0]
    approach = tracker.progress.previous_nav(pickup.release_seq)
    p = tracker.progress.points[approach]
    tracker.update(5.0, seq=approach, lat_deg=p.lat_deg + 0.0045, lon_deg=p.lon_deg)
    events = tracker.on_text(6.0, "Gripper Grabbed")
    assert events[0].state == DropState.FAILED
    assert events[0].detail is not None and "from the pickup point" in events[0].detail
