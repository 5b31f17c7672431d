"""A delivery flown through a ``dropline worker`` on real ArduCopter SITL: the console in broker
mode (PostgreSQL, a real Mosquitto) plans one valley drop from the Littleton hub, the worker
uploads and verifies the sortie on the real vehicle, flies it, carries out the operator's pause
and resume in flight, and the parcel is released at its drop and logged once.
Instance 46 keeps clear of other tests' SITL ports (TCP 5760 + 10 I).
"""

from __future__ import annotations

import collections
import re
import shutil
from pathlib import Path

import pytest

from gcs.geo import distance_m
from gcs.tlog.reader import read_flight
from planner.io.scenario import load_scenario
from tests.helpers.bus_workers import Workers
from tests.helpers.mosquitto import running_mosquitto
from tests.helpers.shared_data import DISTRICT_HGT
from tests.helpers.waiting import wait_until
from tests.sitl.ardupilot.helpers import ARDUCOPTER
from tests.sitl.ardupilot.test_delivery import (
    LANDED_TOLERANCE_M,
    RELEASE_TOLERANCE_M,
    SCENARIO,
    Vehicles,
)
from tests.web.helpers import Client, make_app, plan_done, services

pytestmark = [
    pytest.mark.sitl, pytest.mark.slow,
    pytest.mark.skipif(not ARDUCOPTER.is_file(),
                       reason=f"real ArduCopter SITL not found at {ARDUCOPTER} (set "
                              f"ARDUPILOT_SITL_BIN or DROPLINE_SHARED)"),
]

HUB = "littleton"
DROP = "V1"


def _console_scenario(missions: Path) -> Path:
    """The valleys-and-ridges scenario in a missions folder of its own, its terrain tile inside
    it (a console reads no file outside a scenario's folder)."""
    folder = missions / "valleys_ridges"
    shutil.copytree(SCENARIO, folder)
    shutil.copyfile(DISTRICT_HGT, folder / DISTRICT_HGT.name)
    toml = folder / "scenario.toml"
    toml.write_text(re.sub(r'(?m)^dem = .*$', f'dem = "{DISTRICT_HGT.name}"',
                           toml.read_text()))
    return folder


def test_a_worker_flies_a_console_plan_on_real_ardupilot(tmp_path: Path,
                                                          postgres_url: str) -> None:
    """Upload verified on the real vehicle through the worker, start, pause (LOITER) and
    resume (AUTO) in flight through the console, the parcel released within tolerance of its
    drop, the vehicle home and disarmed, one completed flight and one delivered event."""
    scenario = _console_scenario(tmp_path / "missions")
    vehicles = Vehicles(tmp_path / "sitl", [46], drone_type_id="sitl_quad")
    try:
        vehicles.wait_listening()
        with running_mosquitto(tmp_path / "broker", [HUB]) as broker:
            app = make_app(tmp_path / "console", BROKER=broker.url("console"),
                           DATABASE_URL=postgres_url,
                           MISSIONS_DIR=str(scenario.parent),
                           SAMPLE_SCENARIO="valleys_ridges")
            (tmp_path / "workers").mkdir()
            workers = Workers(tmp_path / "workers", broker,
                              [f"tcp:127.0.0.1:{p}" for p in vehicles.ports], hub=HUB,
                              database=postgres_url, scenario=scenario)
            try:
                workers.start("w-a")
                c = Client(app, "operator")
                depot = load_scenario(SCENARIO).depots[0]
                plan_id = plan_done(c, "valleys_ridges", edits={
                    "depots": [{"id": depot.id, "lat_deg": depot.lat_deg,
                                "lon_deg": depot.lon_deg, "drones": {"sitl_quad": 1}}],
                    "drop_ids": [DROP]}, app=app)
                wait_until(lambda: len(c.get("/api/fleet").json["vehicles"]) == 1, 60,
                           "the vehicle heard through the worker", period_s=0.5)
                r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
                assert r.status_code == 200, r.json
                [result] = r.json["results"]
                assert result["ok"] and "items verified" in result["detail"], result
                assert "worker w-a" in result["detail"], result
                assert c.post("/api/fleet/start").status_code == 200
                sysid = result["sysid"]

                def vehicle() -> dict[str, object]:
                    found: dict[str, object] = next(
                        v for v in c.get("/api/fleet").json["vehicles"] if v["sysid"] == sysid)
                    return found

                # real SITL arms only once its EKF uses GPS (about 42 s after boot at 1x)
                wait_until(lambda: vehicle()["mode"] == "AUTO" and float(
                    str(vehicle()["alt_rel_m"] or 0)) > 20, 300, "the vehicle in the air",
                    period_s=0.5)
                r = c.post(f"/api/fleet/vehicles/{sysid}/pause")
                assert r.status_code == 200 and "LOITER" in r.json["results"][0]["detail"], \
                    r.json
                wait_until(lambda: vehicle()["mode"] == "LOITER", 20, "LOITER shown")
                r = c.post(f"/api/fleet/vehicles/{sysid}/resume")
                assert r.status_code == 200 and "AUTO" in r.json["results"][0]["detail"], \
                    r.json
                wait_until(lambda: c.get("/api/fleet").json["run"]["finished"], 420,
                           "the run to finish", period_s=1.0)
                state = c.get("/api/fleet").json
                assert {d["drop_id"]: d["state"] for d in state["drops"]} == \
                    {DROP: "delivered"}
                assert not [a for a in state["alerts"] if a["kind"] == "mode_change"], \
                    state["alerts"]
                flights = c.get("/api/flights").json["flights"]
                log = services(app).fleet.flight_log
                run_id = state["run"]["run_id"]
                delivered = collections.Counter(
                    e["drop_id"] for e in log.delivery_events(run_id)
                    if e["state"] == "delivered")
                flown = [f for f in flights if f["state"] != "aborted"]
                assert len(flown) == 1, flights
                tlog_file = log.flight_tlog_path(flown[0]["id"])
            except BaseException:
                workers.print_logs()
                raise
            finally:
                workers.stop()
                services(app).close()
    finally:
        vehicles.close()
    assert delivered == {DROP: 1}
    assert flown[0]["state"] == "completed" and flown[0]["has_log"], flights
    assert tlog_file is not None
    tlog = read_flight(tlog_file)
    drop = next(d for d in load_scenario(SCENARIO).drops if d.id == DROP)
    [release] = tlog.releases
    assert distance_m(drop.lat_deg, drop.lon_deg, release.lat_deg, release.lon_deg) <= \
        RELEASE_TOLERANCE_M
    last = tlog.samples[-1]
    assert not last.armed
    depot = load_scenario(SCENARIO).depots[0]
    assert distance_m(depot.lat_deg, depot.lon_deg, last.lat_deg, last.lon_deg) <= \
        LANDED_TOLERANCE_M

