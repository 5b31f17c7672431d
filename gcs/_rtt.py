"""Round-trip time estimates per vehicle, for the retransmission timers of transfers.

The smoothed round trip and its variation follow RFC 6298 (Jacobson/Karels). Only exchanges
whose request went out once are sampled (Karn's rule): an answer to a resent request, or a
vehicle's own timed re-request, says nothing about the round trip. When the timers back off,
a TIMESYNC ping gives a clean sample whatever was resent (:func:`gcs._transfer_engine.backoff`).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

#: Timeout before any round trip has been measured (s).
INITIAL_RTO_S = 0.2
#: Shortest retransmission timeout (s): below it thread scheduling alone causes resends.
MIN_RTO_S = 0.01


class RttEstimator:
    """Smoothed round trip (s) of one vehicle and the retransmission timeout it implies."""

    def __init__(self) -> None:
        self.srtt_s: float | None = None
        self.rttvar_s = 0.0
        self.samples = 0

    def sample(self, rtt_s: float) -> None:
        """Fold in one measured round trip."""
        if rtt_s < 0:
            return
        self.samples += 1
        if self.srtt_s is None:
            self.srtt_s = rtt_s
            self.rttvar_s = rtt_s / 2
            return
        self.rttvar_s = 0.75 * self.rttvar_s + 0.25 * abs(self.srtt_s - rtt_s)
        self.srtt_s = 0.875 * self.srtt_s + 0.125 * rtt_s

    def rto_s(self, ceiling_s: float) -> float:
        """Retransmission timeout: ``srtt + 4 rttvar`` within [MIN_RTO_S, ``ceiling_s``]."""
        if self.srtt_s is None:
            return min(INITIAL_RTO_S, ceiling_s)
        return min(max(self.srtt_s + 4 * self.rttvar_s, MIN_RTO_S), ceiling_s)

    def dedupe_s(self) -> float:
        """How long after an answer a repeated request is taken for a duplicate of the first.

        Short (half a round trip, at most 20 ms): answering a duplicate costs one message,
        ignoring a genuine repeat (the vehicle's own re-request) costs a timeout.
        """
        if self.srtt_s is None:
            return 0.005
        return min(max(self.srtt_s / 2, 0.001), 0.02)


_lock = threading.Lock()
_by_link: weakref.WeakKeyDictionary[Any, dict[int, RttEstimator]] = \
    weakref.WeakKeyDictionary()


def estimator(link: Any, sysid: int) -> RttEstimator:
    """The estimator of vehicle ``sysid`` on ``link`` (kept as long as the link lives)."""
    with _lock:
        per_link = _by_link.setdefault(link, {})
        est = per_link.get(sysid)
        if est is None:
            est = per_link[sysid] = RttEstimator()
        return est
