"""No stored script in the console: a scenario whose every free-text name is a script payload,
planned, uploaded to a simulated copter and flown, while an admin hovers and clicks every
marker, zone, route, row and button of every page in a real browser. No payload runs (no
``window.__xss``, no JavaScript dialog, no new account), the payloads show as literal text, the
pages work under the strict Content-Security-Policy without a violation or console error, and
every page and API response carries the policy."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from tests.e2e.helpers import ARTIFACTS, Watched, confirm, start_depot_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.web.helpers import REPO, Client, make_app, serve, services

pytestmark = pytest.mark.slow

SPEEDUP = 50.0
IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
PAYLOADS = (IMG, SCRIPT, SVG)
#: A scenario folder name (no slash in a file name).
FOLDER = "<img src=x onerror=window.__xss=2>"
#: The scenario whose ids (depot, drone type, drops) are payloads too.
IDS = "xss-ids"
#: The methods every route is called with in the header sweep.
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _write_scenario(missions: Path, name: str, *, payload_ids: bool) -> None:
    """The tutorial with payload zone names (and, with ``payload_ids``, payload ids)."""
    source = REPO / "missions" / "tutorial"
    folder = missions / name
    shutil.copytree(source, folder)
    doc = json.loads((source / "nofly.geojson").read_text())
    zone = doc["features"][0]
    doc["features"] = [{**zone, "properties": {**zone["properties"], "name": f"{p} zone"}}
                       for p in PAYLOADS]
    (folder / "nofly.geojson").write_text(json.dumps(doc))
    if not payload_ids:
        return
    toml = (folder / "scenario.toml").read_text()
    toml = toml.replace('id = "north_conway"', f"id = {json.dumps(IMG)}")
    toml = toml.replace("heavy_octo = 1", f"{json.dumps(SVG)} = 1")
    toml = toml.replace('id = "heavy_octo"', f"id = {json.dumps(SVG)}")
    (folder / "scenario.toml").write_text(toml)
    rows = list(csv.reader(io.StringIO((source / "drops.csv").read_text())))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        if row and not row[0].startswith("#") and row[0] != "id":
            row[0] = f"{PAYLOADS[len(out.getvalue()) % 3]}{row[0]}"
            row[1] = SCRIPT
        writer.writerow(row)
    (folder / "drops.csv").write_text(out.getvalue())


def _start_fleet() -> Any:
    """One simulated copter of the tutorial's drone type standing at its hub."""
    return start_depot_fleet(REPO / "missions" / "tutorial", 1, SPEEDUP)


@dataclass(frozen=True, slots=True, kw_only=True)
class Console:
    """The console under test: its URL, app and the scenario the browser plans."""

    url: str
    app: Flask
    scenario: str
    ids_flow: bool


@pytest.fixture(scope="module", params=CONSOLE_MODES)
def console(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A console on payload scenarios with one simulated copter (on its link or through
    workers), served on a free port."""
    from dropline.commands.sim_control import FleetSimulator

    root = tmp_path_factory.mktemp("xss")
    missions = root / "missions"
    missions.mkdir()
    (missions / "district").symlink_to(REPO / "missions" / "district")
    _write_scenario(missions, FOLDER, payload_ids=False)
    _write_scenario(missions, IDS, payload_ids=True)
    fleet = _start_fleet()
    with ExitStack() as stack:
        stack.callback(fleet.stop)
        app = stack.enter_context(fleet_console(
            request.param, root, fleet.connection_strings, request, scenario=missions / FOLDER,
            TIME_SCALE=SPEEDUP, MISSIONS_DIR=str(missions), SAMPLE_SCENARIO=FOLDER,
            SSE_MAX_S=5.0, SIMULATOR=FleetSimulator(fleet)))
        admin = Client(app, "admin")
        r = admin.post("/api/plans", json={"scenario": IDS})
        if r.status_code != 201:
            # Ids are restricted to a safe set: the refusal is a clear 400 naming the id.
            assert r.status_code == 400, r.json
            assert "id" in json.dumps(r.json).lower(), r.json
        ids_flow = r.status_code == 201
        for server in serve(app):
            yield Console(url=server.url, app=app, scenario=IDS if ids_flow else FOLDER,
                          ids_flow=ids_flow)


#: Every layer with a tooltip on the page's maps: the point to hover (container pixels).
_TOOLTIP_POINTS = """() => {
  const out = [];
  window.__maps.forEach((map, m) => map.eachLayer((layer) => {
    if (!layer.getTooltip || !layer.getTooltip()) return;
    let ll = null;
    if (layer.getLatLng) ll = layer.getLatLng();
    else if (layer instanceof L.Polygon) ll = layer.getBounds().getCenter();
    else if (layer.getLatLngs) {
      const pts = layer.getLatLngs().flat(3);
      if (pts.length > 1)
        ll = L.latLng((pts[0].lat + pts[1].lat) / 2, (pts[0].lng + pts[1].lng) / 2);
      else if (pts.length) ll = pts[0];
    }
    if (!ll) return;
    const p = map.latLngToContainerPoint(ll);
    const box = map.getContainer().getBoundingClientRect();
    out.push({x: box.left + p.x, y: box.top + p.y, inside: p.x > 2 && p.y > 2 &&
              p.x < box.width - 2 && p.y < box.height - 2});
  }));
  return out;
}"""

#: Open every tooltip of the page's maps; their text.
_OPEN_TOOLTIPS = """() => {
  const texts = [];
  window.__maps.forEach((map) => map.eachLayer((layer) => {
    const t = layer.getTooltip && layer.getTooltip();
    if (!t) return;
    layer.openTooltip(layer.getLatLng ? layer.getLatLng() : layer.getBounds().getCenter());
    texts.push(t.getElement().textContent);
    layer.closeTooltip();
  }));
  return texts;
}"""


def _hover_map(page: Any) -> list[str]:
    """Hover and click every tooltip layer of the page's maps; the tooltips' texts."""
    page.wait_for_function("() => window.__maps.length > 0")
    seen: list[str] = []
    for point in page.evaluate(_TOOLTIP_POINTS):
        if not point["inside"]:
            continue
        page.mouse.move(point["x"], point["y"])
        page.wait_for_timeout(60)
        seen += page.locator(".leaflet-tooltip").all_text_contents()
        page.mouse.click(point["x"], point["y"])
    page.mouse.move(1, 1)
    texts: list[str] = page.evaluate(_OPEN_TOOLTIPS)
    return seen + texts


def _assert_clean(page: Any) -> None:
    """No payload ran on this page."""
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x'], svg[onload], script:not([src])").count() == 0


def _shows(texts: list[str], *payloads: str) -> None:
    """Each payload appears literally in one of ``texts``."""
    for payload in payloads:
        assert any(payload in t for t in texts), (payload, texts)


def _users(c: Console) -> list[tuple[str, str]]:
    """(user name, role) of every account."""
    r = Client(c.app, "admin").get("/api/users")
    return sorted((u["username"], u["role"]) for u in r.json["users"])


def test_payload_names_render_as_text(console: Console, browser: Any) -> None:
    """Every page shows the payload names as text and runs none of them, under the CSP."""
    c = console
    accounts = _users(c)
    admin = Client(c.app, "admin")
    r = admin.post("/api/users", json={"username": IMG, "password": "long-enough-1",
                                       "role": "admin"})
    assert r.status_code == 400 and r.json["field"] == "username", r.json
    depots = [{"id": SVG, "lat_deg": 44.061813, "lon_deg": -71.136854,
               "drones": {"heavy_octo": 1}}]
    plan = admin.post("/api/plans", json={"scenario": FOLDER}).json["id"]
    r = admin.put(f"/api/plans/{plan}/edits", json={"depots": depots})
    if not c.ids_flow:
        assert r.status_code == 400 and "id" in json.dumps(r.json).lower(), r.json

    w = Watched(browser, c.url)
    page = w.login("admin")

    # Plan: the scenario list, zones, an upload error naming the file, the planned sorties.
    page.wait_for_selector("#scenario option", state="attached")
    _shows(page.locator("#scenario option").all_text_contents(), FOLDER)
    page.select_option("#scenario", c.scenario)
    page.click("#new-plan")
    page.wait_for_selector("#plan-panel:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#zones li').length > 0")
    _shows([page.text_content("#zones") or ""], IMG, SCRIPT, SVG)
    _shows(_hover_map(page), IMG, SCRIPT, SVG)
    page.select_option("#upload-kind", "dem")
    page.set_input_files("#upload-file", files=[
        {"name": IMG + ".txt", "mimeType": "text/plain", "buffer": b"not a DEM"}])
    w.expect_failure("/uploads")
    page.click("#upload-button")
    page.wait_for_function("() => document.querySelector('#upload-error').textContent !== ''")
    _shows([page.inner_text("#upload-error")], IMG)
    page.fill("#time-limit", "5")
    page.click("#run-plan")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.locator(".card.sortie").count() >= 1
    assert page.locator("svg.profile").count() >= 1
    # The map works under the policy: hillshade tiles shown, routes drawn on its canvas.
    page.wait_for_selector("#map .leaflet-tile-loaded")
    assert page.locator("#map .leaflet-overlay-pane canvas").count() == 1
    drawn = "() => { let n = 0; window.__maps[0].eachLayer(() => { n += 1; }); return n; }"
    assert page.evaluate(drawn) > 5
    texts = _hover_map(page)
    for card in page.locator(".card.sortie").all():
        card.click()
    if c.ids_flow:
        _shows([*texts, page.inner_text("#result"), page.inner_text("#depots")], IMG, SVG)
    _assert_clean(page)
    w.shot("xss-1-plan")
    plan_id = page.evaluate("document.querySelector('#plans').value")

    # Fleet: upload, start, hover the routes and drops, open and cancel every command.
    page.click("#nav-fleet")
    page.wait_for_selector(".card.vehicle")
    page.wait_for_selector(f"#fleet-plan option[value='{plan_id}']", state="attached")
    page.select_option("#fleet-plan", plan_id)
    page.click("#upload-plan")
    confirm(page)
    page.wait_for_function("() => document.querySelector('#fleet-message').textContent"
                           ".includes('verified')", timeout=60_000)
    page.click("#start-plan")
    confirm(page)
    page.wait_for_function("() => document.querySelector('#run-state').textContent"
                           ".includes('flying')", timeout=30_000)
    texts = _hover_map(page)
    if c.ids_flow:
        _shows([*texts, page.inner_text("#vehicles")], IMG, SVG)
    buttons = page.locator("#vehicles button.command")
    for i in range(buttons.count()):
        buttons.nth(i).click()
        confirm(page, "cancel")
    for ack in page.locator("button.ack").all():
        ack.click()
    # The simulator panel echoes a bad fault value in its confirm dialog and its error.
    page.select_option("#sim-fault", "battery")
    page.fill("#sim-value", IMG)
    w.expect_failure("/api/simulator/faults")
    page.click("#sim-inject")
    page.wait_for_selector("#confirm[open]")
    _shows([page.inner_text("#confirm-text")], IMG)
    confirm(page)
    page.wait_for_function("() => document.querySelector('#sim-message').className === 'error'")
    _shows([page.inner_text("#sim-message")], IMG)
    _assert_clean(page)
    w.shot("xss-2-fleet")

    # Deliveries and the public tracking page.
    page.click("#nav-deliveries")
    page.wait_for_selector("#deliveries tbody tr")
    if c.ids_flow:
        _shows([page.inner_text("#deliveries")], IMG, SCRIPT, SVG)
    link = page.locator("a.track-link").first.get_attribute("href")
    _assert_clean(page)
    w.shot("xss-3-deliveries")
    public = w.context.new_page()
    public.goto(c.url + link)
    _assert_clean(public)
    public.close()

    # Flights: replay each recorded flight.
    page.click("#nav-flights")
    page.wait_for_selector("#flights tbody tr", timeout=60_000)
    for button in page.locator("button.replay:not([disabled])").all():
        button.click()
        page.wait_for_selector("#replay:not([hidden])")
        _hover_map(page)
    _assert_clean(page)

    # Users: the account list and role selects.
    page.click("#nav-users")
    page.wait_for_selector("select.role")
    _assert_clean(page)
    w.shot("xss-4-users")

    # Login and error pages with payloads in the query and the path.
    page.click("#logout")
    page.goto(c.url + "/login?next=" + quote(SVG))
    assert page.input_value("input[name=next]") == SVG
    w.expect_failure("/login")
    page.fill("#username", IMG)
    page.fill("#password", SCRIPT)
    page.click("#login")
    page.wait_for_selector("#login-error")
    _assert_clean(page)
    w.expect_failure("/track/")
    page.goto(c.url + "/track/" + quote(IMG))
    _assert_clean(page)
    w.close()
    assert _users(c) == accounts


def test_every_response_carries_the_policy(tmp_path: Path) -> None:
    """Every route, GET and POST, pages and API, answers with the strict CSP and companions."""
    app = make_app(tmp_path / "data", SSE_MAX_S=0.5,
                   TILE_URL="https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    try:
        admin = Client(app, "admin")
        anonymous = Client(app, None)
        samples = {"int": "1", "path": "x/y", "default": "x"}
        checked = 0
        for rule in app.url_map.iter_rules():
            url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: samples[m.group(1) or "default"],
                         rule.rule)
            for client in (admin, anonymous):
                for method in sorted((rule.methods or set()) & METHODS):
                    if url in ("/logout", "/api/logout"):
                        continue
                    kw: dict[str, Any] = {"json": {}} if method != "GET" else {}
                    if method != "GET":
                        kw["headers"] = {"X-CSRFToken": client.token}
                    r = client.http.open(url, method=method, buffered=False, **kw)
                    headers = r.headers
                    r.close()
                    _assert_headers(headers, f"{method} {url} -> {r.status_code}")
                    checked += 1
        assert checked > 40
    finally:
        services(app).close()


def _assert_headers(headers: Any, where: str) -> None:
    """The strict policy and its companion headers are in ``headers``."""
    policy = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ") if d}
    assert directives.get("script-src") == ["'self'"], where
    assert directives.get("style-src") == ["'self'"], where
    assert directives.get("object-src") == ["'none'"], where
    assert directives.get("base-uri") == ["'none'"], where
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert directives.get("form-action") == ["'self'"], where
    assert directives.get("connect-src") == ["'self'"], where
    assert directives.get("img-src") == ["'self'", "data:", "https://*.tile.openstreetmap.org"], \
        where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert "camera=()" in headers.get("Permissions-Policy", ""), where


@pytest.fixture(autouse=True)
def _artifacts() -> None:
    """Screenshots have a folder even when this module runs alone."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
