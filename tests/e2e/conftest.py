"""Fixtures of the end-to-end tests: one headless chromium for the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import ARTIFACTS, CHROMIUM


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
