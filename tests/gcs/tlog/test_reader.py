"""Flights read back from the real ArduPilot SITL traces, checked against a plain pymavlink pass.

Each figure the reader and :func:`planner.flown.compare_flight` give is recomputed here straight
from the messages (pymavlink, no dropline code): highest altitude, arming-to-disarming time from
the "Arming motors"/"Disarming motors" texts and the vehicle's SYSTEM_TIME, items reached from
MISSION_ITEM_REACHED, energy from BATTERY_STATUS, releases from the gripper texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

import gcs.mavlink  # noqa: F401  (fixes the dialect before pymavlink is imported below)
from gcs.tlog.reader import read_flight
from planner.errors import InputError
from planner.flown.figures import compare_flight
from tests.helpers.shared_data import needs
from tests.sitl.helpers import TRACES
from tests.sitl.helpers_traces import (
    BREACH_FENCE,
    GRIPPER_MISSION,
    LAND_MISSION,
    PAYLOAD_MISSION,
    as_items,
)

from pymavlink import mavutil  # isort: skip


@dataclass
class HandCount:
    """Figures of one trace counted message by message."""

    alt_max_m: float = -1e9
    arm_boot_s: float | None = None
    disarm_boot_s: float | None = None
    reached: set[int] = field(default_factory=set)
    energy_hj: list[int] = field(default_factory=list)
    energy_at_arm_hj: int | None = None
    energy_at_disarm_hj: int | None = None
    release_positions: list[tuple[float, float]] = field(default_factory=list)


def hand_count(path: Path) -> HandCount:
    """One plain pass over a trace with pymavlink."""
    out = HandCount()
    conn = mavutil.mavlink_connection(str(path))
    boot_s: float | None = None
    position = (0.0, 0.0)
    energy = 0
    while (msg := conn.recv_match()) is not None:
        if msg.get_srcSystem() != 1:
            continue
        kind = msg.get_type()
        if kind == "SYSTEM_TIME":
            boot_s = msg.time_boot_ms / 1000.0
            if out.arm_boot_s is None and out.energy_at_arm_hj is not None:
                out.arm_boot_s = boot_s  # armed before the first time stamp of the log
        elif kind == "GLOBAL_POSITION_INT":
            out.alt_max_m = max(out.alt_max_m, msg.alt / 1000.0)
            position = (msg.lat / 1e7, msg.lon / 1e7)
        elif kind == "MISSION_ITEM_REACHED":
            out.reached.add(msg.seq)
        elif kind == "BATTERY_STATUS":
            energy = msg.energy_consumed
        elif kind == "STATUSTEXT":
            if msg.text.startswith("Arming motors"):
                out.arm_boot_s, out.energy_at_arm_hj = boot_s, energy
            elif msg.text.startswith("Disarming motors"):
                out.disarm_boot_s, out.energy_at_disarm_hj = boot_s, energy
            elif msg.text.startswith("Gripper load releasing"):
                out.release_positions.append(position)
    conn.close()
    return out


FLIGHTS = {
    "auto_flight_gripper_drop": (GRIPPER_MISSION, (), 8, "completed"),
    "auto_flight_land_release_takeoff": (LAND_MISSION, (), 7, "completed"),
    "auto_flight_payload_place": (PAYLOAD_MISSION, (), 6, "completed"),
    "auto_flight_battery_failsafe": (PAYLOAD_MISSION, (), 5, "landed_short"),
    "fence_breach_rtl_to_rally": (PAYLOAD_MISSION, BREACH_FENCE, 2, "landed_short"),
}


@needs(TRACES)
@pytest.mark.parametrize("name", sorted(FLIGHTS))
def test_trace_figures_match_a_hand_count(name: str) -> None:
    """Altitude, duration, items, energy and releases agree with the plain pymavlink pass."""
    path = TRACES / f"{name}.tlog"
    mission, fence, items, state = FLIGHTS[name]
    flight = read_flight(path)
    hand = hand_count(path)
    figures = compare_flight(flight.samples, flight.releases, mission=as_items(mission),
                             fence=as_items(list(fence), 1), reached=flight.reached_seqs)
    assert flight.sysid == 1
    assert figures.alt_max_amsl_m == pytest.approx(hand.alt_max_m, abs=1e-6)
    assert hand.arm_boot_s is not None and hand.disarm_boot_s is not None
    assert figures.duration_flown_s == pytest.approx(hand.disarm_boot_s - hand.arm_boot_s,
                                                     abs=1.0)
    assert figures.items_reached == max(hand.reached) == items
    assert figures.items_total == len(mission) - 1
    assert figures.final_state == state
    assert hand.energy_at_arm_hj is not None and hand.energy_at_disarm_hj is not None
    assert figures.energy_used_wh == pytest.approx(
        (hand.energy_at_disarm_hj - hand.energy_at_arm_hj) / 36.0, abs=0.5)
    assert [(r.lat_deg, r.lon_deg) for r in flight.releases] == pytest.approx(
        hand.release_positions, abs=2e-6)


@needs(TRACES)
def test_gripper_trace_figures_checked_by_hand() -> None:
    """The gripper flight: 30 m above home, 215 s armed, released on its mark, no deviation."""
    # Read off the log by hand: GLOBAL_POSITION_INT peaks at 670.08 m (home 640.07 m);
    # "Arming motors" at boot 48.06 s, "Disarming motors" at 263.06 s; MISSION_ITEM_REACHED
    # 1-5, 7, 8 (the DO_GRIPPER item 6 has none); "Gripper load releasing" after "Mission: 6".
    flight = read_flight(TRACES / "auto_flight_gripper_drop.tlog")
    f = compare_flight(flight.samples, flight.releases, mission=as_items(GRIPPER_MISSION),
                       reached=flight.reached_seqs)
    assert f.alt_max_amsl_m == pytest.approx(670.08)
    assert f.duration_flown_s == pytest.approx(215.0, abs=0.3)
    assert flight.reached_seqs == (1, 2, 3, 4, 5, 7, 8)
    assert [r.mission_seq for r in flight.releases] == [6]
    assert dict(f.drop_errors_m) == {"item 6": pytest.approx(0.0, abs=0.1)}
    assert f.cross_track_max_m is not None and f.cross_track_max_m < 1.5
    assert f.agl_min_m == pytest.approx(30.0, abs=1.0)
    assert flight.home == pytest.approx((30.3164999, 78.0322001, 640.07))


@needs(TRACES)
def test_fence_breach_trace_shows_the_incursion() -> None:
    """The breach trace enters the exclusion polygon before the vehicle turns back."""
    flight = read_flight(TRACES / "fence_breach_rtl_to_rally.tlog")
    f = compare_flight(flight.samples, flight.releases, mission=as_items(PAYLOAD_MISSION),
                       fence=as_items(BREACH_FENCE, 1), reached=flight.reached_seqs)
    assert [i.name for i in f.incursions] == ["fence exclusion 1"]
    assert 1.0 < f.incursions[0].depth_m < 100.0
    assert any(text == "Polygon fence breached" for _, text in flight.texts)
    assert f.final_mode == "RTL"


@needs(TRACES)
def test_transfers_in_the_log_give_the_mission_fence_and_rally() -> None:
    """Mission, fence and rally uploads in the traces are read back item by item."""
    upload = read_flight(TRACES / "mission_upload_download.tlog")
    assert [(m.command, round(m.lat_deg, 7), round(m.lon_deg, 7)) for m in upload.mission] == \
        [(m.command, m.lat_deg, m.lon_deg) for m in as_items(PAYLOAD_MISSION)]
    fence = read_flight(TRACES / "fence_rally_upload.tlog")
    assert [m.command for m in fence.fence] == [5002] * 4
    assert [m.command for m in fence.rally] == [5100]
    assert fence.samples and not any(s.armed for s in fence.samples)


@needs(TRACES)
def test_chunked_texts_are_joined() -> None:
    """A STATUSTEXT sent in two chunks reads as one text."""
    flight = read_flight(TRACES / "auto_flight_payload_place.tlog")
    texts = [text for _, text in flight.texts]
    assert any(t.startswith("PayloadPlace: payload release thrust threshold: 0.") and
               t.endswith("314706") for t in texts)


def test_bad_files_are_named(tmp_path: Path) -> None:
    """A missing file and a file without MAVLink are refused with the path named."""
    with pytest.raises(InputError, match="no such file") as missing:
        read_flight(tmp_path / "nothing.tlog")
    assert missing.value.path == str(tmp_path / "nothing.tlog")
    junk = tmp_path / "junk.tlog"
    junk.write_bytes(b"this is not a log\n" * 20)
    with pytest.raises(InputError, match=r"junk\.tlog"):
        read_flight(junk)
