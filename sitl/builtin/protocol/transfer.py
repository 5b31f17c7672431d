"""The MAVLink mission protocol of one item type, as ArduPilot's MissionItemProtocol runs it.

Uploads are requested with the legacy MISSION_REQUEST, re-requested after 1 s of silence and
cancelled (MISSION_ACK OPERATION_CANCELLED, "Mission upload timeout") after 8 s; a wrong sequence
number gets INVALID_SEQUENCE and the transfer stays open; a second MISSION_COUNT from the same
ground station restarts, one from another ground station is DENIED. Mission items are written to
storage as they arrive (ArduPilot truncates the mission at MISSION_COUNT); fence and rally lists
are committed when complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.mission import (
    FENCE,
    MAX_ITEMS,
    MISSION,
    RALLY,
    IncomingItem,
    StoredItem,
    convert_item,
    validate_fence,
)

UPLOAD_TIMEOUT_S = 8.0
REQUEST_RESEND_S = 1.0


class TransferHost(Protocol):
    """What a transfer needs from its vehicle."""

    @property
    def now_s(self) -> float: ...

    def send(self, msg: Any) -> None: ...

    def text(self, severity: int, text: str) -> None: ...

    def items(self, mission_type: int) -> list[StoredItem]: ...

    def store(self, mission_type: int, items: list[StoredItem], *, complete: bool) -> None: ...

    def mission_running(self) -> bool: ...

    def link_is_mavlink1(self) -> bool: ...


class ItemTransfer:
    """Upload and download state for one mission type."""

    def __init__(self, host: TransferHost, mission_type: int) -> None:
        self.host = host
        self.mission_type = mission_type
        self.receiving = False
        self.request_i = 0
        self.request_last = 0
        self.dest = (0, 0)
        self.last_receive_s = 0.0
        self.last_request_s = 0.0
        self._buffer: list[StoredItem] = []

    # -- helpers ------------------------------------------------------------------------------
    def _ack(self, dest: tuple[int, int], result: int) -> None:
        self.host.send(mav.MAVLink_mission_ack_message(dest[0], dest[1], result,
                                                        self.mission_type))

    def _mavlink2_ok(self, src: tuple[int, int]) -> bool:
        if self.mission_type == MISSION or not self.host.link_is_mavlink1():
            return True
        self.host.text(mav.MAV_SEVERITY_WARNING, "Need mavlink2 for item transfer")
        self._ack(src, mav.MAV_MISSION_UNSUPPORTED)
        return False

    def _request(self) -> None:
        self.host.send(mav.MAVLink_mission_request_message(
            self.dest[0], self.dest[1], self.request_i, self.mission_type))
        self.last_request_s = self.host.now_s

    def _start_requests(self, src: tuple[int, int], first: int, last: int) -> None:
        self.last_receive_s = self.host.now_s
        self.receiving = True
        self.request_i = first
        self.request_last = last
        self.dest = src
        self._request()

    def _finish(self, result: int, src: tuple[int, int], after: Callable[[], None]) -> None:
        self.receiving = False
        self._ack(src, result)
        after()

    # -- handlers -----------------------------------------------------------------------------
    def handle_count(self, src: tuple[int, int], count: int) -> None:
        """MISSION_COUNT: start (or restart) an upload of ``count`` items."""
        if not self._mavlink2_ok(src):
            return
        if self.receiving and src != self.dest:
            self._ack(src, mav.MAV_MISSION_DENIED)
            return
        self.receiving = False
        if count > MAX_ITEMS[self.mission_type]:
            self._ack(src, mav.MAV_MISSION_NO_SPACE)
            self.host.text(mav.MAV_SEVERITY_WARNING,
                           f"Only {MAX_ITEMS[self.mission_type]} items are supported")
            return
        if self.mission_type == MISSION:
            current = self.host.items(MISSION)
            if count < len(current):
                self.host.store(MISSION, current[:max(count, 1)], complete=False)
        self._buffer = []
        if count == 0:
            if self.mission_type == MISSION:
                self._ack(src, mav.MAV_MISSION_ACCEPTED)
                self.host.store(MISSION, self.host.items(MISSION)[:1], complete=True)
            else:
                self._ack(src, mav.MAV_MISSION_ACCEPTED)
                self.host.store(self.mission_type, [], complete=True)
            return
        self._start_requests(src, 0, count - 1)

    def handle_write_partial(self, src: tuple[int, int], start: int, end: int) -> None:
        """MISSION_WRITE_PARTIAL_LIST: replace items ``start..end``."""
        total = len(self.host.items(self.mission_type))
        if start > total or end > total or end < start:
            self.host.text(mav.MAV_SEVERITY_WARNING, "Flight plan update rejected")
            self._ack(src, mav.MAV_MISSION_ERROR)
            return
        self._buffer = list(self.host.items(self.mission_type))
        self._start_requests(src, start, end)

    def handle_item(self, src: tuple[int, int], item: IncomingItem) -> None:
        """MISSION_ITEM or MISSION_ITEM_INT during an upload."""
        if not self.receiving:
            return
        if item.seq != self.request_i:
            self._ack(src, mav.MAV_MISSION_INVALID_SEQUENCE)
            return
        if src != self.dest:
            self._ack(src, mav.MAV_MISSION_DENIED)
            return
        converted = convert_item(item)
        if isinstance(converted, int):
            self.receiving = False
            self._ack(src, converted)
            return
        if self.mission_type == MISSION:
            items = list(self.host.items(MISSION))
            if item.seq == 0:
                pass  # home: the vehicle keeps its own
            elif item.seq < len(items):
                items[item.seq] = converted
                self.host.store(MISSION, items, complete=False)
            elif item.seq == len(items):
                items.append(converted)
                self.host.store(MISSION, items, complete=False)
            else:
                self.receiving = False
                self._ack(src, mav.MAV_MISSION_ERROR)
                return
        elif item.seq < len(self._buffer):
            self._buffer[item.seq] = converted
        else:
            self._buffer.append(converted)
        self.last_receive_s = self.host.now_s
        self.request_i += 1
        if self.request_i > self.request_last:
            self._complete(src)
            return
        self._request()

    def _complete(self, src: tuple[int, int]) -> None:
        if self.mission_type == MISSION:
            self._finish(mav.MAV_MISSION_ACCEPTED, src,
                         lambda: self.host.store(MISSION, self.host.items(MISSION), complete=True))
            return
        if self.mission_type == FENCE and not validate_fence(self._buffer):
            self.receiving = False
            self._ack(src, mav.MAV_MISSION_INVALID)
            return
        buffer = self._buffer
        self._finish(mav.MAV_MISSION_ACCEPTED, src,
                     lambda: self.host.store(self.mission_type, buffer, complete=True))

    def handle_request_list(self, src: tuple[int, int]) -> None:
        """MISSION_REQUEST_LIST: answer with MISSION_COUNT."""
        if not self._mavlink2_ok(src):
            return
        if self.receiving:
            self._ack(src, mav.MAV_MISSION_DENIED)
            return
        self.host.send(mav.MAVLink_mission_count_message(
            src[0], src[1], len(self.host.items(self.mission_type)), self.mission_type))

    def item_for_download(self, src: tuple[int, int], seq: int) -> StoredItem | None:
        """The stored item ``seq`` for MISSION_REQUEST(_INT), or None after sending an ack."""
        if not self._mavlink2_ok(src):
            return None
        if self.receiving:
            self._ack(src, mav.MAV_MISSION_DENIED)
            return None
        items = self.host.items(self.mission_type)
        if not 0 <= seq < len(items):
            self._ack(src, mav.MAV_MISSION_INVALID_SEQUENCE)
            return None
        return items[seq]

    def handle_clear(self, src: tuple[int, int]) -> None:
        """MISSION_CLEAR_ALL for this type."""
        ok = not self.receiving and not (self.mission_type == MISSION
                                          and self.host.mission_running())
        if ok:
            keep = self.host.items(MISSION)[:1] if self.mission_type == MISSION else []
            self.host.store(self.mission_type, keep, complete=True)
        self._ack(src, mav.MAV_MISSION_ACCEPTED if ok else mav.MAV_MISSION_ERROR)

    def update(self) -> None:
        """Re-request after 1 s of silence; cancel after 8 s."""
        if not self.receiving:
            return
        now = self.host.now_s
        if now - self.last_receive_s > UPLOAD_TIMEOUT_S:
            self.receiving = False
            self._ack(self.dest, mav.MAV_MISSION_OPERATION_CANCELLED)
            if self.mission_type == MISSION:
                self.host.text(mav.MAV_SEVERITY_WARNING, "Mission upload timeout")
            elif self.mission_type == RALLY:
                self.host.text(mav.MAV_SEVERITY_WARNING, "Rally upload timeout")
            else:
                self.host.text(mav.MAV_SEVERITY_WARNING, "Fence upload timeout")
            return
        if now - self.last_request_s > REQUEST_RESEND_S:
            self._request()


def item_int_message(target: tuple[int, int], seq: int, item: StoredItem,
                     mission_type: int) -> Any:
    """MISSION_ITEM_INT for a stored item."""
    return mav.MAVLink_mission_item_int_message(
        target[0], target[1], seq, item.frame, item.command, 0, item.autocontinue, item.param1,
        item.param2, item.param3, item.param4, item.x, item.y, item.z, mission_type)


def item_float_message(target: tuple[int, int], seq: int, item: StoredItem,
                       mission_type: int) -> Any:
    """MISSION_ITEM (float degrees) for a stored item."""
    return mav.MAVLink_mission_item_message(
        target[0], target[1], seq, item.frame, item.command, 0, item.autocontinue, item.param1,
        item.param2, item.param3, item.param4, item.x / 1e7, item.y / 1e7, item.z, mission_type)
