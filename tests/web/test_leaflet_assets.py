"""Where the console finds Leaflet: the copy built into the package first, then web/node_modules
of a source checkout; without either, a warning at start naming the fix, and a banner script in
place of the library (no broken page)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import web.app
from tests.web.helpers import Client, make_app, services


def _get(client: Client, url: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of a GET (the file response closed)."""
    r = client.get(url)
    try:
        return r.status_code, r.data, dict(r.headers)
    finally:
        r.close()


def _leaflet(folder: Path, marker: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "leaflet.js").write_text(f"/* Leaflet {marker} */")
    (folder / "leaflet.css").write_text(".leaflet-pane {}")
    (folder / "images").mkdir()
    (folder / "images" / "marker-icon.png").write_bytes(b"\x89PNG")
    return folder


@pytest.fixture
def looked_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two empty Leaflet locations (packaged, node_modules) the console looks in."""
    dirs = (tmp_path / "vendor" / "leaflet", tmp_path / "node_modules" / "leaflet" / "dist")
    monkeypatch.setattr(web.app, "LEAFLET_DIRS", dirs)
    return dirs


@pytest.fixture
def make(tmp_path: Path) -> Iterator[list[Flask]]:
    """Apps made by the test, closed after it."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        services(app).close()


def test_the_packaged_copy_comes_first(looked_in: tuple[Path, Path], tmp_path: Path,
                                       make: list[Flask]) -> None:
    """With both locations present the package's copy is served, images included."""
    packaged, node_modules = looked_in
    _leaflet(packaged, "packaged")
    _leaflet(node_modules, "npm")
    make.append(make_app(tmp_path / "data"))
    client = Client(make[0], None)
    assert _get(client, "/static/vendor/leaflet/leaflet.js")[1] == b"/* Leaflet packaged */"
    assert _get(client, "/static/vendor/leaflet/images/marker-icon.png")[0] == 200


def test_node_modules_serves_a_source_checkout(looked_in: tuple[Path, Path], tmp_path: Path,
                                               make: list[Flask]) -> None:
    """Without a packaged copy, web/node_modules (./dev, npm install) is served."""
    _leaflet(looked_in[1], "npm")
    make.append(make_app(tmp_path / "data"))
    status, body, _ = _get(Client(make[0], None), "/static/vendor/leaflet/leaflet.js")
    assert status == 200 and body == b"/* Leaflet npm */"


def test_missing_leaflet_is_reported_and_bannered(looked_in: tuple[Path, Path], tmp_path: Path,
                                                  make: list[Flask],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Without Leaflet the app warns at start (what is missing, where it looked, how to fix)
    and serves a banner script and stylesheet in its place, never a 404."""
    with caplog.at_level(logging.WARNING, logger="web.app"):
        make.append(make_app(tmp_path / "data"))
    warning = " ".join(r.getMessage() for r in caplog.records if r.name == "web.app")
    assert "Leaflet" in warning and "install npm" in warning
    assert str(looked_in[0]) in warning and str(looked_in[1]) in warning
    client = Client(make[0], None)
    status, body, headers = _get(client, "/static/vendor/leaflet/leaflet.js")
    assert status == 200 and b"map library (Leaflet) is missing" in body
    assert headers["Cache-Control"] == "no-store"
    status, body, _ = _get(client, "/static/vendor/leaflet/leaflet.css")
    assert status == 200 and b".leaflet-missing" in body
    assert _get(client, "/static/vendor/leaflet/images/layers.png")[0] == 404


def test_present_leaflet_gives_no_warning(looked_in: tuple[Path, Path], tmp_path: Path,
                                          make: list[Flask],
                                          caplog: pytest.LogCaptureFixture) -> None:
    """An app that has Leaflet says nothing about it."""
    _leaflet(looked_in[0], "packaged")
    with caplog.at_level(logging.WARNING, logger="web.app"):
        make.append(make_app(tmp_path / "data"))
    assert not [r for r in caplog.records if "Leaflet" in r.getMessage()]
