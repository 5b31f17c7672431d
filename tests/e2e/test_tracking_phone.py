"""A recipient opens a tracking link on a phone (390 x 844, India time) over a 50 kbit/s
link: the state shows within seconds, the ETA and delivery time read in the phone's clock with
its time zone, a failed delivery says why and what next, the hub's contact and the drop point
on a small map fit the screen, and a contact name with markup stays text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.helpers import ARTIFACTS, WATCH_SCRIPT
from tests.web.helpers import Client, make_app, serve, services
from tests.web.helpers_tracking import fly, two_parcel_plan

pytestmark = pytest.mark.slow

IMG = "<img src=x onerror=window.__xss=1>"
ZONE = "Asia/Kolkata"
#: 50 kbit/s down and up, 300 ms round trip (a weak mobile link), as Chromium emulates it.
SLOW = {"offline": False, "latency": 300, "downloadThroughput": 50_000 / 8,
        "uploadThroughput": 50_000 / 8}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A served console with one parcel on its way (ETA in 25 min) and one whose delivery
    failed, then (re-run) one delivered."""
    app = make_app(tmp_path_factory.mktemp("track") / "data",
                   HUB_CONTACTS={"*": {"name": f"Hub {IMG}", "phone": "+91 98765 43210"}})
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    eta = time.time() + 25 * 60
    _run, tokens = fly(app, plan_id, {"P014": ("en_route", {"eta_at": eta}),
                                      "P020": ("failed", {"detail": "landed away"})})
    server_gen = serve(app)
    server = next(server_gen)
    try:
        yield {"url": server.url, "tokens": tokens, "app": app, "plan_id": plan_id}
    finally:
        next(server_gen, None)
        services(app).close()


def _open(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    """A phone-sized page in India time on a slow link, collecting errors."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id=ZONE,
                                  locale="en-US", device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    context.add_init_script(WATCH_SCRIPT)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW)
    return context, page, errors


def _local(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, ZoneInfo(ZONE)).strftime("%I:%M %p").lstrip("0")


def _fits(page: Any) -> None:
    """Nothing wider than the phone: no sideways scrolling, map and contact inside."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#track-map svg", "#track-contact", "#track-state"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector


def test_tracking_on_a_phone(browser: Any, site: dict[str, Any]) -> None:
    """ETA in India time with its zone, then a failure's reason and next step, then a delivery
    time: each fits 390 px, the payload contact name shows as text."""
    context, page, errors = _open(browser, site["url"])
    try:
        url = f"{site['url']}/track/{site['tokens']['P014']}"
        started = time.monotonic()
        page.goto(url, wait_until="commit")
        page.locator("#track-state").wait_for()
        first_state_s = time.monotonic() - started
        page.wait_for_load_state("load")
        assert page.locator("#track-state").text_content() == "On its way"
        status = page.evaluate(f"fetch('/api/track/{site['tokens']['P014']}').then(r => r.json())")
        eta = page.locator("#track-eta-time").text_content()
        assert _local(status["eta_at"]) in eta and "GMT+5:30" in eta, eta
        assert page.locator("#contact-name").text_content() == f"Hub {IMG}"
        assert page.locator("#contact-phone").get_attribute("href") == "tel:+91 98765 43210"
        assert page.evaluate("window.__xss") is None and page.locator("img").count() == 0
        _fits(page)
        page.screenshot(path=str(Path(ARTIFACTS) / "tracking-on-its-way.png"), full_page=True)
        assert first_state_s < 5.0, f"state shown after {first_state_s:.1f} s at 50 kbit/s"

        page.goto(f"{site['url']}/track/{site['tokens']['P020']}")
        assert page.locator("#track-state").text_content() == "Delivery failed"
        assert page.locator("#track-reason").is_visible()
        assert "re-sent on the next sortie" in page.locator("#track-next").text_content()
        assert page.locator("#track-eta").is_hidden()
        _fits(page)

        fly(site["app"], site["plan_id"], {"P020": ("delivered", {})})
        page.goto(f"{site['url']}/track/{site['tokens']['P020']}")
        assert page.locator("#track-state").text_content() == "Delivered"
        delivered = page.locator("#track-delivered-time").text_content()
        assert "GMT+5:30" in delivered and page.locator("#track-failed").is_hidden()
        _fits(page)
        page.screenshot(path=str(Path(ARTIFACTS) / "tracking-delivered.png"), full_page=True)
        assert page.evaluate("window.__csp") == [] and errors == []
    finally:
        context.close()


def test_unknown_link_on_a_phone(browser: Any, site: dict[str, Any]) -> None:
    """A garbage token: the plain 404 page, nothing else."""
    context, page, errors = _open(browser, site["url"])
    try:
        r = page.goto(f"{site['url']}/track/garbage-token-1234567890")
        assert r is not None and r.status == 404
        assert page.locator("h1").text_content() == "Unknown parcel"
        assert [e for e in errors if "404" not in e] == []
    finally:
        context.close()
