"""Link loss over real MAVLink with the built-in simulator in a process of its own (so that the
ground station can stall without stalling the vehicle): a 2 s stall of the ground station's
process at speed-up 10 (its threads starved of the interpreter while the vehicle flies on and
its messages queue in the socket) raises no link_lost; a link that really stops (the
simulator's ``fault 1 cut``) does, and link_restored follows when it comes back."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gcs.fleet.failsafe import Alert, AlertKind, FailsafeLimits, FailsafeMonitor
from gcs.fleet.monitor import CHECK_PERIOD_S
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from tests.gcs.helpers import tutorial_case
from tests.helpers.ports import free_base_port
from tests.helpers.shared_data import REPO
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.sitl, pytest.mark.slow]
SPEEDUP = 10.0


@pytest.fixture
def sim_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``dropline sim`` at speed-up 10 in its own process: the process and its connection."""
    port = free_base_port(1)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from dropline.cli import main; sys.exit(main())",
         "sim", "--speedup", str(SPEEDUP), "--base-port", str(port),
         "--scenario", str(REPO / "missions" / "tutorial")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=REPO)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("tcp:"), url
        yield proc, url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.terminate()
        proc.wait(10.0)
        if proc.stdout is not None:
            proc.stdout.close()


class Watch:
    """The failsafe monitor checked every ``CHECK_PERIOD_S`` in a thread, as a flight is."""

    def __init__(self, hub: TelemetryHub) -> None:
        sortie = max(tutorial_case(3).plan.sorties, key=lambda s: len(s.drop_ids))
        self.monitor = FailsafeMonitor(sortie, sysid=1, limits=FailsafeLimits(link_lost_s=5.0),
                                       time_scale=SPEEDUP, check_period_s=CHECK_PERIOD_S)
        self.hub = hub
        self.alerts: list[Alert] = []
        self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="watch")

    def _run(self) -> None:
        while not self._stop.wait(CHECK_PERIOD_S):
            snap = self.hub.snapshot(1)
            if snap is not None:
                self.alerts += self.monitor.check(snap, time.monotonic())
                self.checks += 1

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def kinds(self) -> list[AlertKind]:
        """Kinds of the alerts so far."""
        return [a.kind for a in self.alerts]


def _stall_process(seconds: float) -> None:
    """Hold the interpreter for ``seconds``: no other thread of the ground station runs."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(seconds + 5.0)
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
    finally:
        sys.setswitchinterval(interval)


def test_a_stalled_ground_station_is_no_lost_link_a_cut_is(
        sim_process: tuple[subprocess.Popen[str], Any]) -> None:
    """Stall 2 s (20 s of the vehicle's time, four times its 5 s limit): no link_lost, the
    vehicle's heartbeats were queued, not missing. Cut the link for 30 vehicle seconds:
    link_lost, then link_restored."""
    proc, url = sim_process
    link = Link(url, heartbeat_period_s=1.0 / SPEEDUP).open()
    hub = TelemetryHub(stream_rate_hz=1.0)
    hub.attach(link)
    try:
        wait_until(lambda: hub.snapshot(1) is not None and hub.snapshot(1).boot_time_s,  # type: ignore[union-attr]
                   20.0, "the vehicle heard")
        with Watch(hub) as watch:
            time.sleep(2.0)  # the vehicle's pace is measured
            stalled_checks = watch.checks
            started = time.monotonic()
            _stall_process(2.0)
            assert time.monotonic() - started >= 2.0
            time.sleep(2.0)
            assert watch.checks > stalled_checks + 10
            assert watch.monitor.link_clock.last_stall_s >= 1.5  # the stall was real
            assert AlertKind.LINK_LOST not in watch.kinds(), watch.alerts
            assert proc.stdin is not None
            proc.stdin.write("fault 1 cut 30\n")
            proc.stdin.flush()
            wait_until(lambda: AlertKind.LINK_LOST in watch.kinds(), 10.0, "link_lost")
            wait_until(lambda: AlertKind.LINK_RESTORED in watch.kinds(), 20.0,
                       "link_restored")
    finally:
        hub.close()
        link.close()
    [lost] = [a for a in watch.alerts if a.kind == AlertKind.LINK_LOST]
    assert "of the vehicle's time" in lost.message
