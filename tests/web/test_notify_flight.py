"""Notifications of a plan flown by simulated copters through the console: every recipient
hears that the parcel is on its way and that it was delivered, once, by webhook and e-mail."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.gcs.helpers import FleetCase, start_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, services
from tests.web.helpers_notify import receiver, recipients_plan, smtp_server, write_settings
from web.notify.config import load_notify_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", CONSOLE_MODES)
def test_flown_parcels_are_told_once(mode: str, tmp_path: Path,
                                     request: pytest.FixtureRequest) -> None:
    """Two parcels flown on two simulated copters (by the console, or through workers): each
    recipient is told "on its way" and "delivered" exactly once on each channel it has; nothing
    more after the run ends."""
    planner_app = make_app(tmp_path / "plan")
    plan_id = recipients_plan(planner_app, Client(planner_app, "operator"))
    scenario, dem = services(planner_app).plans.scenario(plan_id)
    plan = services(planner_app).plans.plan(plan_id)
    services(planner_app).close()
    fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 2)
    try:
        with receiver() as hook, smtp_server() as inbox:
            settings = write_settings(tmp_path / "conf", hook.url, inbox.port,
                                      extra="interval_s = 0.3")
            with fleet_console(mode, tmp_path, fleet.connection_strings, request,
                               NOTIFY=load_notify_config(settings)) as app:
                c = Client(app, "operator")
                plan_id = recipients_plan(app, c)
                wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 2, 30,
                           "two vehicles heard", period_s=0.2)
                r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
                assert r.status_code == 200, r.json
                assert c.post("/api/fleet/start").status_code == 200
                wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 240,
                           "the run to finish", period_s=0.3)
                wait_until(lambda: sum(e["event"] == "delivered" for e in hook.events()) == 2,
                           15, "both deliveries told", period_s=0.2)
                notify = services(app).notify
                assert notify is not None
                notify.tick()
            told = Counter((e["parcel"], e["event"]) for e in hook.events())
            assert told[("P014", "out_for_delivery")] == 1
            assert told[("P020", "out_for_delivery")] == 1
            assert told[("P014", "delivered")] == 1 and told[("P020", "delivered")] == 1
            assert set(told.values()) == {1} and not any(k[1] == "failed" for k in told)
            mails = Counter(m["Subject"] for m in inbox.messages)
            assert mails["Your parcel P014 is on its way"] == 1
            assert mails["Your parcel P014 was delivered"] == 1
            assert set(mails.values()) == {1}
            assert {m["To"] for m in inbox.messages} == {"anne@example.org"}
    finally:
        fleet.stop()
