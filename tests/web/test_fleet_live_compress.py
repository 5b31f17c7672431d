"""Pages, scripts, style sheets and JSON go gzip-compressed to browsers that accept it (a
fraction of the bytes on a slow link), decode to the same bytes, revalidate with their own
ETag, and pass unchanged to clients that do not accept gzip."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.web.helpers import Client, make_app, services

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A console without vehicles."""
    console = make_app(tmp_path / "data")
    yield console
    services(console).close()


@pytest.mark.parametrize("url", ["/static/fleet.js", "/static/common.js", "/static/style.css",
                                 "/static/vendor/leaflet/leaflet.js", "/fleet"])
def test_text_is_compressed_for_a_browser(app: Flask, url: str) -> None:
    """The same bytes, gzip-encoded and at most half as many, with Vary: Accept-Encoding."""
    c = Client(app, "crew")
    with c.get(url, headers={"Accept-Encoding": "identity"}) as plain:
        body = plain.get_data()
        assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    with c.get(url, headers=GZIP) as packed:
        assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        data = packed.get_data()
    if url != "/fleet":   # the page carries the time of the answer
        assert gzip.decompress(data) == body
    assert len(data) <= len(body) / 2


def test_a_compressed_static_file_revalidates(app: Flask) -> None:
    """Its ETag names the encoding; asking again with it gets 304 without a body."""
    c = Client(app, "crew")
    with c.get("/static/fleet.js", headers=GZIP) as first:
        etag = first.headers["ETag"]
    assert etag.endswith('-gzip"')
    with c.get("/static/fleet.js", headers={**GZIP, "If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.get_data() == b""


def test_small_and_binary_answers_pass_as_they_are(app: Flask) -> None:
    """A short JSON answer and an image are not compressed."""
    c = Client(app, "crew")
    with c.get("/api/csrf", headers=GZIP) as small:
        assert "Content-Encoding" not in small.headers
    with c.get("/static/vendor/leaflet/images/marker-icon.png", headers=GZIP) as image:
        assert image.status_code == 200 and "Content-Encoding" not in image.headers
