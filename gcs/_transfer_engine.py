"""The mission protocol's upload and download, driven from the link's reader thread.

Each transfer is a small state machine. Messages from the vehicle are handled by a link listener
as they arrive, so that the answer (the next item, the next request) leaves without waiting for
another thread to wake; the calling thread only runs the timers. Timers follow the vehicle's
measured round trip (:mod:`gcs._rtt`), so that a lost message costs a few round trips instead of
the vehicle's 1 s re-request timer or a fixed 1.5 s.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

from gcs import _rtt
from gcs import mavlink as mav
from gcs.errors import LinkTimeout, MissionTransferError
from gcs.link import Link, Message
from planner.errors import DroplineError

_D = mav.dialect
_RESULT_NAMES = {int(k): str(v.name) for k, v in _D.enums["MAV_MISSION_RESULT"].items()}

#: Most items sent again on one timeout, from the vehicle's last request on.
RESEND_WINDOW = 8
#: Requests outstanding at once while reading a list back.
DOWNLOAD_WINDOW = 8
#: A request below the vehicle's last one that comes again this long after the first copy
#: means the vehicle went back (it restarted on a late duplicate MISSION_COUNT), not a late
#: duplicate: duplicates arrive together, ArduPilot repeats a request after 1 s.
_WENT_BACK_S = 0.03
#: Timeouts in a row after which a MISSION_REQUEST_LIST asks whether the vehicle still
#: receives (its cancel may have been lost), or finished (its ack may have been lost).
_PROBE_AFTER = 3
_PROBE_AFTER_LAST = 2
#: MAV_MISSION_DENIED answers to a MISSION_COUNT, before any request, that end the upload.
_DENIALS = 3


def result_name(code: int) -> str:
    """The MAV_MISSION_RESULT name of a code (``MAV_MISSION_INVALID_SEQUENCE``)."""
    return str(_RESULT_NAMES.get(code, f"MAV_MISSION_RESULT {code}"))


def backoff(timeouts: int) -> int:
    """Timer multiplier after ``timeouts`` timeouts in a row: 1, 1, 2, 4, then 8.

    Losses alone are best met with resends at the estimated round trip. A link that became
    slower than the estimate is met by the doubling, and by a TIMESYNC ping sent once the timer
    doubles: its answer is matched by its own timestamp, so it measures the round trip however
    many copies of the transfer's messages went out (they only give samples by Karn's rule).
    """
    return 1 << min(max(timeouts - 2, 0), 3)


def for_us(link: Link, msg: Message) -> bool:
    """Whether a reply is addressed to this station or to everyone, not to a forwarded client
    sharing the link (:mod:`gcs.forward`): vehicles answer the asker's exact system and
    component, and clients such as MAVProxy and DroneKit use component 0 where we use 190."""
    system = int(getattr(msg, "target_system", 0))
    component = int(getattr(msg, "target_component", 0))
    if system == 0:
        return component in (0, link.source_component)
    return system == link.source_system and component == link.source_component


class _Driven:
    """Messages handled in the reader thread, timers in the caller's; one lock for both."""

    types: frozenset[str] = frozenset()

    def __init__(self, link: Link, sysid: int, compid: int, mission_type: int,
                 timeout_s: float, tries: int) -> None:
        self.link, self.sysid, self.compid = link, sysid, compid
        self.mission_type = mission_type
        self.timeout_s = timeout_s
        self.give_up_s = tries * timeout_s
        self.rtt = _rtt.estimator(link, sysid)
        self._cond = threading.Condition()
        self._finished = False
        self._error: BaseException | None = None
        self._wake_at = math.inf
        self._ping_at: float | None = None
        self._ping_ts1 = 0
        self.last_progress = time.monotonic()

    def wait_s(self, timeouts: int) -> float:
        """The timer after ``timeouts`` timeouts without a clean round trip."""
        return min(self.rtt.rto_s(self.timeout_s) * backoff(timeouts), self.timeout_s)

    def clean_sample(self, rtt_s: float) -> None:
        """A round trip whose request went out once (Karn's rule)."""
        self.rtt.sample(rtt_s)

    def ping(self, now: float) -> None:
        """Measure the round trip with a TIMESYNC (one at a time, at most once per timer)."""
        if self._ping_at is not None and now - self._ping_at < self.timeout_s:
            return
        self._ping_at = now
        self._ping_ts1 = time.monotonic_ns()
        self.send(self.link.mav.timesync_encode(0, self._ping_ts1))

    def _on_timesync(self, msg: Message, now: float) -> None:
        if msg.tc1 != 0 and msg.ts1 == self._ping_ts1 and self._ping_at is not None:
            self.clean_sample(now - self._ping_at)
            self._ping_at = None

    def _listener(self, msg: Message) -> None:
        kind = msg.get_type()
        if kind == "TIMESYNC" and msg.get_srcSystem() == self.sysid:
            with self._cond:
                self._on_timesync(msg, time.monotonic())
            return
        if kind not in self.types or msg.get_srcSystem() != self.sysid or \
                getattr(msg, "mission_type", 0) != self.mission_type or \
                not for_us(self.link, msg):
            return
        with self._cond:
            if self._finished:
                return
            try:
                done = self.on_message(msg, time.monotonic())
            except DroplineError as exc:
                self._error, done = exc, True
            if done:
                self._finished = True
                self._cond.notify_all()
            elif self.next_due() < self._wake_at:
                self._cond.notify_all()  # the timer moved earlier (a first round-trip sample)

    def run(self) -> None:
        """Start, then run the timers until the transfer ends; raise its error."""
        self.link.add_listener(self._listener)
        try:
            with self._cond:
                self.start(time.monotonic())
                while not self._finished:
                    now = time.monotonic()
                    if now - self.last_progress >= self.give_up_s:
                        raise self.timed_out()
                    due = self.next_due()
                    if now >= due:
                        self.on_timeout(now)
                    else:
                        self._wake_at = min(due, self.last_progress + self.give_up_s)
                        self._cond.wait(self._wake_at - now)
                        self._wake_at = math.inf
        finally:
            self.link.remove_listener(self._listener)
        if self._error is not None:
            raise self._error

    def send(self, msg: Message) -> None:
        self.link.send(msg)

    # -- implemented by each transfer ----------------------------------------------------------
    def start(self, now: float) -> None:
        raise NotImplementedError

    def next_due(self) -> float:
        raise NotImplementedError

    def on_timeout(self, now: float) -> None:
        raise NotImplementedError

    def on_message(self, msg: Message, now: float) -> bool:
        raise NotImplementedError

    def timed_out(self) -> LinkTimeout:
        raise NotImplementedError


class Upload(_Driven):
    """Send prepared MISSION_ITEM_INT messages as the vehicle asks for them.

    When neither the vehicle's next request nor its ack comes within the timer, our item or its
    request was lost: the items from its last request up to one past the highest sent go again,
    in order (ArduPilot takes the one it waits for and answers the others with
    MAV_MISSION_INVALID_SEQUENCE). A request answered less than two round trips ago is a
    duplicate and is not answered again. Once the last item went out, silence or
    MAV_MISSION_ERROR (ArduPilot's answer to an item after it finished) is settled with a
    MISSION_REQUEST_LIST: a finished vehicle answers its count, a receiving one DENIED.
    """

    types = frozenset({"MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK", "MISSION_COUNT"})

    def __init__(self, link: Link, sysid: int, compid: int, mission_type: int,
                 messages: Sequence[Message], *, timeout_s: float, tries: int,
                 restarts: int) -> None:
        super().__init__(link, sysid, compid, mission_type, timeout_s, tries)
        self.messages = messages
        self.n = len(messages)
        self.restarts = restarts
        self.restarted = 0
        self.count_msg = link.mav.mission_count_encode(sysid, compid, self.n, mission_type)
        self.items_sent = 0
        self.timeouts = 0
        self.last_error: int | None = None
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self.hi_req = -1
        self.hi_sent = -1
        self.sent_at = [-math.inf] * self.n
        self.sends = [0] * self.n
        self.went_back: dict[int, float] = {}
        self.probing = False
        self.denials = 0
        self.idle_rounds = 0
        self.count_sends = 0
        self.count_at = self.last_send = self.last_progress = now

    @property
    def sent_last(self) -> bool:
        """The last item went out at least once (an empty list: nothing to send)."""
        return self.n == 0 or self.sends[-1] > 0

    def start(self, now: float) -> None:
        self._reset(now)
        self._send_count(now)

    def _send_count(self, now: float) -> None:
        self.send(self.count_msg)
        self.count_at = self.last_send = now
        self.count_sends += 1

    def _send_item(self, seq: int, now: float) -> None:
        self.send(self.messages[seq])
        self.sent_at[seq] = self.last_send = now
        self.sends[seq] += 1
        self.items_sent += 1
        self.hi_sent = max(self.hi_sent, seq)

    def next_due(self) -> float:
        return self.last_send + self.wait_s(self.idle_rounds)

    def timed_out(self) -> LinkTimeout:
        what = "the first MISSION_REQUEST" if self.hi_req < 0 else \
            f"MISSION_REQUEST after item {self.hi_req}"
        return LinkTimeout(what, timeout_s=self.give_up_s, sysid=self.sysid)

    def _fail(self, reason: str, code: int | None = None) -> MissionTransferError:
        return MissionTransferError(reason, mission_type=self.mission_type,
                                    item_index=self.hi_req if self.hi_req >= 0 else None,
                                    result_code=code, sysid=self.sysid)

    def on_timeout(self, now: float) -> None:
        self.idle_rounds += 1
        self.timeouts += 1
        if backoff(self.idle_rounds) > 1:
            self.ping(now)
        if self.hi_req < 0:
            self._send_count(now)  # nothing requested yet: a restart costs nothing
            return
        top = min(max(self.hi_sent, self.hi_req) + 1, self.n - 1)
        for seq in range(self.hi_req, min(top, self.hi_req + RESEND_WINDOW - 1) + 1):
            self._send_item(seq, now)
        if self.idle_rounds >= (_PROBE_AFTER_LAST if self.sent_last else _PROBE_AFTER):
            self._probe(now)

    def _probe(self, now: float) -> None:
        self.probing = True
        self.send(self.link.mav.mission_request_list_encode(self.sysid, self.compid,
                                                            self.mission_type))
        self.last_send = now

    def on_message(self, msg: Message, now: float) -> bool:
        kind = msg.get_type()
        if kind == "MISSION_ACK":
            return self._on_ack(int(msg.type), now)
        if kind == "MISSION_COUNT":
            if not self.probing:
                return False
            if self.sent_last and int(msg.count) == self.n:
                return True  # finished; its ack was lost (the read-back checks the content)
            return self._restart_or_fail(  # it stopped receiving: its cancel was lost
                f"upload not completed: the vehicle holds {msg.count} of {self.n} items", now,
                self.last_error)
        seq = int(msg.seq)
        if not 0 <= seq < self.n:
            raise MissionTransferError(f"vehicle asked for item {seq} of {self.n}",
                                       mission_type=self.mission_type, item_index=seq,
                                       sysid=self.sysid)
        if seq > self.hi_req:
            # Karn's rule: only an answer to a request sent once measures the round trip (an
            # answer to a resent one, or the vehicle's own re-request, would not)
            if seq > 0 and self.sends[seq - 1] == 1 and self.hi_req == seq - 1:
                self.clean_sample(now - self.sent_at[seq - 1])
            elif seq == 0 and self.count_sends == 1:
                self.clean_sample(now - self.count_at)
            self.hi_req = seq
            self.went_back.clear()
            self.idle_rounds = 0
            self.last_progress = now
        elif seq < self.hi_req:
            first = self.went_back.setdefault(seq, now)
            if now - first < _WENT_BACK_S:
                return False  # a late duplicate
            self.hi_req, self.hi_sent = seq, seq - 1
            self.went_back.clear()
        if now - self.sent_at[seq] >= self.rtt.dedupe_s():
            self._send_item(seq, now)
        return False

    def _on_ack(self, code: int, now: float) -> bool:
        if code == _D.MAV_MISSION_ACCEPTED:
            return self.sent_last  # before that, a stale ack of an earlier transfer
        if code == _D.MAV_MISSION_INVALID_SEQUENCE:
            return False  # an item sent again that the vehicle already had
        if code == _D.MAV_MISSION_OPERATION_CANCELLED:
            return self._restart_or_fail(f"vehicle cancelled the upload: {result_name(code)}",
                                         now, code)
        if code == _D.MAV_MISSION_ERROR and self.hi_req >= 0:
            # ArduPilot's answer to an item once it stopped receiving (finished, or cancelled
            # with the cancel lost), or a refused item: its count tells which
            self.last_error = code
            if not self.probing:
                self._probe(now)
            return False
        if code == _D.MAV_MISSION_DENIED:
            if self.hi_req >= 0 or self.probing:
                self.probing = False  # still receiving (or a late answer to a read): go on
                return False
            self.denials += 1  # maybe a late answer to a read; several: another upload
            if self.denials < _DENIALS:
                return False
        raise self._fail(f"vehicle refused the upload: {result_name(code)}", code)

    def _restart_or_fail(self, reason: str, now: float, code: int | None = None) -> bool:
        if self.restarted >= self.restarts:
            raise self._fail(reason, code)
        self.restarted += 1
        self.start(now)
        return False


class Download(_Driven):
    """Read a list: MISSION_REQUEST_LIST, then up to :data:`DOWNLOAD_WINDOW` requests at once.

    Each request is sent again when its timer runs out (doubling after two resends); the next
    request leaves as soon as an item arrives. :attr:`got` holds the MISSION_ITEM_INT messages.
    """

    types = frozenset({"MISSION_COUNT", "MISSION_ITEM_INT"})

    def __init__(self, link: Link, sysid: int, compid: int, mission_type: int, *,
                 timeout_s: float, tries: int) -> None:
        super().__init__(link, sysid, compid, mission_type, timeout_s, tries)
        self.count: int | None = None
        self.got: dict[int, Message] = {}
        self.pending: dict[int, float] = {}
        self.sends: dict[int, int] = {}
        self.next_seq = 0
        self.list_at = 0.0
        self.list_sends = 0

    def start(self, now: float) -> None:
        self.last_progress = now
        self._ask_list(now)

    def _ask_list(self, now: float) -> None:
        self.send(self.link.mav.mission_request_list_encode(self.sysid, self.compid,
                                                            self.mission_type))
        self.list_at = now
        self.list_sends += 1

    def _ask(self, seq: int, now: float) -> None:
        self.send(self.link.mav.mission_request_int_encode(self.sysid, self.compid, seq,
                                                           self.mission_type))
        self.pending[seq] = now
        self.sends[seq] = self.sends.get(seq, 0) + 1

    def _fill(self, now: float) -> None:
        assert self.count is not None
        while len(self.pending) < DOWNLOAD_WINDOW and self.next_seq < self.count:
            self._ask(self.next_seq, now)
            self.next_seq += 1

    def _due(self, seq: int) -> float:
        return self.pending[seq] + self.wait_s(self.sends[seq] - 1)

    def next_due(self) -> float:
        if self.count is None:
            return self.list_at + self.wait_s(self.list_sends - 1)
        return min(self._due(s) for s in self.pending)

    def on_timeout(self, now: float) -> None:
        if self.count is None:
            self._ask_list(now)
            return
        late = [s for s in self.pending if self._due(s) <= now]
        for seq in late:
            self._ask(seq, now)
        if any(backoff(self.sends[s] - 1) > 1 for s in late):
            self.ping(now)

    def timed_out(self) -> LinkTimeout:
        what = "MISSION_COUNT" if self.count is None else \
            f"MISSION_ITEM_INT {min(self.pending, default=self.next_seq)}"
        return LinkTimeout(what, timeout_s=self.give_up_s, sysid=self.sysid)

    def on_message(self, msg: Message, now: float) -> bool:
        if msg.get_type() == "MISSION_COUNT":
            if self.count is not None:
                return False
            if self.list_sends == 1:
                self.clean_sample(now - self.list_at)
            self.count = int(msg.count)
            self.last_progress = now
            self._fill(now)
            return self.count == 0
        seq = int(msg.seq)
        if self.count is None or seq in self.got or not 0 <= seq < self.count:
            return False
        at = self.pending.pop(seq, None)
        if at is not None and self.sends[seq] == 1:
            self.clean_sample(now - at)
        self.got[seq] = msg
        self.last_progress = now
        self._fill(now)
        return len(self.got) == self.count

    def items(self) -> list[Any]:
        """The received items in order."""
        return [self.got[i] for i in range(len(self.got))]
