"""Console commands never switch a failsafe off: pause, resume, RTL, land or an upload tried
in flight through the console's API (on its own link, or through workers), then a battery sag
below the reserve on the built-in simulator: the reserve alert is raised, RTL is commanded where
the rule says (hold or mission), and the operator's own pause is not "vehicle left the mission"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gcs.helpers import FleetCase, ReleaseRecorder, start_fleet
from tests.helpers.bus_workers import CONSOLE_MODES, fleet_console
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, plan_done, services

pytestmark = [pytest.mark.slow, pytest.mark.sitl]
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 1}}
EDITS = {"depots": [HUB], "drop_ids": ["P014"]}
#: The console verbs sent, in order, for each case ("upload" tries to upload in flight).
VERBS = {"pause": ["pause"], "resume": ["pause", "resume"], "rtl": ["rtl"], "land": ["land"],
         "upload": ["upload"]}
#: The mode the vehicle is in after each verb.
MODES = {"pause": "LOITER", "resume": "AUTO", "rtl": "RTL", "land": "LAND"}
RTL_AFTER = {"pause": True, "resume": True, "rtl": False, "land": False, "upload": True}
#: Slower than other fleet tests: a LAND from cruise height must not touch down before the sag.
SPEEDUP = 10.0


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> FleetCase:
    """A finished one-drop plan, its scenario and DEM (for the simulated copter)."""
    app = make_app(tmp_path_factory.mktemp("planned"))
    plan_id = plan_done(Client(app, "operator"), edits=EDITS, app=app)
    scenario, dem = services(app).plans.scenario(plan_id)
    found = FleetCase(plan=services(app).plans.plan(plan_id), scenario=scenario, dem=dem)
    services(app).close()
    return found


@pytest.fixture(params=CONSOLE_MODES)
def console(request: pytest.FixtureRequest, planned: FleetCase,
            tmp_path: Path) -> Iterator[dict[str, Any]]:
    """One fresh simulated copter at the hub and a console flying it (on its link or through
    workers), with the one-drop plan made again in the console."""
    fleet = start_fleet(planned, 1, speedup=SPEEDUP)
    try:
        with fleet_console(request.param, tmp_path, fleet.connection_strings, request,
                           TIME_SCALE=SPEEDUP, RESET_BATTERY=False) as app:
            plan_id = plan_done(Client(app, "operator"), edits=EDITS, app=app)
            yield {"app": app, "fleet": fleet, "plan_id": plan_id}
    finally:
        fleet.stop()


def _alerts(c: Client) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = c.get("/api/fleet").json["alerts"]
    return alerts


@pytest.mark.parametrize("case", list(VERBS))
def test_battery_protection_survives_every_console_command(console: dict[str, Any],
                                                           case: str) -> None:
    """Command through the console in flight, then the battery sags below the reserve: the
    critical reserve alert comes, with RTL where the rule says, and no "left the mission"
    alert for the operator's own command."""
    app, fleet, plan_id = console["app"], console["fleet"], console["plan_id"]
    vehicle = fleet.vehicle(0)
    c = Client(app, "operator")
    wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 1, 30, "the copter heard",
               period_s=0.2)
    sysid = c.get("/api/fleet").json["vehicles"][0]["sysid"]   # (the console's id of it)
    assert c.post("/api/fleet/upload", json={"plan_id": plan_id}).status_code == 200
    assert c.post("/api/fleet/start").status_code == 200
    wait_until(lambda: vehicle.snapshot().armed and vehicle.snapshot().alt_rel_m > 30
               and vehicle.snapshot().mode == "AUTO", 60, "take-off")
    with ReleaseRecorder(fleet, 1) as recorder:
        for verb in VERBS[case]:
            if verb == "upload":
                r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
                assert r.status_code == 409, r.json
                continue
            r = c.post(f"/api/fleet/vehicles/{sysid}/{verb}")
            assert r.status_code == 200, r.json
            wait_until(lambda v=verb: vehicle.snapshot().mode == MODES[v], 10,  # type: ignore[misc]
                       f"mode {MODES[verb]}")
        vehicle.battery_sag(0.85)
        wait_until(lambda: any(a["kind"] == "battery_reserve" for a in _alerts(c)), 20,
                   "the reserve alert", period_s=0.1)
        if RTL_AFTER[case]:
            wait_until(lambda: "RTL" in recorder.modes[1], 20, "RTL")
    alerts = _alerts(c)
    [reserve] = [a for a in alerts if a["kind"] == "battery_reserve"]
    assert reserve["severity"] == "critical"
    assert reserve["action"] == ("RTL" if RTL_AFTER[case] else None), reserve
    assert not [a for a in alerts if a["kind"] == "mode_change"], alerts
