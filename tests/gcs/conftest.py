"""Fixtures for ground-control tests: a built-in simulated fleet and a link to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gcs.link import Link
from tests.gcs.helpers import sim as sim


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
