"""Fixtures of the console tests: an app per test on its own data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.web.helpers import make_app, services


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A console app without vehicles, with one user per role."""
    app = make_app(tmp_path / "data", LOGIN_WINDOW_S=3600.0)
    yield app
    services(app).close()
