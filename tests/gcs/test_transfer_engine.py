"""The mission protocol engine against a scripted ArduPilot-like vehicle that loses chosen
messages and never re-requests on its own: every loss is recovered by the ground station's
round-trip timers, the final-ack ambiguity is settled, foreign replies are ignored."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gcs import mavlink as mav
from gcs._rtt import INITIAL_RTO_S, MIN_RTO_S, RttEstimator
from gcs.errors import LinkTimeout, MissionTransferError
from gcs.transfer import Retry, Target, download, upload
from planner.items import Cmd, Frame, MissionItem

_D = mav.dialect
FAST = Retry(timeout_s=0.3, tries=4)


class ScriptedVehicle:
    """ArduPilot's MissionItemProtocol for missions, on its own thread, minus its timers.

    ``lose_up(msg, copy)`` and ``lose_down(msg, copy)`` say whether the ``copy``-th message of
    its kind and sequence is lost on the way to (from) the vehicle.
    """

    def __init__(self, link: FakeLink, *, after_done: str = "error",
                 lose_up: Callable[[Any, int], bool] = lambda m, c: False,
                 lose_down: Callable[[Any, int], bool] = lambda m, c: False,
                 refuse_item: int | None = None, cancel_at: int | None = None) -> None:
        self.link = link
        self.codec = mav.codec(1, 1)
        self.items: list[Any] = [None]
        self.receiving = False
        self.request_i = 0
        self.count = 0
        self.after_done = after_done
        self.lose_up, self.lose_down = lose_up, lose_down
        self.refuse_item = refuse_item
        self.cancel_at = cancel_at
        self.copies: dict[tuple[str, str, int], int] = {}
        self.extra: list[Any] = []

    def _copy(self, msg: Any, way: str) -> int:
        key = (way, msg.get_type(), int(getattr(msg, "seq", -1)))
        self.copies[key] = self.copies.get(key, 0) + 1
        return self.copies[key]

    def emit(self, msg: Any) -> None:
        if self.lose_down(msg, self._copy(msg, "down")):
            return
        self.link.deliver(self.codec.parse_buffer(msg.pack(self.codec))[0])

    def ack(self, result: int, target: tuple[int, int] = (255, 190)) -> None:
        self.emit(self.codec.mission_ack_encode(target[0], target[1], result, 0))

    def handle(self, msg: Any) -> None:
        if self.lose_up(msg, self._copy(msg, "up")):
            return
        kind = msg.get_type()
        if kind == "MISSION_COUNT":
            self.receiving, self.request_i, self.count = True, 0, int(msg.count)
            self.items = self.items[:1] + [None] * (self.count - 1)
            self.emit(self.codec.mission_request_encode(255, 190, 0, 0))
        elif kind == "MISSION_ITEM_INT":
            if not self.receiving:
                if self.after_done == "error":
                    self.ack(_D.MAV_MISSION_ERROR)
                return
            if msg.seq != self.request_i:
                self.ack(_D.MAV_MISSION_INVALID_SEQUENCE)
                return
            if msg.seq == self.refuse_item:
                self.receiving = False
                self.ack(_D.MAV_MISSION_UNSUPPORTED_FRAME)
                return
            if msg.seq == self.cancel_at:
                self.cancel_at = None
                self.receiving = False  # its own timeout; the cancel ack is lost
                return
            self.items[msg.seq] = msg
            self.request_i += 1
            for extra in self.extra:
                self.emit(extra)
            if self.request_i == self.count:
                self.receiving = False
                self.ack(_D.MAV_MISSION_ACCEPTED)
            else:
                self.emit(self.codec.mission_request_encode(255, 190, self.request_i, 0))
        elif kind == "MISSION_REQUEST_LIST":
            if self.receiving:
                self.ack(_D.MAV_MISSION_DENIED)
            else:
                self.emit(self.codec.mission_count_encode(255, 190, len(self.items), 0))
        elif kind == "MISSION_REQUEST_INT" and not self.receiving:
            item = self.items[msg.seq]
            self.emit(self.codec.mission_item_int_encode(
                255, 190, msg.seq, item.frame, item.command, 0, 1, item.param1, item.param2,
                item.param3, item.param4, item.x, item.y, item.z, 0))


class FakeLink:
    """What the transfer engine needs of a Link: a codec, send, listeners; a vehicle thread."""

    source_system = 255
    source_component = 190

    def __init__(self) -> None:
        self.mav = mav.codec(255, 190)
        self.vehicle: ScriptedVehicle | None = None
        self._listeners: list[Callable[[Any], None]] = []
        self._inbox: queue.Queue[Any] = queue.Queue()
        self.sent: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def send(self, msg: Any) -> None:
        self.sent.append(msg.get_type())
        self._inbox.put(msg)

    def deliver(self, msg: Any) -> None:
        for listener in list(self._listeners):
            listener(msg)

    def add_listener(self, cb: Callable[[Any], None]) -> None:
        self._listeners.append(cb)

    def remove_listener(self, cb: Callable[[Any], None]) -> None:
        self._listeners.remove(cb)

    def _run(self) -> None:
        while True:
            msg = self._inbox.get()
            if msg is None:
                return
            assert self.vehicle is not None
            self.vehicle.handle(msg)

    def close(self) -> None:
        self._inbox.put(None)
        self._thread.join(2.0)


@pytest.fixture
def fake() -> Iterator[Callable[..., tuple[FakeLink, ScriptedVehicle]]]:
    """Factory ``fake(**vehicle_options)``: a fake link with a scripted vehicle behind it."""
    links: list[FakeLink] = []

    def make(**options: Any) -> tuple[FakeLink, ScriptedVehicle]:
        link = FakeLink()
        link.vehicle = ScriptedVehicle(link, **options)
        links.append(link)
        return link, link.vehicle

    yield make
    for link in links:
        link.close()


def mission(count: int) -> list[MissionItem]:
    """Home and ``count - 1`` waypoints."""
    return [MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL_RELATIVE_ALT,
                        lat_deg=30 + i * 1e-4, lon_deg=78.0, alt_m=20.0 + i)
            for i in range(count)]


def held(vehicle: ScriptedVehicle) -> list[int]:
    """Sequence numbers of the items the vehicle holds (home excluded)."""
    return [m.seq for m in vehicle.items[1:] if m is not None]


@pytest.mark.parametrize(("lose_up", "lose_down"), [
    (lambda m, c: m.get_type() == "MISSION_ITEM_INT" and m.seq in (3, 10, 11) and c == 1,
     lambda m, c: False),
    (lambda m, c: False,
     lambda m, c: m.get_type() == "MISSION_REQUEST" and m.seq in (5, 6, 20) and c == 1),
    (lambda m, c: m.get_type() == "MISSION_COUNT" and c == 1,
     lambda m, c: m.get_type() == "MISSION_REQUEST" and m.seq == 0 and c == 1),
    (lambda m, c: m.get_type() == "MISSION_ITEM_INT" and m.seq == 7 and c <= 3,
     lambda m, c: m.get_type() == "MISSION_REQUEST" and m.seq == 8 and c <= 2),
])
def test_losses_are_recovered_without_the_vehicles_timer(fake: Any, lose_up: Any,
                                                        lose_down: Any) -> None:
    """Lost items, requests and counts are resent on the ground station's timers alone."""
    link, vehicle = fake(lose_up=lose_up, lose_down=lose_down)
    t0 = time.monotonic()
    upload(link, Target(sysid=1), mission(30), 0, FAST)
    assert held(vehicle) == list(range(1, 30))
    assert time.monotonic() - t0 < 3.0


@pytest.mark.parametrize("after_done", ["error", "silent"])
def test_lost_final_ack_is_settled_by_the_count(fake: Any, after_done: str) -> None:
    """When the vehicle's final ACCEPTED is lost, a MISSION_REQUEST_LIST shows it finished
    (whether it answers late items with MAV_MISSION_ERROR, as ArduPilot, or ignores them)."""
    link, vehicle = fake(after_done=after_done, lose_down=lambda m, c: m.get_type() ==
                         "MISSION_ACK" and m.type == _D.MAV_MISSION_ACCEPTED)
    upload(link, Target(sysid=1), mission(12), 0, FAST)
    assert held(vehicle) == list(range(1, 12))
    assert "MISSION_REQUEST_LIST" in link.sent


@pytest.mark.parametrize("target", [(255, 0), (255, 190)])
def test_denials_during_an_upload_are_not_fatal(fake: Any, target: tuple[int, int]) -> None:
    """DENIED acks once the vehicle takes our items (addressed to a forwarded client, or late
    answers to our own reads) do not end the upload."""
    link, vehicle = fake()
    vehicle.extra = [vehicle.codec.mission_ack_encode(*target, _D.MAV_MISSION_DENIED, 0)]
    upload(link, Target(sysid=1), mission(10), 0, FAST)
    assert held(vehicle) == list(range(1, 10))


@pytest.mark.parametrize("after_done", ["error", "silent"])
def test_silently_cancelled_upload_is_restarted(fake: Any, after_done: str) -> None:
    """A vehicle that stopped receiving with its cancel lost is found out by its count, and
    the upload starts again and completes."""
    link, vehicle = fake(cancel_at=6, after_done=after_done)
    upload(link, Target(sysid=1), mission(12), 0, FAST)
    assert held(vehicle) == list(range(1, 12))
    assert link.sent.count("MISSION_COUNT") >= 2


def test_refused_item_is_named(fake: Any) -> None:
    """A refused item raises MissionTransferError with its index and result code."""
    link, _ = fake(refuse_item=4)
    with pytest.raises(MissionTransferError, match="UNSUPPORTED_FRAME") as info:
        upload(link, Target(sysid=1), mission(10), 0, FAST)
    assert (info.value.item_index, info.value.result_code) == \
        (4, _D.MAV_MISSION_UNSUPPORTED_FRAME)


def test_vehicle_gone_silent_times_out_naming_the_last_request(fake: Any) -> None:
    """Items lost for good end in LinkTimeout after ``tries * timeout_s`` without progress."""
    link, _ = fake(lose_up=lambda m, c: m.get_type() == "MISSION_ITEM_INT" and m.seq >= 5)
    t0 = time.monotonic()
    with pytest.raises(LinkTimeout, match="after item 5"):
        upload(link, Target(sysid=1), mission(10), 0, FAST)
    assert FAST.tries * FAST.timeout_s <= time.monotonic() - t0 < 3.0


@pytest.mark.parametrize("lost", [(), (0,), (2, 3, 9), tuple(range(0, 20, 2))])
def test_download_recovers_lost_items_in_order(fake: Any, lost: tuple[int, ...]) -> None:
    """Lost replies are asked for again and the items come back in order."""
    link, _ = fake(lose_down=lambda m, c: m.get_type() == "MISSION_ITEM_INT"
                   and m.seq in lost and c == 1)
    sent = mission(20)
    upload(link, Target(sysid=1), sent, 0, FAST)
    got = download(link, Target(sysid=1), 0, FAST)
    assert [round(i.lat_deg * 1e7) for i in got[1:]] == \
        [round(i.lat_deg * 1e7) for i in sent[1:]]
    start = len(link.sent) - link.sent[::-1].index("MISSION_REQUEST_LIST")
    asks = link.sent[start:].count("MISSION_REQUEST_INT")
    assert asks >= 20 + len(lost)


@pytest.mark.parametrize(("samples", "low", "high"), [
    ([], INITIAL_RTO_S, INITIAL_RTO_S),
    ([0.0002] * 20, MIN_RTO_S, MIN_RTO_S),
    ([0.1] * 20, 0.1, 0.2),
    ([0.1, 0.3, 0.1, 0.3], 0.25, 1.5),
    ([5.0], 1.5, 1.5),
])
def test_retransmission_timeout_follows_the_round_trip(samples: list[float], low: float,
                                                       high: float) -> None:
    """The timeout is srtt + 4 rttvar within [MIN_RTO_S, the retry timeout]."""
    est = RttEstimator()
    for s in samples:
        est.sample(s)
    assert low <= est.rto_s(1.5) <= high
