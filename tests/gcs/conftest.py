"""Fixtures for ground-control tests: a built-in simulated fleet and a link to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gcs.link import Link
from tests.sitl.ports import free_base_port

#: Where the recorded ArduPilot traces were flown (lat, lon, alt AMSL).
HOME = (30.3165, 78.0322, 640.0)


@pytest.fixture
def sim() -> Iterator[Callable[..., Any]]:
    """Factory ``sim(vehicles=1, **kwargs)``: a started built-in fleet, stopped after the test."""
    from sitl.builtin import BuiltinFleet

    fleets: list[Any] = []

    def make(vehicles: int = 1, **kwargs: Any) -> Any:
        kwargs.setdefault("home", HOME)
        kwargs.setdefault("speedup", 20.0)
        kwargs.setdefault("settle_s", 2.0)
        kwargs.setdefault("base_port", free_base_port(vehicles))
        fleet = BuiltinFleet(vehicles=vehicles, **kwargs)
        fleets.append(fleet)
        fleet.start()
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()


@pytest.fixture
def link_to() -> Iterator[Callable[[str], Link]]:
    """Factory ``link_to(url)``: an open link that has heard a heartbeat, closed after the test."""
    links: list[Link] = []

    def make(url: str) -> Link:
        link = Link(url).open()
        links.append(link)
        assert link.wait(lambda m: m.get_type() == "HEARTBEAT", 10.0) is not None
        return link

    yield make
    for link in links:
        link.close()
