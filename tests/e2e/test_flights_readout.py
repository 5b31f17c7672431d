"""The Flights page in a real browser: the list shows plan and duration, and the replay readout
gives a labelled height (above ground over the plan's DEM, else above home), never
"undefined"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Watched
from tests.web.helpers import serve, services
from tests.web.helpers_flights import record_flights

pytestmark = pytest.mark.slow


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    """The console on a free port with a flight of a plan and one of no known plan."""
    found = record_flights(tmp_path)
    try:
        for server in serve(found["app"]):
            yield server.url
    finally:
        services(found["app"]).close()


def test_the_replay_readout_names_its_height(console: str, browser: Any) -> None:
    """Replaying each flight: "m AGL" for the planned one, "m above home" for the other."""
    w = Watched(browser, console)
    page = w.login("engineer")
    page.click("#nav-flights")
    page.wait_for_selector("#flights tbody tr >> nth=1")
    rows = page.locator("#flights tbody tr").all_inner_texts()
    assert any("North Conway plan" in r and re.search(r"\d+ min \d\d s", r) for r in rows)
    assert not any("undefined" in r for r in rows)
    for button, unit in ((1, "m AGL"), (0, "m above home")):  # newest first
        page.locator("button.replay").nth(button).click()
        page.wait_for_selector("#replay:not([hidden])", timeout=120_000)
        page.wait_for_function(
            f"() => document.querySelector('#replay-time').textContent.includes({unit!r})",
            timeout=120_000)
        page.fill("#slider", "60")
        page.dispatch_event("#slider", "input")
        text = page.inner_text("#replay-time")
        assert unit in text and "undefined" not in text and "NaN" not in text, text
        assert re.search(r"alt -?\d+(\.\d)? m", text), text
    w.shot("flights-readout")
    w.close()
