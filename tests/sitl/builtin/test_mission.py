"""Mission, fence and rally protocol of the built-in simulator, corner by corner."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from gcs.mavlink import dialect as mav
from tests.sitl.helpers import OfflineGcs

HOME = (0, 16, 0, 0, 0, 0, 303165000, 780322000, 640.0)
MISSION = [HOME, (6, 22, 0, 0, 0, 0, 0, 0, 30.0),
           (6, 16, 15, 0, 0, 0, 303182966, 780322000, 30.0),
           (3, 16, 0, 0, 0, 0, 303182966, 780342812, 30.37),
           (0, 211, 1, 0, 0, 0, 0, 0, 0.0),
           (6, 94, 40, 0, 0, 0, 303165000, 780342812, 30.0),
           (6, 21, 0, 0, 0, 0, 303165000, 780322000, 0.0),
           (6, 20, 0, 0, 0, 0, 0, 0, 0.0)]
FENCE = [(0, 5002, 4, 0, 0, 0, 303179373, 780328244, 0.0),
         (0, 5002, 4, 0, 0, 0, 303179373, 780336569, 0.0),
         (0, 5002, 4, 0, 0, 0, 303186560, 780336569, 0.0),
         (0, 5002, 4, 0, 0, 0, 303186560, 780328244, 0.0),
         (0, 5003, 500, 0, 0, 0, 303165000, 780322000, 0.0)]
RALLY = [(6, 5100, 0, 0, 0, 0, 303173983, 780318878, 30.0)]

Factory = Callable[..., OfflineGcs]


def test_round_trip_normalises_like_arducopter(offline: Factory) -> None:
    """Download returns home as item 0, frame 6 as 3, no-location commands at frame 0."""
    gcs = offline()
    gcs.ready()
    assert gcs.upload(MISSION) == mav.MAV_MISSION_ACCEPTED
    items = gcs.download()
    assert len(items) == len(MISSION)
    home = items[0]
    v = gcs.vehicle
    assert (home.command, home.frame) == (16, 0)
    assert abs(home.x / 1e7 - v.home[0]) < 1e-6 and abs(home.z - v.home[2]) < 0.01
    takeoff, wp, wp_abs, grip, place, land, rtl = items[1:]
    assert (takeoff.frame, takeoff.x, takeoff.y, takeoff.z) == (3, 0, 0, 30.0)
    assert (wp.frame, wp.param1, wp.x, wp.y, wp.z) == (3, 15.0, 303182966, 780322000, 30.0)
    assert wp_abs.frame == 3 and wp_abs.z == pytest.approx(30.37, abs=0.011)
    assert (grip.frame, grip.param1, grip.param2, grip.x, grip.z) == (0, 1.0, 0.0, 0, 0.0)
    assert place.param1 == 40.0
    assert land.param4 == 1.0
    assert (rtl.frame, rtl.x, rtl.y, rtl.z) == (0, 0, 0, 0.0)
    assert all(i.autocontinue == 1 for i in items)


def test_upload_sequence_and_texts(offline: Factory) -> None:
    """Legacy MISSION_REQUEST per item, then ACCEPTED, "Flight plan received" and MIS_TOTAL."""
    gcs = offline()
    start = len(gcs.log)
    assert gcs.upload(MISSION) == 0
    kinds = [m.get_type() for m in gcs.since(start) if m.get_type() not in (
        "HEARTBEAT", "TIMESYNC")]
    assert "MISSION_REQUEST_INT" not in kinds
    requests = [m.seq for m in gcs.since(start, "MISSION_REQUEST")]
    assert requests == list(range(len(MISSION)))
    totals = [m.param_value for m in gcs.since(start, "PARAM_VALUE") if m.param_id == "MIS_TOTAL"]
    assert totals == list(range(2, len(MISSION) + 1))
    tail = kinds[-3:]
    assert tail == ["MISSION_ACK", "STATUSTEXT", "PARAM_VALUE"]
    assert gcs.texts(start)[-1] == "Flight plan received"


def test_float_mission_item_accepted(offline: Factory) -> None:
    """MISSION_ITEM (float degrees) uploads the same item as MISSION_ITEM_INT."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 2, 0))
    gcs.send(mav.MAVLink_mission_item_message(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 30.3165,
                                              78.0322, 640.0, 0))
    gcs.send(mav.MAVLink_mission_item_message(1, 1, 1, 6, 16, 0, 1, 5, 0, 0, 0, 30.3170,
                                              78.0330, 25.0, 0))
    assert gcs.of("MISSION_ACK")[-1].type == 0
    item = gcs.download()[1]
    assert (item.z, item.param1) == (25.0, 5.0)
    assert abs(item.x - 303170000) <= 80 and abs(item.y - 780330000) <= 80  # float32 degrees


def test_legacy_request_on_download_gets_float_item_and_warning_once(offline: Factory) -> None:
    """MISSION_REQUEST answers MISSION_ITEM plus "use MISSION_REQUEST_INT!" the first time."""
    gcs = offline()
    gcs.upload(MISSION)
    start = len(gcs.log)
    for seq in (1, 2):
        gcs.send(mav.MAVLink_mission_request_message(1, 1, seq, 0))
    items = gcs.since(start, "MISSION_ITEM")
    assert [i.seq for i in items] == [1, 2]
    assert items[1].x == pytest.approx(30.3182966, abs=1e-6)
    assert gcs.texts(start) == ["got MISSION_REQUEST; use MISSION_REQUEST_INT!"]


def test_unanswered_request_repeats_every_second_then_cancels(offline: Factory) -> None:
    """Requests repeat every 1 s of simulated time; after 8 s OPERATION_CANCELLED and text."""
    gcs = offline()
    gcs.run(1.0)
    start = len(gcs.log)
    t0 = gcs.t
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 3, 0))
    gcs.run(10.0)
    times = [t - t0 for t, m in gcs.log[start:] if m.get_type() == "MISSION_REQUEST"]
    assert len(times) == 8
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(1.0 <= g <= 1.1 + 1e-6 for g in gaps), gaps
    ack = [(t - t0, m) for t, m in gcs.log[start:] if m.get_type() == "MISSION_ACK"]
    assert len(ack) == 1 and ack[0][1].type == mav.MAV_MISSION_OPERATION_CANCELLED
    assert 8.0 <= ack[0][0] <= 8.1
    assert "Mission upload timeout" in gcs.texts(start)


def test_wrong_sequence_is_rejected_and_transfer_stays_open(offline: Factory) -> None:
    """An item with the wrong seq gets INVALID_SEQUENCE; the right one still completes it."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 2, 0))
    gcs.send(mav.MAVLink_mission_item_int_message(1, 1, 1, 6, 16, 0, 1, 0, 0, 0, 0, 1, 1, 5, 0))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_INVALID_SEQUENCE
    gcs.send(mav.MAVLink_mission_item_int_message(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 1, 1, 5, 0))
    gcs.send(mav.MAVLink_mission_item_int_message(1, 1, 1, 6, 16, 0, 1, 0, 0, 0, 0,
                                                  303170000, 780322000, 5, 0))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_ACCEPTED


def test_second_count_restarts_and_other_gcs_is_denied(offline: Factory) -> None:
    """A new COUNT from the uploader restarts at seq 0; another ground station is DENIED."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 3, 0))
    gcs.send(mav.MAVLink_mission_item_int_message(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 1, 1, 5, 0))
    start = len(gcs.log)
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 3, 0), gcs=(254, 190))
    denied = gcs.since(start, "MISSION_ACK")
    assert [(a.type, a.target_system) for a in denied] == [(mav.MAV_MISSION_DENIED, 254)]
    start = len(gcs.log)
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 2, 0))
    assert [m.seq for m in gcs.since(start, "MISSION_REQUEST")] == [0]
    assert gcs.upload(MISSION[:2]) == 0


def test_download_during_upload_is_denied(offline: Factory) -> None:
    """MISSION_REQUEST_LIST while an upload is open gets DENIED."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 3, 0))
    gcs.send(mav.MAVLink_mission_request_list_message(1, 1, 0), gcs=(254, 190))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_DENIED


@pytest.mark.parametrize("mission_type", [1, 2])
def test_fence_and_rally_need_mavlink2(offline: Factory, mission_type: int) -> None:
    """Fence and rally transfers over MAVLink 1: "Need mavlink2 for item transfer"."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 1, mission_type), mavlink1=True)
    assert gcs.texts()[-1] == "Need mavlink2 for item transfer"
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_UNSUPPORTED


def test_mission_over_mavlink1_still_works(offline: Factory) -> None:
    """A MAVLink 1 ground station can still upload a mission (type 0)."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 1, 0), mavlink1=True)
    assert gcs.of("MISSION_REQUEST")[-1].seq == 0
    assert not gcs.of("MISSION_ACK")


def test_fence_and_rally_round_trip(offline: Factory) -> None:
    """Fence: "Fence Indexed OK", FENCE_TOTAL; rally: RALLY_TOTAL; both autocontinue 0."""
    gcs = offline()
    start = len(gcs.log)
    assert gcs.upload(FENCE, 1) == 0
    assert gcs.texts(start)[-1] == "Fence Indexed OK"
    params = {m.param_id: m.param_value for m in gcs.since(start, "PARAM_VALUE")}
    assert params["FENCE_TOTAL"] == len(FENCE) + 2
    assert gcs.upload(RALLY, 2) == 0
    assert gcs.of("PARAM_VALUE")[-1].param_id == "RALLY_TOTAL"
    fence = gcs.download(1)
    assert [(f.command, f.frame, f.autocontinue, f.param1) for f in fence] == [
        (5002, 0, 0, 4.0)] * 4 + [(5003, 0, 0, 500.0)]
    rally = gcs.download(2)
    assert (rally[0].frame, rally[0].z, rally[0].autocontinue) == (3, 30.0, 0)


def test_inconsistent_polygon_is_rejected(offline: Factory) -> None:
    """A polygon whose vertex count does not match param1 is refused as INVALID."""
    gcs = offline()
    assert gcs.upload(FENCE[:3], 1) == mav.MAV_MISSION_INVALID
    assert gcs.download(1) == []


@pytest.mark.parametrize(("row", "result"), [
    ((6, 31000, 0, 0, 0, 0, 1, 1, 5.0), mav.MAV_MISSION_UNSUPPORTED),
    ((1, 16, 0, 0, 0, 0, 1, 1, 5.0), mav.MAV_MISSION_UNSUPPORTED_FRAME),
    ((6, 16, 0, 0, 0, 0, 950_000_000, 1, 5.0), mav.MAV_MISSION_INVALID_PARAM5_X),
])
def test_bad_items_abort_the_upload(offline: Factory, row: tuple[float, ...],
                                    result: int) -> None:
    """Unknown commands, frames and coordinates get ArduPilot's result codes."""
    gcs = offline()
    assert gcs.upload([HOME, row]) == result


def test_too_many_items(offline: Factory) -> None:
    """A count beyond storage gets NO_SPACE and "Only N items are supported"."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 5000, 0))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_NO_SPACE
    assert gcs.texts()[-1].startswith("Only ")


def test_clear_all(offline: Factory) -> None:
    """MISSION_CLEAR_ALL leaves home only, fence/rally empty; refused while flying AUTO."""
    gcs = offline()
    gcs.upload(MISSION)
    gcs.upload(RALLY, 2)
    gcs.send(mav.MAVLink_mission_clear_all_message(1, 1, 0))
    assert gcs.of("MISSION_ACK")[-1].type == 0
    assert len(gcs.download()) == 1
    gcs.send(mav.MAVLink_mission_clear_all_message(1, 1, 2))
    assert gcs.download(2) == []
    gcs.fly(MISSION)
    gcs.run(5)
    gcs.send(mav.MAVLink_mission_clear_all_message(1, 1, 0))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_ERROR


def test_write_partial_list_replaces_a_range(offline: Factory) -> None:
    """MISSION_WRITE_PARTIAL_LIST requests exactly start..end and replaces those items."""
    gcs = offline()
    gcs.upload(MISSION)
    start = len(gcs.log)
    gcs.send(mav.MAVLink_mission_write_partial_list_message(1, 1, 2, 3, 0))
    assert [m.seq for m in gcs.since(start, "MISSION_REQUEST")] == [2]
    gcs.send(mav.MAVLink_mission_item_int_message(1, 1, 2, 6, 16, 0, 1, 7, 0, 0, 0,
                                                  303170000, 780322000, 40, 0))
    gcs.send(mav.MAVLink_mission_item_int_message(1, 1, 3, 6, 16, 0, 1, 0, 0, 0, 0,
                                                  303171000, 780322000, 41, 0))
    assert gcs.of("MISSION_ACK")[-1].type == 0
    items = gcs.download()
    assert len(items) == len(MISSION)
    assert (items[2].param1, items[2].z, items[3].z) == (7.0, 40.0, 41.0)
    gcs.send(mav.MAVLink_mission_write_partial_list_message(1, 1, 5, 99, 0))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_ERROR


def test_set_current(offline: Factory) -> None:
    """MISSION_SET_CURRENT moves the current item and answers MISSION_CURRENT."""
    gcs = offline()
    gcs.upload(MISSION)
    gcs.send(mav.MAVLink_mission_set_current_message(1, 1, 3))
    current = gcs.of("MISSION_CURRENT")[-1]
    assert (current.seq, current.total) == (3, len(MISSION) - 1)
    ack = gcs.command(mav.MAV_CMD_DO_SET_MISSION_CURRENT, 99)
    assert ack.result == mav.MAV_RESULT_DENIED


def test_download_out_of_range(offline: Factory) -> None:
    """Requesting an item past the end gets INVALID_SEQUENCE."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_request_int_message(1, 1, 5, 0))
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_INVALID_SEQUENCE


def test_timeout_leaves_the_items_received_so_far(offline: Factory) -> None:
    """Mission items are stored as they arrive: a cancelled upload keeps the prefix."""
    gcs = offline()
    gcs.send(mav.MAVLink_mission_count_message(1, 1, 4, 0))
    for seq, row in enumerate(MISSION[:3]):
        gcs.send(mav.MAVLink_mission_item_int_message(1, 1, seq, int(row[0]), int(row[1]), 0,
                                                      1, *row[2:6], int(row[6]), int(row[7]),
                                                      row[8], 0))
    gcs.run(9.0)
    assert gcs.of("MISSION_ACK")[-1].type == mav.MAV_MISSION_OPERATION_CANCELLED
    assert len(gcs.download()) == 3


def _tcp_round_trip(client: Any) -> None:
    from planner.items import MissionItem

    items = [MissionItem(command=16, frame=0, lat_deg=30.3165, lon_deg=78.0322, alt_m=640),
             MissionItem(command=22, frame=6, alt_m=30),
             MissionItem(command=16, frame=6, lat_deg=30.317, lon_deg=78.0322, alt_m=30)]
    assert client.upload(items) == 0
    back = client.download()
    assert [(i.command, i.frame) for i in back] == [(16, 0), (22, 3), (16, 3)]


def test_round_trip_over_tcp(builtin_fleet: Any) -> None:
    """The same protocol works over the fleet's TCP endpoint."""
    from tests.sitl.helpers_mavclient import MavClient

    fleet = builtin_fleet(1, settle_s=1.0)
    with MavClient(fleet.connection_strings[0]) as client:
        client.wait_heartbeat()
        _tcp_round_trip(client)
