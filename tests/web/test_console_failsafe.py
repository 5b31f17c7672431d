"""Console commands never switch a failsafe off: pause, resume, RTL, land or an upload tried
in flight through the console's API, then a battery sag below the reserve on the built-in
simulator: the reserve alert is raised, RTL is commanded where the rule says (hold or mission),
and the operator's own pause is not "vehicle left the mission"."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gcs.helpers import FleetCase, ReleaseRecorder, start_fleet
from tests.helpers.waiting import wait_until
from tests.web.helpers import REPO, Client, make_app, plan_done, services
from web import create_app

pytestmark = [pytest.mark.slow, pytest.mark.sitl]
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 1}}
#: The console verbs sent, in order, for each case ("upload" tries to upload in flight).
VERBS = {"pause": ["pause"], "resume": ["pause", "resume"], "rtl": ["rtl"], "land": ["land"],
         "upload": ["upload"]}
#: The mode the vehicle is in after each verb.
MODES = {"pause": "LOITER", "resume": "AUTO", "rtl": "RTL", "land": "LAND"}
RTL_AFTER = {"pause": True, "resume": True, "rtl": False, "land": False, "upload": True}
#: Slower than other fleet tests: a LAND from cruise height must not touch down before the sag.
SPEEDUP = 10.0


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A console data folder holding a finished one-drop plan, its scenario and DEM."""
    data = tmp_path_factory.mktemp("planned")
    app = make_app(data)
    plan_id = plan_done(Client(app, "operator"), edits={"depots": [HUB], "drop_ids": ["P014"]},
                        app=app)
    case = FleetCase(plan=services(app).plans.plan(plan_id),
                     scenario=services(app).plans.scenario(plan_id)[0],
                     dem=services(app).plans.scenario(plan_id)[1])
    services(app).close()
    return {"data": data, "plan_id": plan_id, "case": case}


@pytest.fixture
def console(planned: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A copy of the planned console on one fresh simulated copter at the hub."""
    data = tmp_path / "data"
    shutil.copytree(planned["data"], data)
    fleet = start_fleet(planned["case"], 1, speedup=SPEEDUP)
    app = create_app({"DATA_DIR": str(data), "MISSIONS_DIR": str(REPO / "missions"),
                      "SAMPLE_SCENARIO": "tutorial", "CONNECT": fleet.connection_strings,
                      "TIME_SCALE": SPEEDUP, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    try:
        yield {"app": app, "fleet": fleet, "plan_id": planned["plan_id"]}
    finally:
        services(app).close()
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
            r = c.post(f"/api/fleet/vehicles/1/{verb}")
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
