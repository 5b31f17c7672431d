"""Every console page on a phone (390 x 844 and 360 x 740): the map at a usable size, no
sideways page scroll, Log out, Replay buttons and tracking links on screen and not clipped;
crew land on the Fleet page; a refused page says why in plain words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Watched
from tests.e2e.phone_checks import PHONES, layout_problems, on_screen
from tests.web.helpers import PASSWORD, make_app, serve, services
from tests.web.helpers_flights import record_flights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The console with a planned plan whose parcels have tracking links and two recorded
    flights (no vehicles); its URL and the plan's id."""
    found = record_flights(tmp_path_factory.mktemp("phone"))
    app = found["app"]
    with app.app_context():
        plan_id = services(app).plans.all()[0].id
        services(app).deliveries.issue_tokens(plan_id)
    try:
        for server in serve(app):
            yield server.url, plan_id
    finally:
        services(app).close()


def _phone(browser: Any, url: str, size: str) -> Watched:
    w = Watched(browser, url)
    width, height = PHONES[size]
    w.page.set_viewport_size({"width": width, "height": height})
    return w


def _fits(w: Watched, name: str) -> None:
    """Assert the open page fits the phone; keep a screenshot of it."""
    w.page.wait_for_timeout(300)  # Leaflet sizes its map after the layout settles
    problems = layout_problems(w.page)
    w.shot(name)
    assert problems == [], problems
    assert w.page.evaluate("window.__maps.every((m) => m.getSize().x >= 300)")


@pytest.mark.parametrize("size", PHONES)
def test_every_page_fits_a_phone(console: tuple[str, str], browser: Any, size: str) -> None:
    """Login, Plan, Fleet, Deliveries, Flights with a replay, Users, Account and an error
    page: each fits the screen with its map, controls and Log out reachable."""
    url, plan_id = console
    w = _phone(browser, url, size)
    page = w.page
    page.goto(url + "/login")
    _fits(w, f"phone-{size}-login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/plans")
    page.wait_for_selector("#plan-panel:not([hidden]) .card.sortie")
    _fits(w, f"phone-{size}-plan")
    assert on_screen(page, "#logout") and on_screen(page, "#nav-users")

    page.click("#nav-fleet")
    page.wait_for_url("**/fleet")
    page.wait_for_function("() => (document.querySelector('#run-state')?.textContent ?? '') "
                           "!== ''")
    page.wait_for_selector("#map.leaflet-container")
    _fits(w, f"phone-{size}-fleet")
    assert on_screen(page, "#logout")

    # no plan is flying: show the planned plan's drops and tracking links
    page.route("**/api/deliveries", lambda route: route.continue_(
        url=f"{route.request.url}?plan_id={plan_id}"))
    page.click("#nav-deliveries")
    page.wait_for_selector("#deliveries a.track-link")
    _fits(w, f"phone-{size}-deliveries")
    assert on_screen(page, "#deliveries a.track-link")
    assert page.locator("#deliveries td[data-label='Tracking link']").count() >= 1

    page.click("#nav-flights")
    page.wait_for_selector("#flights button.replay >> nth=1")
    _fits(w, f"phone-{size}-flights")
    for i in range(2):
        assert on_screen(page, f"#flights tbody tr >> nth={i} >> button.replay")
    page.locator("button.replay").first.click()
    page.wait_for_selector("#replay:not([hidden])")
    page.wait_for_function("() => (document.querySelector('#replay-time')?.textContent ?? '') "
                           "!== ''")
    _fits(w, f"phone-{size}-replay")
    assert on_screen(page, "#play") and on_screen(page, "#slider")
    map_box = page.locator("#map").bounding_box()
    replay_box = page.locator("#replay").bounding_box()
    assert map_box is not None and replay_box is not None
    assert replay_box["y"] < map_box["y"] + map_box["height"] + 200, "replay far below the map"

    page.click("#nav-users")
    page.wait_for_selector("#users tbody tr >> nth=3")
    page.wait_for_selector("#audit tbody tr")
    _fits(w, f"phone-{size}-users")
    page.click("#nav-account")
    page.wait_for_selector("#password-form")
    _fits(w, f"phone-{size}-account")

    w.expect_failure("/no-such-page")
    page.goto(url + "/no-such-page")
    _fits(w, f"phone-{size}-404")
    assert on_screen(page, "#logout")
    page.click("#logout")
    page.wait_for_url("**/login")
    w.close()


@pytest.mark.parametrize("size", PHONES)
def test_crew_land_on_the_fleet_page(console: tuple[str, str], browser: Any,
                                     size: str) -> None:
    """Crew log in straight to the Fleet page (also when the login came from the console's
    root, and the root takes them there once logged in); the Users page refuses them in
    plain words, on a page that fits the phone."""
    url, _ = console
    w = _phone(browser, url, size)
    page = w.page
    page.goto(url + "/")
    assert "/login?next=" in page.url
    page.fill("#username", "crew")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/fleet")
    page.wait_for_selector("#map.leaflet-container")
    _fits(w, f"phone-{size}-crew-fleet")
    page.goto(url + "/")   # the console's root, logged in
    page.wait_for_url("**/fleet")

    w.expect_failure("/users")
    page.goto(url + "/users")
    assert page.inner_text("h1") == "Not allowed"
    assert page.inner_text("#error-message") == \
        "Your role (crew) cannot open the Users page. Ask an admin."
    _fits(w, f"phone-{size}-403")
    w.close()


def test_other_roles_land_on_the_plan_page(console: tuple[str, str], browser: Any) -> None:
    """An operator logging in from the console's root lands on the Plan page, and a login
    that came from a page goes back to that page."""
    url, _ = console
    w = _phone(browser, url, "390x844")
    page = w.page
    page.goto(url + "/")
    page.fill("#username", "operator")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/plans")
    page.wait_for_load_state("networkidle")  # map tiles loaded before the session ends
    page.click("#logout")
    page.goto(url + "/flights")
    assert "/login?next=" in page.url
    page.fill("#username", "crew")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/flights")
    w.close()


def test_replay_slider_moves_a_second_per_key(console: tuple[str, str], browser: Any) -> None:
    """The replay slider moves 1 s per arrow key and 10 s per Page Up / Page Down, and the
    readout follows."""
    url, _ = console
    w = _phone(browser, url, "390x844")
    page = w.login("engineer")
    page.click("#nav-flights")
    page.locator("button.replay").first.click()
    page.wait_for_selector("#replay:not([hidden])")
    page.wait_for_function("() => (document.querySelector('#replay-time')?.textContent ?? '') "
                           "!== ''")
    assert float(page.get_attribute("#slider", "max") or 0) > 20
    page.focus("#slider")
    page.keyboard.press("ArrowRight")
    assert page.input_value("#slider") == "1"
    page.keyboard.press("PageUp")
    assert page.input_value("#slider") == "11"
    assert page.inner_text("#replay-time").startswith("t = 11 s")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("PageDown")
    assert page.input_value("#slider") == "0"
    assert page.inner_text("#replay-time").startswith("t = 0 s")
    w.close()


def test_flights_list_shows_when_what_and_how_long(console: tuple[str, str],
                                                   browser: Any) -> None:
    """Each flight's card on a phone reads its date, plan, sortie and duration, labelled."""
    url, _ = console
    w = _phone(browser, url, "360x740")
    page = w.login("engineer")
    page.click("#nav-flights")
    page.wait_for_selector("#flights tbody tr >> nth=1")
    first = page.locator("#flights tbody tr").first
    labels = first.locator("td[data-label]").evaluate_all(
        "(cells) => cells.map((c) => [c.dataset.label, c.textContent])")
    shown = dict(labels)
    assert {"Date", "Plan", "Sortie", "Duration"} <= shown.keys(), shown
    assert shown["Plan"] == "unknown plan" and shown["Sortie"] == "S001"
    assert any(ch.isdigit() for ch in shown["Date"]), shown
    assert shown["Duration"].endswith(" s")
    labels_shown = first.locator("td").first.evaluate(
        "(c) => getComputedStyle(c, '::before').content")
    assert labels_shown == '"#"'
    w.close()


def test_desktop_layout_is_unchanged(console: tuple[str, str], browser: Any) -> None:
    """At 1400 x 900 the side panel and the map stay side by side and tables stay tables."""
    url, _ = console
    w = Watched(browser, url)
    page = w.login("engineer")
    page.click("#nav-flights")
    page.wait_for_selector("#flights tbody tr")
    side = page.locator(".side").bounding_box()
    map_box = page.locator("#map").bounding_box()
    assert side is not None and map_box is not None
    assert side["width"] == 440 and map_box["x"] > side["x"] + side["width"]
    assert page.locator("#flights thead").is_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('#flights tr')).display") \
        == "table-row"
    w.shot("desktop-flights")
    w.close()



def _with_vehicles(route: Any) -> None:
    """The fleet's state answered with a run of two vehicles flying sorties S002 (system 1) and
    S001 (system 2): ``/api/fleet`` (the page's state, vehicles as a list) as JSON, the live
    stream ``/api/fleet/live`` (vehicles by system id) as one ``state`` event."""
    live = "/api/fleet/live" in route.request.url
    response = route.fetch(url=route.request.url.replace("/api/fleet/live", "/api/fleet"))
    state = response.json()
    now = state.get("t", 0)
    state["run"] = {"plan_id": "p", "run_id": 1, "started": True, "finished": False,
                    "routes": {}, "assignment": {"octo a": 1, "octo b": 2}, "resumed": False,
                    "resend_delivered": False, "skipped": {}}
    vehicles = [{
        "sysid": sysid, "name": name, "sortie_id": sortie, "phase": "flying", "mode": "AUTO",
        "armed": True, "lat_deg": 44.06, "lon_deg": -71.13, "heard_at": now, "battery_pct": 80}
        for sysid, name, sortie in ((1, "octo a", "S002"), (2, "octo b", "S001"))]
    if not live:
        state["vehicles"] = vehicles
        route.fulfill(response=response, json=state)
        return
    state["vehicles"] = {str(v["sysid"]): v for v in vehicles}
    headers = {**response.headers, "content-type": "text/event-stream"}
    headers.pop("content-length", None)
    route.fulfill(status=200, headers=headers,
                  body=f"retry: 600000\nevent: state\ndata: {json.dumps(state)}\n\n")


def test_a_sortie_has_one_colour_on_plan_and_fleet(console: tuple[str, str],
                                                   browser: Any) -> None:
    """Sortie S001's card on the Plan page and the card of the vehicle flying it on the Fleet
    page have the same colour; another sortie's vehicle has another."""
    url, _ = console
    w = _phone(browser, url, "390x844")
    page = w.login("operator")
    page.wait_for_selector(".card.sortie[data-sortie='S001']")
    planned = page.eval_on_selector(".card.sortie[data-sortie='S001']",
                                    "(c) => getComputedStyle(c).borderLeftColor")
    page.route("**/api/fleet", _with_vehicles)
    page.route("**/api/fleet/live*", _with_vehicles)
    page.click("#nav-fleet")
    page.wait_for_selector("#vehicle-2")
    flying = page.eval_on_selector("#vehicle-2", "(c) => getComputedStyle(c).borderLeftColor")
    other = page.eval_on_selector("#vehicle-1", "(c) => getComputedStyle(c).borderLeftColor")
    assert flying == planned and other != planned, (planned, flying, other)
    w.close()


class _TwoVehicles:
    """Stands in for a built-in fleet of two simulated vehicles (for the simulator panel)."""

    def __init__(self) -> None:
        from tests.sitl.helpers_fakes import RecordingVehicle

        self.handles = [RecordingVehicle(), RecordingVehicle()]

    def vehicle(self, index: int) -> Any:
        return self.handles[index]

    def __len__(self) -> int:
        return len(self.handles)


@pytest.fixture
def sim_console(tmp_path: Path) -> Iterator[str]:
    """A console with a simulator attached (two vehicles); its URL."""
    from dropline.commands.sim_control import FleetSimulator

    app = make_app(tmp_path / "sim", SIMULATOR=FleetSimulator(_TwoVehicles()))
    try:
        for server in serve(app):
            yield server.url
    finally:
        services(app).close()


@pytest.mark.parametrize("size", PHONES)
def test_simulator_panel_fits_a_phone(sim_console: str, browser: Any, size: str) -> None:
    """The Fleet page's simulator panel on a phone: vehicle, fault, value and Inject on
    screen."""
    w = _phone(browser, sim_console, size)
    page = w.login("engineer")
    page.click("#nav-fleet")
    page.wait_for_selector("#sim-fault option[value='battery']", state="attached")
    page.wait_for_selector("#map.leaflet-container")
    _fits(w, f"phone-{size}-simulator")
    for control in ("#sim-vehicle", "#sim-fault", "#sim-value", "#sim-inject"):
        assert on_screen(page, control), control
    w.close()
