"""Mission, fence and rally transfer against the built-in simulator, with and without faults."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gcs.errors import LinkTimeout, MissionTransferError
from gcs.link import Link
from gcs.storage import differences
from gcs.transfer import (
    Retry,
    Target,
    clear,
    download,
    set_current,
    upload,
    upload_verified,
)
from planner.items import Cmd, Frame, MissionItem, MissionType
from planner.pipeline import make_plan
from planner.plan_model import Sortie
from planner.scenario import Scenario
from planner.terrain import Dem


@pytest.fixture(scope="module")
def sortie(tutorial_scenario: Scenario, tutorial_dem: Dem) -> Sortie:
    """The first sortie of the tutorial scenario, compiled by the planner."""
    plan = make_plan(tutorial_scenario, tutorial_dem).plan
    return plan.sorties[0]


def _home(s: Sortie) -> tuple[float, float, float]:
    h = s.mission[0]
    return (h.lat_deg, h.lon_deg, h.alt_m)


def test_mission_fence_rally_round_trip(sim: Any, link_to: Any, sortie: Sortie) -> None:
    """A compiled sortie uploads and reads back equal, item by item, for all three lists."""
    fleet = sim(home=_home(sortie))
    link: Link = link_to(fleet.connection_strings[0])
    t = Target(sysid=1)
    for items, kind in ((sortie.mission, 0), (sortie.fence, 1), (sortie.rally, 2)):
        got = upload_verified(link, t, items, kind)
        assert len(got) == len(items)
        assert differences(items, got, kind) == []
    assert len(download(link, t, MissionType.MISSION)) == len(sortie.mission)


def test_differences_name_the_changed_item(sortie: Sortie) -> None:
    """A changed altitude and a missing item are both reported with the item index."""
    changed = list(sortie.mission)
    changed[3] = replace(changed[3], alt_m=changed[3].alt_m + 5)
    diffs = differences(sortie.mission, changed[:-1], 0)
    assert any(d.startswith("item 3: alt") for d in diffs)
    assert any("items read back" in d for d in diffs)


def test_vehicle_normalisations_are_not_differences() -> None:
    """Frame 6 read back as 3, RTL with frame 0, NAV_LAND param4 and home are accepted."""
    sent = [MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL, lat_deg=1, lon_deg=2,
                        alt_m=640.0),
            MissionItem(command=Cmd.NAV_TAKEOFF, frame=Frame.GLOBAL_RELATIVE_ALT_INT,
                        alt_m=30.0),
            MissionItem(command=Cmd.NAV_LAND, frame=Frame.GLOBAL_RELATIVE_ALT, lat_deg=1,
                        lon_deg=2),
            MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH, frame=Frame.GLOBAL_RELATIVE_ALT)]
    back = [replace(sent[0], alt_m=640.09, lat_deg=1.00001),
            replace(sent[1], frame=Frame.GLOBAL_RELATIVE_ALT),
            replace(sent[2], param4=1.0),
            replace(sent[3], frame=Frame.GLOBAL)]
    assert differences(sent, back, 0) == []


@pytest.mark.slow
def test_uploads_under_heavy_loss_end_verified_or_with_a_clear_error(
        sim: Any, link_to: Any, sortie: Sortie) -> None:
    """30 % loss with duplication and reordering: every upload verifies or fails loudly."""
    # 5x: the vehicle's own 1 s re-request and 8 s cancel timers stay long enough in wall time
    # for a loaded machine; the protocol, not the scheduler, is under test
    fleet = sim(home=_home(sortie), seed=3, speedup=5.0)
    fleet.vehicle(0).set_link_faults(loss=0.3, duplicate=0.1, reorder=0.1)
    link: Link = link_to(fleet.connection_strings[0])
    t = Target(sysid=1)
    verified = 0
    for _ in range(3):
        try:
            got = upload_verified(link, t, sortie.mission, 0, Retry(timeout_s=0.4, tries=10))
        except (MissionTransferError, LinkTimeout) as exc:
            assert str(exc)  # a clear message, never silence
            continue
        assert differences(sortie.mission, got, 0) == []
        verified += 1
    assert verified == 3


def test_silent_vehicle_times_out_with_the_step_named(sim: Any, link_to: Any,
                                                    sortie: Sortie) -> None:
    """Uploading to a system id nobody answers for raises LinkTimeout naming the step."""
    fleet = sim(home=_home(sortie))
    link: Link = link_to(fleet.connection_strings[0])
    with pytest.raises(LinkTimeout, match="first MISSION_REQUEST") as info:
        upload(link, Target(sysid=42), sortie.mission, 0, Retry(timeout_s=0.2, tries=3))
    assert info.value.sysid == 42


def test_clear_and_set_current(sim: Any, link_to: Any, sortie: Sortie) -> None:
    """Clearing leaves only home; set_current is confirmed by MISSION_CURRENT."""
    fleet = sim(home=_home(sortie))
    link: Link = link_to(fleet.connection_strings[0])
    t = Target(sysid=1)
    upload_verified(link, t, sortie.mission, 0)
    set_current(link, t, 2)
    clear(link, t, 0)
    assert len(download(link, t, 0)) <= 1
