"""Fixtures of the end-to-end tests: one headless chromium for the session, and a console
without vehicles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import ARTIFACTS, CHROMIUM
from tests.web.helpers import make_app, serve, services


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless chromium (Debian's, through Playwright); screenshots go to ARTIFACTS."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is needed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # emptied once per run by tests/conftest.py
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A console without vehicles, served on a free port."""
    app = make_app(tmp_path_factory.mktemp("console"))
    try:
        for server in serve(app):
            yield server.url
    finally:
        services(app).close()
