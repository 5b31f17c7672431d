"""Polling helpers for tests that wait on live vehicles, links and servers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def poll(cond: Callable[[], object], timeout_s: float, period_s: float = 0.05) -> bool:
    """Call ``cond`` every ``period_s`` until it is true (True) or ``timeout_s`` passed (False)."""
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(period_s)
    return True


def wait_until(cond: Callable[[], object], timeout_s: float, what: str,
               period_s: float = 0.05) -> None:
    """:func:`poll`, failing the test with ``what`` on a timeout."""
    if not poll(cond, timeout_s, period_s):
        pytest.fail(f"timed out waiting for {what}")
