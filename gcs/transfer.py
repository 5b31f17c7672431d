"""Mission, fence and rally transfer: upload, download, clear, set current, verify.

The ground-station side of the MAVLink mission protocol as ArduPilot speaks it: the vehicle asks
for each item (MISSION_REQUEST, or MISSION_REQUEST_INT) and acks the whole list; every step here
has a timeout and retries; every MISSION_ACK result becomes a clear error naming the item. After an
upload, :func:`upload_verified` reads the list back and compares it item by item with ArduPilot's
normalisations (home replaced by the real home, frames 6/5/11 returned as 3/0/10, positionless
commands returned with frame 0, NAV_LAND param4, float32 precision: :mod:`gcs.storage`).
Uploads and downloads run on the vehicle's measured round trip (:mod:`gcs._transfer_engine`):
under 30 % packet loss a 100-item mission uploads and verifies in about a second where a
fixed-timer client, waiting on the vehicle's 1 s re-requests, takes minutes
(``benchmarks/upload.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gcs import mavlink as mav
from gcs._transfer_engine import Download, Upload, for_us
from gcs._transfer_engine import result_name as result_name
from gcs.errors import LinkTimeout, MissionTransferError
from gcs.link import Link, Message
from gcs.storage import differences
from planner.items import MissionItem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """The vehicle (system, component) a transfer talks to."""

    sysid: int
    compid: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Timeout of one try and number of tries before giving up.

    Commands wait ``timeout_s`` for each of ``tries`` sends. Uploads and downloads resend on
    timers from the vehicle's measured round trip, never longer than ``timeout_s``, and give up
    after ``tries * timeout_s`` without progress.
    """

    timeout_s: float = 1.5
    tries: int = 6


#: The default retry policy: 1.5 s per try, 6 tries.
DEFAULT_RETRY = Retry()


def to_message(link: Link, target: Target, seq: int, item: MissionItem) -> Message:
    """A MISSION_ITEM_INT for ``item`` at ``seq``."""
    return link.mav.mission_item_int_encode(
        target.sysid, target.compid, seq, int(item.frame), int(item.command), 0,
        int(item.autocontinue), item.param1, item.param2, item.param3, item.param4,
        round(item.lat_deg * 1e7), round(item.lon_deg * 1e7), item.alt_m, int(item.mission_type))


def from_message(msg: Message) -> MissionItem:
    """The item a MISSION_ITEM_INT (or float MISSION_ITEM) carries."""
    scale = 1e-7 if msg.get_type() == "MISSION_ITEM_INT" else 1.0
    return MissionItem(command=msg.command, frame=msg.frame, param1=msg.param1,
                       param2=msg.param2, param3=msg.param3, param4=msg.param4,
                       lat_deg=msg.x * scale, lon_deg=msg.y * scale, alt_m=msg.z,
                       autocontinue=bool(msg.autocontinue),
                       mission_type=getattr(msg, "mission_type", 0))


def _from(link: Link, target: Target, *types: str) -> Any:
    def accept(msg: Message) -> bool:
        return bool(msg.get_type() in types and msg.get_srcSystem() == target.sysid
                    and for_us(link, msg))
    return accept


def upload(link: Link, target: Target, items: Sequence[MissionItem], mission_type: int,
           retry: Retry = DEFAULT_RETRY, *, restarts: int = 4) -> None:
    """Send ``items`` (item 0 = home for missions) and wait for the vehicle's MISSION_ACK.

    The vehicle drives the transfer by requesting each item (MISSION_REQUEST_INT, or the legacy
    MISSION_REQUEST); each request is answered from the link's reader thread as it arrives. When
    neither the next request nor the ack comes within the retransmission timer (a few of the
    vehicle's measured round trips), the item or the request was lost and the items from the
    vehicle's last request on are sent again, so that a loss costs a few round trips rather than
    the vehicle's 1 s re-request timer; ArduPilot answers the copies it already has with
    MAV_MISSION_INVALID_SEQUENCE, which is not fatal. When the final ack may have been lost, a
    MISSION_REQUEST_LIST tells a finished vehicle (its count) from one still receiving (DENIED).
    A cancelled upload (the vehicle's own timeout) restarts with a new MISSION_COUNT, at most
    ``restarts`` times. See :mod:`gcs._transfer_engine`.

    Raises
    ------
    MissionTransferError
        The vehicle refused an item or the list (the result is named, with the item).
    LinkTimeout
        No progress for ``retry.tries * retry.timeout_s``.
    """
    messages = [to_message(link, target, seq, item) for seq, item in enumerate(items)]
    engine = Upload(link, target.sysid, target.compid, mission_type, messages,
                    timeout_s=retry.timeout_s, tries=retry.tries, restarts=restarts)
    started = time.monotonic()
    engine.run()
    log.debug("vehicle %d: %d items of type %d in %.3f s: %d sent, %d timeouts, %d restarts",
              target.sysid, len(items), mission_type, time.monotonic() - started,
              engine.items_sent, engine.timeouts, engine.restarted)


def download(link: Link, target: Target, mission_type: int,
             retry: Retry = DEFAULT_RETRY) -> tuple[MissionItem, ...]:
    """Read the vehicle's list of ``mission_type`` items (for missions item 0 is home).

    Up to :data:`~gcs._transfer_engine.DOWNLOAD_WINDOW` item requests are outstanding at once;
    each is sent again when the retransmission timer runs out.

    Raises
    ------
    LinkTimeout
        No count, or no new item, for ``retry.tries * retry.timeout_s``.
    """
    engine = Download(link, target.sysid, target.compid, mission_type,
                      timeout_s=retry.timeout_s, tries=retry.tries)
    engine.run()
    link.send(link.mav.mission_ack_encode(target.sysid, target.compid,
                                          mav.dialect.MAV_MISSION_ACCEPTED, mission_type))
    return tuple(from_message(m) for m in engine.items())


def _await(sub: Any, accept: Any, timeout_s: float) -> Message | None:
    """The first queued message ``accept`` takes within ``timeout_s`` (others are dropped)."""
    end = time.monotonic() + timeout_s
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        msg = sub.get(left)
        if msg is None:
            return None
        if accept(msg):
            return msg


def clear(link: Link, target: Target, mission_type: int, retry: Retry = DEFAULT_RETRY) -> None:
    """Delete the vehicle's list of ``mission_type`` items (MISSION_CLEAR_ALL, acked)."""
    d = mav.dialect
    with link.subscribe(_from(link, target, "MISSION_ACK")) as sub:
        for _ in range(retry.tries):
            link.send(link.mav.mission_clear_all_encode(target.sysid, target.compid,
                                                        mission_type))
            msg = _await(sub, lambda m: getattr(m, "mission_type", 0) == mission_type,
                         retry.timeout_s)
            if msg is None:
                continue
            if msg.type != d.MAV_MISSION_ACCEPTED:
                raise MissionTransferError(f"vehicle refused to clear: {result_name(msg.type)}",
                                           mission_type=mission_type, result_code=int(msg.type),
                                           sysid=target.sysid)
            return
    raise LinkTimeout("MISSION_ACK for MISSION_CLEAR_ALL",
                      timeout_s=retry.tries * retry.timeout_s, sysid=target.sysid)


def set_current(link: Link, target: Target, seq: int, retry: Retry = DEFAULT_RETRY) -> None:
    """Make item ``seq`` the current mission item (confirmed by MISSION_CURRENT)."""
    with link.subscribe(_from(link, target, "MISSION_CURRENT")) as sub:
        for _ in range(retry.tries):
            link.send(link.mav.mission_set_current_encode(target.sysid, target.compid, seq))
            if _await(sub, lambda m: m.seq == seq, retry.timeout_s) is not None:
                return
    raise LinkTimeout(f"MISSION_CURRENT {seq}", timeout_s=retry.tries * retry.timeout_s,
                      sysid=target.sysid)


def upload_verified(link: Link, target: Target, items: Sequence[MissionItem],
                    mission_type: int, retry: Retry = DEFAULT_RETRY) -> tuple[MissionItem, ...]:
    """Upload, read back and compare; returns what the vehicle holds.

    Raises
    ------
    MissionTransferError
        The upload failed or the read-back differs (every difference listed).
    """
    upload(link, target, items, mission_type, retry)
    got = download(link, target, mission_type, retry)
    diffs = differences(items, got, mission_type)
    if diffs:
        raise MissionTransferError("read-back differs from what was sent: " + "; ".join(diffs),
                                   mission_type=mission_type, sysid=target.sysid)
    return got
