"""A console installed without its map library (Leaflet) in a real browser: every page shows a
banner naming what is missing and how to fix it, and works otherwise, without a console error
or policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import web.app
from tests.e2e.helpers import Watched
from tests.web.helpers import make_app, serve, services

pytestmark = pytest.mark.slow

PAGES = ("plans", "fleet", "deliveries", "flights", "users")


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The console on a free port, made where Leaflet is in none of the places it looks."""
    monkeypatch.setattr(web.app, "LEAFLET_DIRS", (tmp_path / "vendor", tmp_path / "npm"))
    app = make_app(tmp_path / "data")
    try:
        for server in serve(app):
            yield server.url
    finally:
        services(app).close()


def test_pages_say_the_map_library_is_missing(console: str, browser: Any) -> None:
    """Each map page shows the banner and the page's own controls; no script error."""
    watched = Watched(browser, console)
    try:
        page = watched.login("admin")
        for name in PAGES:
            page.goto(f"{console}/{name}")
            banner = page.locator("#leaflet-missing")
            banner.wait_for(state="visible")
            assert "map library (Leaflet) is missing" in banner.inner_text()
            assert "install npm" in banner.inner_text()
            assert page.locator("#logout").is_visible()
        page.goto(f"{console}/plans")
        page.locator("#leaflet-missing").wait_for(state="visible")
        watched.shot("leaflet-missing")
    finally:
        watched.close()
