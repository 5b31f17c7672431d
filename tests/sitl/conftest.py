"""Fixtures for simulator tests: a factory of started built-in fleets, stopped after the test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
TRACES = SHARED / "ardupilot" / "traces"

#: Home of the recorded traces (lat, lon, alt AMSL).
TRACE_HOME = (30.3165, 78.0322, 640.0)

_ports = itertools.count(0)


def free_base_port() -> int:
    """A base port no other fleet of this test process uses (per xdist worker too)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker[2:] or 0) if worker.startswith("gw") else 0
    return 21000 + 2000 * offset + 40 * (next(_ports) % 45)


@pytest.fixture
def builtin_fleet() -> Iterator[Callable[..., Any]]:
    """Factory ``builtin_fleet(vehicles=1, **kwargs)`` returning a started ``BuiltinFleet``.

    Defaults: the traces' home, speedup 20, a free base port, and ``SIM_READY_S``-style fast
    settling unless ``params`` say otherwise. Every fleet is stopped after the test.
    """
    from sitl.builtin import BuiltinFleet

    fleets: list[Any] = []

    def make(vehicles: int = 1, **kwargs: Any) -> Any:
        kwargs.setdefault("home", TRACE_HOME)
        kwargs.setdefault("speedup", 20.0)
        kwargs.setdefault("base_port", free_base_port())
        fleet = BuiltinFleet(vehicles=vehicles, **kwargs)
        fleets.append(fleet)
        fleet.start()
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()
