"""Fixtures for simulator tests: a factory of started built-in fleets, stopped after the test,
and one of socket-free ground stations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.ports import free_base_port
from tests.sitl.helpers import TRACE_HOME, OfflineGcs


@pytest.fixture
def builtin_fleet() -> Iterator[Callable[..., Any]]:
    """Factory ``builtin_fleet(vehicles=1, **kwargs)`` returning a started ``BuiltinFleet``.

    Defaults: the traces' home and speedup 20 (the real 42 s GPS/EKF settle time unless
    ``settle_s`` says otherwise); the base port is a free one unless given. Every fleet is
    stopped after the test.
    """
    from sitl.builtin import BuiltinFleet
    from sitl.errors import SimulatorError

    fleets: list[Any] = []

    def make(vehicles: int = 1, **kwargs: Any) -> Any:
        kwargs.setdefault("home", TRACE_HOME)
        kwargs.setdefault("speedup", 20.0)
        fixed = "base_port" in kwargs
        for attempt in range(5):
            if not fixed:
                kwargs["base_port"] = free_base_port(vehicles)
            fleet = BuiltinFleet(vehicles=vehicles, **kwargs)
            try:
                fleet.start()
            except SimulatorError:
                if fixed or attempt == 4:
                    raise
                continue
            fleets.append(fleet)
            return fleet
        raise AssertionError("unreachable")

    yield make
    for fleet in fleets:
        fleet.stop()
        assert fleet.loop_error is None, f"simulation loop failed: {fleet.loop_error!r}"


@pytest.fixture
def offline() -> Callable[..., OfflineGcs]:
    """Factory of :class:`OfflineGcs` (keyword arguments go to ``SimVehicle``)."""
    return OfflineGcs
