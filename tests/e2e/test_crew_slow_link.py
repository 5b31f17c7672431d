"""A field crew's phone (390x844) on a 50 kbit/s link, through a real throttling TCP proxy in
front of the real console: the first useful screen (vehicle cards and alerts) shows in under
10 s from a cold cache; when the link is cut, every vehicle is flagged stale within the
threshold and the live indicator reads "offline since"; when it returns, the view catches up
with the present; reloaded while offline, the page comes from the service worker's copy with
its last state, flagged stale."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import Watched, start_depot_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.shared_data import REPO
from tests.helpers.throttle import ThrottleProxy
from tests.web.helpers import PASSWORD, serve
from web.fleet_delta import RATE_DEFAULT_HZ, stale_after_s

pytestmark = pytest.mark.slow

RATE_BPS = 50_000.0
PHONE = {"width": 390, "height": 844}
#: The issue's requirement for the first useful screen at 50 kbit/s.
FIRST_SCREEN_S = 10.0
STALE_S = stale_after_s(RATE_DEFAULT_HZ)
CARDS = ".card.vehicle"
STALE = ".card.vehicle[data-stale='true']"


@pytest.fixture(scope="module", params=CONSOLE_MODES)
def link(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrottleProxy]:
    """Two simulated copters at the tutorial hub, the console serving them (on its links or
    through workers), and a 50 kbit/s proxy in front of the console."""
    fleet = start_depot_fleet(REPO / "missions" / "tutorial", 2, 1.0)
    try:
        with fleet_console(request.param, tmp_path_factory.mktemp("crew"),
                           fleet.connection_strings, request, TIME_SCALE=1.0,
                           RESET_BATTERY=False) as app:
            for server in serve(app):
                with ThrottleProxy(server.host, server.port, rate_bps=RATE_BPS) as proxy:
                    yield proxy
    finally:
        fleet.stop()


def crew_phone(browser: Any, proxy: ThrottleProxy) -> Watched:
    """A crew login on a fresh phone-sized page (cold cache) through the proxy."""
    w = Watched(browser, proxy.url)
    w.page.set_viewport_size(PHONE)
    request = w.context.request
    token = request.get(proxy.url + "/api/csrf").json()["csrf_token"]
    r = request.post(proxy.url + "/api/login", data={"username": "crew", "password": PASSWORD},
                     headers={"X-CSRFToken": token})
    assert r.ok, r.text()
    return w


def _stale_count(page: Any) -> int:
    return int(page.locator(STALE).count())


def test_first_screen_stale_flag_and_catch_up(link: ThrottleProxy, browser: Any) -> None:
    """Cards under 10 s at 50 kbit/s; a cut link flags every card stale within the threshold
    (not before) and the indicator goes offline; the restored link brings the present back."""
    w = crew_phone(browser, link)
    page = w.page
    try:
        start = time.monotonic()
        page.goto(link.url + "/fleet", wait_until="commit")
        page.locator(CARDS).nth(1).wait_for(state="visible", timeout=60_000)
        first_screen_s = time.monotonic() - start
        print(f"first useful screen at {RATE_BPS / 1000:g} kbit/s: {first_screen_s:.1f} s")
        assert first_screen_s < FIRST_SCREEN_S, f"first cards after {first_screen_s:.1f} s"
        assert page.locator("#alerts").count() == 1
        page.wait_for_function("() => document.querySelector('#live').textContent === 'live'",
                               timeout=30_000)
        page.wait_for_function("() => window.L !== undefined && window.__maps.length === 1",
                               timeout=90_000)
        page.wait_for_timeout(3000)
        assert _stale_count(page) == 0
        assert "heard" in page.locator(f"{CARDS} .age").first.inner_text()
        w.shot("crew-1-slow-link")

        link.cut()
        cut = time.monotonic()
        page.locator(STALE).nth(1).wait_for(state="visible", timeout=30_000)
        stale_after = time.monotonic() - cut
        # a card's last message was at most a tick (plus the vehicle's own period) old at the
        # cut, and ages are redrawn once a second
        assert STALE_S - 2.0 <= stale_after <= STALE_S + 1.5, stale_after
        assert "last heard" in page.locator(f"{STALE} .age").first.inner_text()
        assert "STALE" in page.locator(STALE).first.inner_text()
        page.wait_for_function("() => document.querySelector('#live').textContent"
                               ".startsWith('offline since')", timeout=5_000)
        assert page.locator("#offline-banner").is_visible()
        assert "stale" in (page.get_attribute("#drop-age", "class") or "")   # drops: as of when
        first_age_s = _last_heard_s(page)
        page.wait_for_timeout(12_000)
        # the age keeps counting while nothing arrives: it grew by the 12 s waited (ages are
        # redrawn once a second) and is at least the time since the cut
        age_s = _last_heard_s(page)
        assert 10 <= age_s - first_age_s <= 14 + 2, (first_age_s, age_s)
        assert age_s >= int(time.monotonic() - cut) - 2, (age_s, time.monotonic() - cut)
        w.shot("crew-2-cut")

        link.restore()
        back = time.monotonic()
        page.wait_for_function(f"() => document.querySelectorAll(\"{STALE}\").length === 0 "
                               "&& document.querySelector('#live').textContent === 'live'",
                               timeout=30_000)
        caught_up_s = time.monotonic() - back
        print(f"stale after {stale_after:.1f} s of outage, caught up {caught_up_s:.1f} s after")
        assert caught_up_s < 15.0, caught_up_s
        assert page.locator("#offline-banner").is_hidden()
        assert "stale" not in (page.get_attribute("#drop-age", "class") or "")
        ages = page.locator(f"{CARDS} .age").all_inner_texts()
        assert all(a.startswith("heard ") and int(a.split()[1]) < STALE_S for a in ages), ages
        w.shot("crew-3-back")
    finally:
        link.restore()
        w.close()


def _last_heard_s(page: Any) -> int:
    """The age the first stale card shows ("last heard 17 s ago"), in seconds."""
    text = page.locator(f"{STALE} .age").first.inner_text()
    found = re.search(r"last heard (\d+) s ago", text)
    assert found, text
    return int(found.group(1))


def test_offline_reload_shows_the_last_state(link: ThrottleProxy, browser: Any) -> None:
    """With the service worker in place, a reload while the link is down shows the page and
    the last known vehicles, flagged stale, with the offline banner."""
    w = crew_phone(browser, link)
    page = w.page
    try:
        page.goto(link.url + "/fleet")
        page.locator(CARDS).nth(1).wait_for(state="visible", timeout=60_000)
        page.wait_for_function("() => window.L !== undefined", timeout=90_000)
        assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload(timeout=120_000)        # now through the worker, which keeps a copy
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        page.locator(CARDS).nth(1).wait_for(state="visible", timeout=60_000)
        page.wait_for_function("() => window.L !== undefined", timeout=90_000)
        page.wait_for_timeout(3000)
        link.cut()
        page.reload(wait_until="commit", timeout=60_000)
        page.locator(CARDS).nth(1).wait_for(state="visible", timeout=30_000)
        page.locator(STALE).nth(1).wait_for(state="visible", timeout=20_000)
        page.locator("#offline-banner").wait_for(state="visible", timeout=20_000)
        assert "Offline since" in page.inner_text("#offline-banner")
        w.shot("crew-4-offline-reload")
    finally:
        link.restore()
        w.close()
