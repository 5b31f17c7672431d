"""Snapshot subscriptions: positions go out as soon as the rate allows; other changes wait."""

from __future__ import annotations

import threading
import time
from typing import Any

from gcs.telemetry import BURST, JITTER_ALLOWANCE, SnapshotSubscription
from tests.helpers.waiting import poll


class _Hub:
    """The part of a TelemetryHub a subscription uses: a clock and snapshots."""

    clock = staticmethod(time.monotonic)

    def snapshot(self, sysid: int) -> Any:
        return sysid

    def _unsubscribe(self, sub: Any) -> None:
        pass


def _subscription(rate_hz: float) -> tuple[SnapshotSubscription, list[float]]:
    got: list[float] = []
    lock = threading.Lock()

    def on_snapshot(_snap: Any) -> None:
        with lock:
            got.append(time.monotonic())

    return SnapshotSubscription(_Hub(), on_snapshot, rate_hz, None), got  # type: ignore[arg-type]


def test_positions_go_out_at_the_rate_and_other_changes_wait() -> None:
    """Two snapshots may go at once, then positions at the rate; a battery change alone waits
    1.5 periods from the last snapshot."""
    sub, got = _subscription(rate_hz=1.0)
    try:
        sub.mark(1, urgent=False)  # the first snapshot of a vehicle goes out at once
        assert poll(lambda: len(got) == 1, 5.0)
        sub.mark(1, urgent=True)  # a burst of two
        assert poll(lambda: len(got) == 2, 5.0)
        sub.mark(1, urgent=False)
        time.sleep(0.3)
        assert len(got) == 2
        sub.mark(1, urgent=True)
        assert poll(lambda: len(got) == 3, 5.0)
        assert 1.0 / JITTER_ALLOWANCE - 0.05 <= got[2] - got[1] < 1.45
        sub.mark(1, urgent=False)
        assert poll(lambda: len(got) == 4, 5.0)
        assert got[3] - got[2] >= 1.45
    finally:
        sub.close()


def test_changes_between_snapshots_are_merged() -> None:
    """Many changes give snapshots at the rate (after a burst), not one each."""
    sub, got = _subscription(rate_hz=2.0)
    try:
        start = time.monotonic()
        for _ in range(50):
            sub.mark(7)
            time.sleep(0.02)
        time.sleep(0.6)
        elapsed_s = time.monotonic() - start
        assert 2 <= len(got) <= BURST + elapsed_s * 2.0 * JITTER_ALLOWANCE
    finally:
        sub.close()
