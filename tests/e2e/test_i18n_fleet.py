"""The Fleet page in Hindi and Simplified Chinese in a real browser: what its scripts draw (a
vehicle's card with its phase and battery, a stale vehicle's flag and age, the drop summary,
the alerts with their severity and Acknowledge button, the offline indicator) is in the
page's language, and the data (names, alert texts) stays as it came, as text."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.helpers import Watched

pytestmark = pytest.mark.slow

#: What each language shows for the card, staleness, drop and alert texts.
EXPECTED = {
    "hi": {"h1": "बेड़ा", "armed": "आर्म्ड", "phase": "चरण: उड़ान में", "heard": "संपर्क ",
           "ago": "पहले", "battery": "बैटरी 80%", "pause": "रोकें", "stale": "पुराना डेटा",
           "last_heard": "अंतिम संपर्क ", "summary": "2 में से 1 पहुँचाए",
           "critical": "गंभीर", "ack": "स्वीकार करें", "ring": "गंभीर चेतावनियों पर ध्वनि बजाएँ",
           "acked": "ops ने स्वीकार किया", "offline": "से ऑफ़लाइन",
           "banner": "अंतिम ज्ञात स्थिति", "run": "योजना p · उड़ान में"},
    "zh": {"h1": "机队", "armed": "已解锁", "phase": "阶段\uff1a飞行中", "heard": "前收到",
           "ago": "前", "battery": "电池 80%", "pause": "暂停", "stale": "数据过时",
           "last_heard": "最后收到于 ", "summary": "2 个中已送达 1 个",
           "critical": "严重", "ack": "确认", "ring": "严重警报时响铃",
           "acked": "已由 ops 确认", "offline": "起离线",
           "banner": "显示最后已知状态", "run": "计划 p · 飞行中"},
}
#: An alert's text as a vehicle could send it: shown as it is, never as markup.
CAUSE = "<b>Battery</b> Failsafe"


def _fleet_state(route: Any) -> None:
    """The live stream answers one ``state`` event: a run, a vehicle heard just now (system
    1), one not heard for 90 s (system 2), two drops (one delivered) and two alerts (a critical
    one to acknowledge, a warning acknowledged by "ops"); then it stays silent."""
    response = route.fetch(url=route.request.url.replace("/api/fleet/live", "/api/fleet"))
    state = response.json()
    now = time.time()
    state.update(t=now, stale_s=5.0, rate_hz=1.0)
    state["run"] = {"plan_id": "p", "run_id": 1, "started": True, "finished": False,
                    "routes": {}, "assignment": {"octo a": 1, "octo b": 2}, "resumed": False,
                    "resend_delivered": False, "skipped": {}}
    state["vehicles"] = {str(sysid): {
        "sysid": sysid, "name": name, "sortie_id": sortie, "phase": "flying", "mode": "AUTO",
        "armed": True, "lat_deg": 44.06, "lon_deg": -71.13, "heard_at": now - age_s,
        "battery_pct": 80, "alt_agl_m": 42.5, "groundspeed_m_s": 9.0, "loss_rate": 0.0}
        for sysid, name, sortie, age_s in ((1, "octo a", "S001", 0), (2, "octo b", "S002", 90))}
    state["drops"] = [
        {"drop_id": "P001", "state": "delivered", "lat_deg": 44.05, "lon_deg": -71.12},
        {"drop_id": "P002", "state": "en_route", "lat_deg": 44.07, "lon_deg": -71.14}]
    state["alerts"] = [
        {"id": 1, "severity": "critical", "sysid": 1, "sortie_id": "S001",
         "kind": "vehicle_failsafe", "message": CAUSE, "advice": None, "action": None,
         "at": now - 30, "at_iso": "", "needs_ack": True, "acked_by": None},
        {"id": 2, "severity": "warning", "sysid": 2, "sortie_id": "S002",
         "kind": "link_lost", "message": "no heartbeat", "advice": None, "action": None,
         "at": now - 60, "at_iso": "", "needs_ack": True, "acked_by": "ops"}]
    headers = {**response.headers, "content-type": "text/event-stream"}
    headers.pop("content-length", None)
    route.fulfill(status=200, headers=headers,
                  body=f"retry: 600000\nevent: state\ndata: {json.dumps(state)}\n\n")


@pytest.mark.parametrize("code", ["hi", "zh"])
def test_the_fleet_page_draws_its_cards_and_alerts_in_the_language(
        console_url: str, browser: Any, code: str) -> None:
    """Cards (phase, armed, battery, buttons, heard/last heard), the STALE flag, the drop
    summary, the run, the alerts (severity, Acknowledge, who acknowledged, the ring toggle) and
    then the offline indicator and banner are translated; the alert's markup stays text."""
    want = EXPECTED[code]
    w = Watched(browser, console_url)
    page = w.login("operator")
    page.route("**/api/fleet/live*", _fleet_state)
    page.goto(console_url + f"/fleet?lang={code}")
    assert page.inner_text("h1") == want["h1"]
    page.wait_for_selector("#vehicle-2[data-stale='true']")
    fresh = page.locator("#vehicle-1")
    assert fresh.get_attribute("data-stale") == "false"
    mode = fresh.locator(".mode").inner_text()
    assert want["armed"] in mode and want["phase"] in mode, mode
    age = fresh.locator(".age").inner_text()
    assert want["heard"] in age and want["ago"] in age, age
    assert fresh.locator(".battery-text").inner_text() == want["battery"]
    assert fresh.locator("button[data-verb='pause']").inner_text() == want["pause"]
    stale = page.locator("#vehicle-2")
    assert stale.locator(".stale-flag").inner_text() == want["stale"]
    assert want["last_heard"] in stale.locator(".age").inner_text()
    assert page.inner_text("#drop-summary").startswith(want["summary"])
    assert page.inner_text("#run-state") == want["run"]
    critical = page.locator("#alert-1")
    assert critical.locator(".alert-severity").inner_text() == want["critical"]
    assert critical.locator(".alert-cause").inner_text() == CAUSE
    assert critical.locator("button.ack").inner_text() == want["ack"]
    assert page.locator("#alert-2 .alert-acked").inner_text() == want["acked"]
    assert page.inner_text("#alert-ring-toggle").strip() == want["ring"]
    assert page.locator("#alerts b:not(.alert-severity)").count() == 0   # no markup parsed
    page.wait_for_function(f"() => document.getElementById('live').textContent"
                           f".includes({json.dumps(want['offline'])})", timeout=20_000)
    assert want["banner"] in page.inner_text("#offline-banner")
    assert "STALE" not in page.inner_text("#vehicles")
    w.close()
