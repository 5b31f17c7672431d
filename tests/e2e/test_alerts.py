"""Alerts on the Fleet page in a real browser: each shows its time, severity, cause and
suggested action; an info alert needs no acknowledgement, a critical one has an Acknowledge
button (and, once acknowledged, says by whom); a new critical alert rings (a tone and a browser
notification) when the crew turned that on; a vehicle's STATUSTEXT carrying markup shows as
literal text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gcs.fleet.failsafe import Alert, AlertKind, FailsafeMonitor, Severity
from tests.e2e.helpers import Watched
from tests.gcs.helpers import tutorial_case
from tests.web.helpers import make_app, serve, services

pytestmark = pytest.mark.slow

#: A vehicle failsafe text with markup, as a STATUSTEXT could carry it.
PAYLOAD = "<img src=x onerror=window.__xss=1> Battery Failsafe"
#: Counts the tones and notifications the page makes.
RECORD_RING = """
window.__tones = 0; window.__notes = [];
window.AudioContext = class {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() {}
  createOscillator() { window.__tones += 1; return {frequency: {}, connect: (g) => g,
    start() {}, stop() {}}; }
  createGain() { return {gain: {setValueAtTime() {}, exponentialRampToValueAtTime() {}},
    connect: (d) => d}; }
};
window.Notification = class {
  constructor(title, options) { window.__notes.push(title + " | " + options.body); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


class _Manager:
    """What the console reads of a run's fleet manager."""

    def __init__(self) -> None:
        self.assignment = {"north_conway/heavy_octo/1": 1}
        self.run = None
        self.resend_delivered = False
        self.skipped: dict[str, str] = {}

    def vehicles(self) -> tuple[()]:
        return ()


class _Run:
    """A finished run of the flight log, its alerts recorded (no vehicle flies)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.plan_id = "alerts"
        self.started = True
        self.finished = True
        self.manager = _Manager()

    def routes(self) -> dict[str, list[list[float]]]:
        return {}

    def drops(self) -> list[dict[str, Any]]:
        return []

    def vehicles(self) -> dict[int, dict[str, Any]]:
        return {}

    def stop(self) -> None:
        """Nothing runs."""


def _alert(kind: AlertKind, severity: Severity, message: str,
           action: str | None = None) -> Alert:
    return Alert(kind=kind, severity=severity, message=message, sysid=1, sortie_id="S001",
                 at_s=time.monotonic(), action=action)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A console (no vehicle link) whose run recorded an info alert and a STATUSTEXT-derived
    critical alert carrying markup."""
    app = make_app(tmp_path / "data", CONNECT=[])
    fleet = services(app).fleet
    record = fleet.flight_log.start_run(plan_key="alerts", plan_name="alerts", resume=False)
    fleet.run = _Run(record.id)  # type: ignore[assignment]
    fleet.flight_log.record_alert(record.id, _alert(AlertKind.LINK_RESTORED, Severity.INFO,
                                                    "heartbeats again"))
    sortie = tutorial_case(3).plan.sorties[0]
    [failsafe] = FailsafeMonitor(sortie, sysid=1).on_text(PAYLOAD, time.monotonic())
    fleet.flight_log.record_alert(record.id, failsafe)
    try:
        for server in serve(app):
            yield app, server.url
    finally:
        services(app).close()


def test_alerts_show_time_cause_action_and_ack_only_where_needed(
        console: tuple[Any, str], browser: Any) -> None:
    """Info: time and cause, no button. Critical (from a STATUSTEXT with markup): time,
    severity, the markup as literal text, the suggested action and an Acknowledge button. A new
    critical alert rings once ringing is on; acknowledging names who did."""
    app, url = console
    fleet = services(app).fleet
    assert fleet.run is not None and fleet.run.run_id is not None
    run_id = fleet.run.run_id
    watched = Watched(browser, url)
    watched.context.add_init_script(RECORD_RING)
    try:
        page = watched.login("crew")
        page.goto(url + "/fleet")
        page.locator("#alerts li").nth(1).wait_for()
        info = page.locator("#alerts li[data-severity='info']")
        critical = page.locator("#alerts li[data-severity='critical']")
        assert info.count() == 1 and critical.count() == 1
        assert "heartbeats again" in info.locator(".alert-cause").text_content()
        assert info.locator("button.ack").count() == 0
        assert info.locator(".alert-advice").text_content() == "→ no action needed"
        assert critical.locator(".alert-cause").text_content() == PAYLOAD
        assert critical.locator("img").count() == 0
        assert page.evaluate("window.__xss") is None
        assert critical.locator(".alert-severity").text_content() == "CRITICAL"
        assert "vehicle_failsafe" in critical.locator(".alert-vehicle").text_content()
        assert critical.locator(".alert-advice").text_content().startswith("→ follow the")
        when = critical.locator(".alert-time")
        assert when.get_attribute("title").endswith("Z")  # the server's time, ISO-8601 UTC
        assert when.text_content().rstrip().endswith("s ago)")
        assert critical.locator("button.ack").is_enabled()
        assert page.evaluate("window.__tones") == 0  # old alerts do not ring
        failsafe_id = critical.get_attribute("id")

        page.check("#alert-ring")
        assert page.evaluate("localStorage.getItem('dropline.alerts.ring')") == "on"
        tones = page.evaluate("window.__tones")
        fleet.flight_log.record_alert(run_id, _alert(
            AlertKind.BATTERY_RESERVE, Severity.CRITICAL,
            "battery 24 % with 31 % needed to return leaves less than the 20 % reserve",
            action="RTL"))
        page.locator("#alerts li[data-severity='critical']").nth(1).wait_for()
        newest = page.locator("#alerts li").first
        assert "battery 24 % with 31 % needed" in newest.locator(".alert-cause").text_content()
        assert newest.locator(".alert-advice").text_content() == \
            "→ vehicle is returning; prepare the landing site"
        page.wait_for_function(f"window.__tones > {tones}")
        notes = page.evaluate("window.__notes")
        assert len(notes) == 1 and notes[0].startswith("Critical: vehicle 1 battery_reserve")

        page.locator(f"#{failsafe_id} button.ack").click()
        page.wait_for_selector(f"#{failsafe_id} .alert-acked")
        assert page.locator(f"#{failsafe_id} .alert-acked").text_content() == \
            "acknowledged by crew"
        assert page.locator(f"#{failsafe_id} button.ack").count() == 0
        page.reload()
        page.locator("#alerts li").nth(2).wait_for()
        assert page.locator("#alert-ring").is_checked()  # remembered
        assert page.locator("#alerts li[data-severity='info'] button.ack").count() == 0
        watched.shot("fleet-alerts")
    finally:
        watched.close()
