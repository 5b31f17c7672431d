"""Running until stopped: Ctrl-C and SIGTERM, and the wait loop of ``dropline sim`` and
``dropline sitl start``, which also feeds standard input to a console and watches the processes.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO, Any


class StopSignals:
    """SIGINT and SIGTERM while inside: during start-up they interrupt (KeyboardInterrupt, so
    that whatever was started is stopped again); once :attr:`running` is set they only set
    :attr:`stop`, which the run loop watches. Handlers are only installed in the main thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = False
        self._previous: dict[int, Any] = {}

    def _handle(self, _signum: int, _frame: object) -> None:
        self.stop.set()
        if not self.running:
            raise KeyboardInterrupt

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_until_stopped(stop: threading.Event, on_line: Callable[[str], bool] | None,
                      tick: Callable[[], bool] | None = None, stdin: IO[str] | None = None) -> None:
    """Wait until ``stop`` is set, ``on_line`` (fed standard input) returns False, or ``tick``
    (called about every 0.2 s) returns False."""
    lines: queue.Queue[str | None] = queue.Queue()
    if on_line is not None:
        threading.Thread(target=_read_lines, args=(stdin or sys.stdin, lines), daemon=True,
                         name="sim-console").start()
    while not stop.is_set():
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            on_line = None
        elif line and on_line is not None and not on_line(line):
            return
        if tick is not None and not tick():
            return
