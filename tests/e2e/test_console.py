"""The console in a real browser (Debian's chromium through Playwright) against a real server
with three simulated copters: log in, plan the district from one hub, upload, start, watch every
drop delivered, follow a parcel, replay a flight; a crew login cannot command; an engineer
injects a simulator fault. Screenshots go to
test-artifacts/; any browser console error fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import ARTIFACTS, Watched, start_depot_fleet
from tests.e2e.helpers import confirm as _confirm
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.shared_data import DISTRICT
from tests.helpers.waiting import wait_until
from tests.web.helpers import serve

pytestmark = pytest.mark.slow

SPEEDUP = 50.0
HUB = "littleton"
#: Three parcels too heavy to share a sortie: one sortie per copter.
DROPS = "P016, P025, P036"


#: The fleet page's id of the vehicle of system id 3 (null while not heard).
CARD_OF_SYSTEM_3 = """async () => {
  const state = await (await fetch('/api/fleet')).json();
  const found = state.vehicles.find(v => (v.hub_sysid ?? v.sysid) === 3);
  return found ? found.sysid : null;
}"""


def _start_fleet() -> Any:
    """Three simulated copters of the hub's drone type standing at the hub."""
    return start_depot_fleet(DISTRICT, 3, SPEEDUP, depot_id=HUB)


@pytest.fixture(scope="module", params=CONSOLE_MODES)
def console(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three simulated copters at the hub and the console flying them (on its links or through
    workers), served on a free port."""
    from dropline.commands.sim_control import FleetSimulator

    fleet = _start_fleet()
    try:
        with fleet_console(request.param, tmp_path_factory.mktemp("e2e"),
                           fleet.connection_strings, request, scenario=DISTRICT,
                           TIME_SCALE=SPEEDUP, SAMPLE_SCENARIO="district", SSE_MAX_S=5.0,
                           SIMULATOR=FleetSimulator(fleet)) as app:
            for server in serve(app):
                yield server.url
    finally:
        fleet.stop()


def test_operator_plans_flies_and_replays(console: str, browser: Any) -> None:
    """Plan the district from one hub with three copters, upload, start, every drop delivered,
    a parcel's public page says so, and a flight replays with its figures."""
    w = Watched(browser, console)
    page = w.login("operator")
    page.select_option("#scenario", "district")
    page.click("#new-plan")
    page.wait_for_selector("#plan-panel:not([hidden])")
    while page.locator("#depots tr").count() > 2:   # header + littleton
        page.locator("#depots tr").nth(2).locator("button").click()
    page.fill("input.drones[data-depot='0'][data-type='heavy_octo']", "3")
    page.press("input.drones[data-depot='0'][data-type='heavy_octo']", "Tab")
    page.fill("input.drones[data-depot='0'][data-type='long_octo']", "0")
    page.press("input.drones[data-depot='0'][data-type='long_octo']", "Tab")
    page.fill("#drop-ids", DROPS)
    page.fill("#time-limit", "10")
    page.click("#run-plan")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.locator(".card.sortie").count() == 3
    assert page.locator("svg.profile").count() == 3
    assert "3 of 3 drops" in page.inner_text("#summary")
    w.shot("1-plan")

    page.click("#nav-fleet")
    page.wait_for_selector(".card.vehicle >> nth=2")
    page.select_option("#fleet-plan", index=1)
    page.click("#upload-plan")
    _confirm(page)
    page.wait_for_function("() => document.querySelector('#fleet-message').textContent"
                           ".split('verified').length === 4", timeout=60_000)
    page.click("#start-plan")
    _confirm(page)
    page.wait_for_function("() => document.querySelector('#drop-summary').textContent"
                           ".startsWith('3 of 3 delivered')", timeout=240_000)
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1   # tracks and routes
    w.shot("2-fleet")

    page.click("#nav-deliveries")
    page.wait_for_selector("#deliveries tbody tr >> nth=2")
    assert page.locator("#deliveries td.state").all_inner_texts() == ["delivered"] * 3
    link = page.locator("a.track-link").first.get_attribute("href")
    w.shot("3-deliveries")

    public = browser.new_context().new_page()
    public.goto(console + link)
    assert public.inner_text("#track-state") == "Delivered"
    public.screenshot(path=str(ARTIFACTS / "4-tracking.png"))
    public.context.close()

    page.click("#nav-flights")
    page.wait_for_selector("button.replay")
    page.locator("button.replay").first.click()
    page.wait_for_selector("#replay:not([hidden]) td[data-figure='cross_track_max_m']")
    page.select_option("#speed", "200")
    page.click("#play")
    page.wait_for_function("() => parseFloat(document.querySelector('#slider').value) > 0")
    assert float(page.inner_text("td[data-figure='duration_flown_s']")) > 0
    w.shot("5-replay")
    w.close()


def test_crew_cannot_command(console: str, browser: Any) -> None:
    """For crew every command button is disabled and the API refuses commands with 403."""
    w = Watched(browser, console)
    page = w.login("crew")
    page.click("#nav-fleet")
    page.wait_for_selector(".card.vehicle")
    buttons = page.locator("button.command")
    assert buttons.count() >= 6
    assert all(buttons.nth(i).is_disabled() for i in range(buttons.count()))
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    for url in ("/api/fleet/all/rtl", "/api/fleet/vehicles/1/land", "/api/fleet/start"):
        r = w.context.request.post(console + url, headers={"X-CSRFToken": token})
        assert r.status == 403, url
    page.click("#nav-plan")
    assert page.locator("#new-plan").is_disabled()
    w.shot("6-crew")
    w.close()


def test_engineer_injects_a_battery_fault(console: str, browser: Any) -> None:
    """The Simulator panel is read-only for an operator; an engineer picks vehicle 3, a battery
    fault and its value, confirms, and the vehicle's battery drops on the fleet page."""
    w = Watched(browser, console)
    page = w.login("operator")
    page.click("#nav-fleet")
    page.wait_for_selector("#sim-fault option[value='battery']", state="attached")
    assert page.locator("#sim-inject").is_disabled()
    w.close()

    w = Watched(browser, console)
    page = w.login("engineer")
    page.click("#nav-fleet")
    # the card of system 3 (on links its id is the system id; through workers, the console's
    # id of the hub's system 3, while the simulator panel names the simulator's system id)
    seen: list[int | None] = [None]

    def heard() -> bool:
        seen[0] = page.evaluate(CARD_OF_SYSTEM_3)
        return seen[0] is not None

    wait_until(heard, 30, "system 3 heard", period_s=0.5)
    card = f"#vehicle-{seen[0]}"
    page.wait_for_selector(f"{card} .battery-text")
    page.wait_for_selector("#sim-vehicle option[value='3']", state="attached")
    page.select_option("#sim-vehicle", "3")
    page.select_option("#sim-fault", "battery")
    page.fill("#sim-value", "0.6")
    page.click("#sim-inject")
    _confirm(page)
    page.wait_for_function("() => document.querySelector('#sim-message').textContent"
                           " === 'vehicle 3: battery 0.6'")
    page.wait_for_function(f"() => parseInt(document.querySelector('{card} .battery-text')"
                           ".textContent.replace('battery ', '')) <= 40", timeout=30_000)
    w.shot("7-simulator")
    w.close()
