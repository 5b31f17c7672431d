"""Hillshade tiles from the scenario DEM, the OpenAPI document, and the event bus."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image

from tests.web.helpers import Client
from web.events import EventBus

#: A zoom-10 tile near Lancaster (inside N44W072) and one over the Atlantic.
INSIDE = "/tiles/10/308/370.png"
OUTSIDE = "/tiles/10/400/370.png"


def test_tile_inside_the_dem_is_shaded(app: Flask) -> None:
    """A tile over the DEM is an opaque 256 px PNG with relief (many grey levels)."""
    r = Client(app, "crew").get(INSIDE)
    assert r.status_code == 200 and r.mimetype == "image/png"
    image = Image.open(io.BytesIO(r.data))
    assert image.size == (256, 256)
    alpha = image.getchannel("A")
    assert alpha.getextrema() == (255, 255)
    assert len(image.convert("L").getcolors(256) or []) > 50


def test_tile_outside_is_transparent_and_cached(app: Flask) -> None:
    """Away from the DEM the tile is transparent; a rendered tile is kept on disk."""
    c = Client(app, "crew")
    image = Image.open(io.BytesIO(c.get(OUTSIDE).data))
    assert image.getchannel("A").getextrema() == (0, 0)
    c.get(INSIDE)
    assert (Path(app.config["DATA_DIR"]) / "tiles" / "10" / "308" / "370.png").is_file()


@pytest.mark.parametrize("url", ["/tiles/18/0/0.png", "/tiles/3/8/0.png", "/tiles/3/0/9.png"])
def test_tiles_out_of_range_are_404(app: Flask, url: str) -> None:
    """Zoom past 17 or x, y outside [0, 2^z) is 404."""
    assert Client(app, "crew").get(url).status_code == 404


def test_openapi_document_lists_the_api(app: Flask) -> None:
    """The OpenAPI 3 document is public and names the main operations."""
    doc = Client(app, None).get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for path in ("/api/plans", "/api/fleet/upload", "/api/flights/{flight_id}/replay",
                 "/api/track/{token}", "/api/fleet"):
        assert path in doc["paths"]


def test_leaflet_is_served_from_node_modules(app: Flask) -> None:
    """Leaflet comes from web/node_modules (npm), not from a CDN."""
    r = Client(app, None).get("/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and b"Leaflet" in r.data[:2000]
    r.close()


def test_bus_keeps_order_and_reports_gaps() -> None:
    """Events are numbered; since() returns later ones, or None once some were dropped."""
    bus = EventBus(keep=3)
    ids = [bus.publish("x", {"n": i}).id for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert [e.data["n"] for e in bus.since(3) or []] == [3, 4]
    assert bus.since(5) == []
    assert bus.since(0) is None


def test_idle_stream_ends_at_its_limit_not_at_the_next_heartbeat() -> None:
    """A stream with nothing to send ends once ``max_s`` is over, without waiting out the
    heartbeat interval, and sends no keep-alive after its limit."""
    bus = EventBus()
    stream = bus.stream(bus.last_id, heartbeat_s=30.0, max_s=0.2)
    done = threading.Event()
    sent: list[str] = []

    def drain() -> None:
        sent.extend(stream)
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    ended = done.wait(10.0)
    bus.close()
    assert ended, "the idle stream outlived its limit"
    assert sent == ["retry: 1000\n\n"]


def test_stream_sends_a_reset_when_too_far_behind() -> None:
    """A client behind the kept window is told to reload its state, then gets new events."""
    bus = EventBus(keep=2)
    for i in range(4):
        bus.publish("x", {"n": i})
    stream = bus.stream(0, heartbeat_s=0.05, max_s=1.0)
    assert next(stream).startswith("retry:")
    assert "event: reset" in next(stream)
    bus.publish("x", {"n": 9})
    assert '"n": 9' in next(stream)
    bus.close()
    assert list(stream) == []
