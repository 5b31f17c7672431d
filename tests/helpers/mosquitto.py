"""A real Mosquitto broker for tests: the bus's generated config (loopback, logins, ACL) on a
free port in a temporary folder, started, waited for, and stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dropline.region.broker import Broker, start_mosquitto
from dropline.region.errors import RegionError
from tests.helpers.ports import free_tcp_port

__all__ = ["Broker", "running_mosquitto"]


@contextmanager
def running_mosquitto(folder: Path, hubs: list[str]) -> Iterator[Broker]:
    """Mosquitto with the bus's config for ``hubs`` in ``folder`` on a free port, stopped
    after (a test fails when it cannot start)."""
    try:
        broker = start_mosquitto(folder, hubs, free_tcp_port())
    except RegionError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()
