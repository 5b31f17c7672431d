"""The public tracking page and its status JSON: ETA and delivery time, a failure's reason and
next step, the hub's contact, the drop point on one map tile, caching, plain 404s for unknown
tokens, and recipient-visible text that stays text."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from tests.web.helpers import Client, make_app, services
from tests.web.helpers_tracking import fly, two_parcel_plan
from web.deliveries import TOKEN_BYTES, hub_contact, tile_position

IMG = "<img src=x onerror=window.__xss=1>"
CONTACTS = {"north_conway": {"name": f"North Conway hub {IMG}", "phone": "+1 603 555 0100",
                             "email": "hub@example.org"}}


@pytest.fixture
def tracked(tmp_path: Path) -> Iterator[Flask]:
    """A console whose North Conway hub has a contact (with a script payload in its name)."""
    app = make_app(tmp_path / "data", HUB_CONTACTS=CONTACTS)
    yield app
    services(app).close()


def test_eta_in_clock_time_while_on_its_way(tracked: Flask) -> None:
    """On its way: the ETA is Unix seconds rounded up to the minute, shown in UTC without
    script; nothing about the vehicle is told."""
    c = Client(tracked, "operator")
    plan_id = two_parcel_plan(tracked, c)
    eta = time.time() + 600.0
    _run, tokens = fly(tracked, plan_id, {"P014": ("en_route", {"eta_at": eta})}, end=False)
    public = Client(tracked, None)
    s = public.get(f"/api/track/{tokens['P014']}").json
    assert s["state"] == "en_route" and s["status"] == "On its way"
    assert s["eta_at"] == math.ceil(eta / 60) * 60 and 500 <= s["eta_in_s"] <= 660
    assert s["delivered_at"] is None and s["reason"] is None
    assert not {"vehicle", "sortie_id", "lat", "alt_rel_m"} & set(s)
    page = public.get(f"/track/{tokens['P014']}").get_data(as_text=True)
    shown = datetime.fromtimestamp(s["eta_at"], UTC).strftime("%H:%M UTC")
    assert "Expected at" in page and shown in page and "track.js" in page
    assert "leaflet" not in page.lower()


def test_delivered_time_and_contact(tracked: Flask) -> None:
    """Delivered: the delivery time and the hub's configured contact; the page is small."""
    c = Client(tracked, "operator")
    plan_id = two_parcel_plan(tracked, c)
    before = time.time()
    _run, tokens = fly(tracked, plan_id, {"P014": ("delivered", {})})
    public = Client(tracked, None)
    s = public.get(f"/api/track/{tokens['P014']}").json
    assert s["state"] == "delivered" and s["eta_at"] is None
    assert before - 1 <= s["delivered_at"] <= time.time() + 1
    assert s["contact"] == {"name": f"North Conway hub {IMG}", "phone": "+1 603 555 0100",
                            "email": "hub@example.org"}
    r = public.get(f"/track/{tokens['P014']}")
    page = r.get_data(as_text=True)
    assert "Delivered at" in page and 'href="tel:+1 603 555 0100"' in page
    assert "mailto:hub@example.org" in page
    assert len(r.data) < 4000


def test_failed_delivery_has_a_reason_and_next_step(tracked: Flask) -> None:
    """Failed: a reason a recipient understands and the next step naming the hub, not the
    flight's own detail."""
    c = Client(tracked, "operator")
    plan_id = two_parcel_plan(tracked, c)
    _run, tokens = fly(tracked, plan_id, {"P020": ("failed", {
        "detail": "vehicle 3 landed away from a depot (LAND)"})})
    s = Client(tracked, None).get(f"/api/track/{tokens['P020']}").json
    assert s["state"] == "failed" and s["status"] == "Delivery failed"
    assert s["reason"] == "The drone could not reach the drop point."
    assert "re-sent on the next sortie" in s["next_step"]
    assert f"collected at North Conway hub {IMG}" in s["next_step"]
    assert "vehicle 3" not in str(s)


def test_default_contact_is_the_hub_name(app: Flask) -> None:
    """Without HUB_CONTACTS the contact is the depot id in words, no phone or e-mail."""
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    _run, tokens = fly(app, plan_id, {"P014": ("queued", {})})
    s = Client(app, None).get(f"/api/track/{tokens['P014']}").json
    assert s["contact"] == {"name": "North Conway hub", "phone": None, "email": None}
    assert hub_contact("x", {"*": {"phone": "1"}}).phone == "1"


def test_map_tile_and_marker(tracked: Flask) -> None:
    """The drop point is on one tile of the console's own map, the marker at its pixel."""
    c = Client(tracked, "operator")
    plan_id = two_parcel_plan(tracked, c)
    _run, tokens = fly(tracked, plan_id, {"P014": ("queued", {})})
    public = Client(tracked, None)
    s = public.get(f"/api/track/{tokens['P014']}").json
    scenario, _dem = services(tracked).plans.scenario(plan_id)
    drop = next(d for d in scenario.drops if d.id == "P014")
    _x, _y, px, py = tile_position(drop.lat_deg, drop.lon_deg)
    assert (s["map"]["x_px"], s["map"]["y_px"]) == (px, py)
    page = public.get(f"/track/{tokens['P014']}").get_data(as_text=True)
    assert f'cx="{px}" cy="{py}"' in page and f"/track/{tokens['P014']}/map.png" in page
    with public.get(f"/track/{tokens['P014']}/map.png") as tile:
        assert tile.status_code == 200 and tile.data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(tile.data) < 10_000  # a few seconds at 50 kbit/s
        assert "max-age" in tile.headers["Cache-Control"]


def test_status_is_cache_friendly(tracked: Flask) -> None:
    """The status JSON and page carry an ETag and answer 304 while nothing changed; a
    delivered parcel may be kept an hour, one in progress is checked each time."""
    c = Client(tracked, "operator")
    plan_id = two_parcel_plan(tracked, c)
    _run, tokens = fly(tracked, plan_id, {"P014": ("delivered", {}), "P020": ("queued", {})})
    public = Client(tracked, None)
    for url in (f"/api/track/{tokens['P020']}", f"/track/{tokens['P020']}"):
        first = public.get(url)
        assert first.headers["Cache-Control"] == "private, no-cache" and first.headers["ETag"]
        again = public.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
    done = public.get(f"/api/track/{tokens['P014']}")
    assert done.headers["Cache-Control"] == "private, max-age=3600"


@pytest.mark.parametrize("token", [
    "not-a-token", "x" * TOKEN_BYTES * 2, "A" * 300, "%3Cscript%3E",
    "%C3%BCn%C3%AFcode-token-0123456789", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
def test_unknown_tokens_are_a_plain_404(tracked: Flask, token: str) -> None:
    """Any unknown or malformed token: the same plain 404 page that echoes nothing, and a 404
    for the JSON and the map."""
    public = Client(tracked, None)
    page = public.get(f"/track/{token}")
    assert page.status_code == 404 and "This tracking link is not valid." in page.text
    assert token not in page.text and "script" not in page.text.lower().replace(
        "track.js", "")
    assert public.get(f"/api/track/{token}").status_code == 404
    assert public.get(f"/track/{token}/map.png").status_code == 404


def test_recipient_text_is_escaped(tracked: Flask) -> None:
    """A contact name with markup reaches the page as text, never as an element."""
    c = Client(tracked, "operator")
    plan_id = two_parcel_plan(tracked, c)
    _run, tokens = fly(tracked, plan_id, {"P014": ("failed", {})})
    page = Client(tracked, None).get(f"/track/{tokens['P014']}").get_data(as_text=True)
    assert IMG not in page and "&lt;img src=x onerror=window.__xss=1&gt;" in page
