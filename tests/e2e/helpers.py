"""Browser helpers of the end-to-end tests: a watched page (console errors, uncaught
exceptions, JavaScript dialogs, CSP violations and responses without the policy fail the test)
and the console's confirm dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.shared_data import REPO
from tests.web.helpers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "e2e"

#: Runs before the page's scripts: keeps every Leaflet map in ``window.__maps`` (to find the
#: layers drawn on a canvas) and every CSP violation in ``window.__csp``.
WATCH_SCRIPT = """
window.__maps = []; window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
(() => {
  let leaflet;
  Object.defineProperty(window, "L", {configurable: true, get() { return leaflet; },
    set(v) {
      leaflet = v;
      if (v && v.Map && v.Map.addInitHook)
        v.Map.addInitHook(function () { window.__maps.push(this); });
    }});
})();
"""


class Watched:
    """A page whose console errors, uncaught exceptions, JavaScript dialogs and console
    responses without a Content-Security-Policy are collected; :meth:`close` asserts none."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.add_init_script(WATCH_SCRIPT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.url = url
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.unprotected: list[str] = []
        self.expected: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.on("response", self._response)

    def expect_failure(self, url_part: str) -> None:
        """A request to a URL containing ``url_part`` is meant to fail (a 4xx the page shows)."""
        self.expected.append(url_part)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and \
                any(part in url for part in self.expected):
            return
        self.errors.append(f"{message.text} ({url})")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _response(self, response: Any) -> None:
        if response.url.startswith(self.url) and \
                "content-security-policy" not in response.headers:
            self.unprotected.append(response.url)

    def login(self, user: str) -> Any:
        """Log in as ``user`` (password :data:`PASSWORD`) and land on the plan page (crew: on
        the fleet page)."""
        page = self.page
        page.goto(self.url + "/login")
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_url("**/fleet" if user == "crew" else "**/plans")
        return page

    def shot(self, name: str) -> None:
        """A full-page screenshot into :data:`ARTIFACTS` once map animations settle."""
        self.page.wait_for_timeout(800)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        """Close the page; fail on any console error, dialog, violation or unprotected response."""
        violations = self.page.evaluate("window.__csp || []") if not self.page.is_closed() \
            else []
        self.context.close()
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs
        assert violations == [], violations
        assert self.unprotected == [], self.unprotected


def confirm(page: Any, answer: str = "ok") -> None:
    """Answer the console's confirm dialog (``ok`` or ``cancel``)."""
    page.wait_for_selector("#confirm[open]")
    page.click(f"#confirm-{answer}")


def start_depot_fleet(scenario_dir: Path, vehicles: int, speedup: float,
                      depot_id: str | None = None, drone_type: str = "heavy_octo") -> Any:
    """Started simulated copters of ``drone_type`` standing at a depot of a scenario (the first
    depot unless ``depot_id`` names one), on the ground of its DEM."""
    from planner.io.dem import load_dem
    from planner.io.scenario import load_scenario
    from sitl.builtin import BuiltinFleet
    from tests.helpers.ports import free_base_port

    scenario = load_scenario(scenario_dir)
    depot = next(d for d in scenario.depots if depot_id in (None, d.id))
    dem = load_dem(scenario.terrain.dem_paths)
    ground_m = float(dem.elevation_amsl_m(depot.lon_deg, depot.lat_deg))
    fleet = BuiltinFleet(vehicles=vehicles, home=(depot.lat_deg, depot.lon_deg, ground_m),
                         speedup=speedup, base_port=free_base_port(vehicles), dem=dem,
                         drone_type=scenario.drone_types[drone_type], wind=scenario.wind,
                         settle_s=2.0)
    fleet.start()
    return fleet
