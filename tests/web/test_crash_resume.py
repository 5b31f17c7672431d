"""A console killed with SIGKILL after its parcels were delivered, started again on the same data
folder: the run and the delivery states are shown again, the flight left open is closed, and
starting the same plan again does not fly the delivered parcel unless it is re-sent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gcs.fleet.logs import FlightLog
from tests.gcs.helpers import SPEEDUP, FleetCase, start_fleet
from tests.helpers.waiting import poll, wait_until
from tests.web.helpers import PASSWORD, REPO, Client, make_app, plan_done, services

pytestmark = [pytest.mark.slow, pytest.mark.sitl]
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 1}}
DROP = "P014"


class Console:
    """``dropline serve`` in a child process, logged in as the operator over real HTTP."""

    def __init__(self, data: Path, connect: list[str]) -> None:
        args = [sys.executable, "-m", "dropline.cli", "serve", "--port", "0", "--data-dir",
                str(data), "--speedup", str(SPEEDUP)]
        for url in connect:
            args += ["--connect", url]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "DROPLINE_ADMIN_PASSWORD": PASSWORD})
        assert self.proc.stdout is not None
        found = None
        for _ in range(5):
            found = re.search(r"dropline console: (http://\S+)/", self.proc.stdout.readline())
            if found:
                break
        assert found, "the console printed no address"
        self.url = found.group(1)
        self.http = requests.Session()
        self.token = self.get("/api/csrf")["csrf_token"]
        r = self.post("/api/login", json={"username": "operator", "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.token = self.get("/api/csrf")["csrf_token"]

    def get(self, path: str) -> Any:
        r = self.http.get(self.url + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.url + path, headers={"X-CSRFToken": self.token}, timeout=60,
                              **kw)

    def kill(self) -> None:
        """SIGKILL: nothing is closed, nothing more is written."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        self.http.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A one-drop plan made in a console data folder, and one simulated copter at its hub."""
    data = tmp_path / "data"
    app = make_app(data)
    plan_id = plan_done(Client(app, "operator"), edits={"depots": [HUB], "drop_ids": [DROP]},
                        app=app)
    plan = services(app).plans.plan(plan_id)
    scenario, dem = services(app).plans.scenario(plan_id)
    services(app).close()
    fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 1)
    consoles: list[Console] = []

    def console() -> Console:
        c = Console(data, fleet.connection_strings)
        consoles.append(c)
        return c

    try:
        yield {"data": data, "plan_id": plan_id, "fleet": fleet, "console": console}
    finally:
        for c in consoles:
            c.stop()
        fleet.stop()


def _flights(data: Path) -> list[Any]:
    log = FlightLog(data / "flights.db")
    try:
        return log.flights()
    finally:
        log.close()


def _drops(state: dict[str, Any]) -> dict[str, str]:
    return {d["drop_id"]: d["state"] for d in state["drops"]}


def test_a_killed_console_resumes_and_never_flies_a_delivered_parcel_again(
        setup: dict[str, Any]) -> None:
    """Kill -9 once the parcel is delivered and the copter flies home; the restarted console
    shows the run and the delivery, closes the flight when the copter lands, refuses to fly the
    delivered parcel again (nothing uploaded, no take-off, no release) and flies it once the
    operator re-sends it (audited)."""
    data, plan_id, fleet = setup["data"], setup["plan_id"], setup["fleet"]
    vehicle = fleet.vehicle(0)
    first = setup["console"]()
    wait_until(lambda: len(first.get("/api/fleet")["vehicles"]) == 1, 30, "the copter heard",
               period_s=0.2)
    assert first.post("/api/fleet/upload", json={"plan_id": plan_id}).status_code == 200
    assert first.post("/api/fleet/start").status_code == 200
    wait_until(lambda: _drops(first.get("/api/fleet")) == {DROP: "delivered"}, 120,
               "the delivery", period_s=0.1)
    assert vehicle.snapshot().armed, "the copter landed before the kill"
    first.kill()
    [flight] = _flights(data)
    assert flight.state == "flying" and flight.ended_at is None
    assert vehicle.snapshot().gripper_released_count == 1

    second = setup["console"]()
    state = second.get("/api/fleet")
    assert state["run"] is not None and state["run"]["plan_id"] == plan_id
    assert _drops(state) == {DROP: "delivered"}
    deliveries = second.get("/api/deliveries")
    assert deliveries["plan_id"] == plan_id
    assert {d["drop_id"]: d["state"] for d in deliveries["drops"]} == {DROP: "delivered"}
    wait_until(lambda: second.get("/api/fleet")["run"]["finished"], 120,
               "the resumed run to end", period_s=0.2)
    [flight] = _flights(data)
    assert flight.state == "completed" and flight.ended_at is not None
    assert not vehicle.snapshot().armed

    again = second.post("/api/fleet/upload", json={"plan_id": plan_id})
    assert again.status_code == 409 and DROP in again.json()["error"], again.text
    assert second.post("/api/fleet/start").status_code == 409
    assert not poll(lambda: vehicle.snapshot().armed, 3.0)
    assert vehicle.snapshot().gripper_released_count == 1
    assert len(_flights(data)) == 1
    assert _audit_actions(data).count(("upload", "ok")) == 1  # the first upload only

    resend = second.post("/api/fleet/upload", json={"plan_id": plan_id,
                                                   "resend_delivered": True})
    assert resend.status_code == 200, resend.text
    assert second.post("/api/fleet/start").status_code == 200
    wait_until(lambda: second.get("/api/fleet")["run"]["finished"], 180, "the re-sent run",
               period_s=0.2)
    assert _drops(second.get("/api/fleet")) == {DROP: "delivered"}
    assert vehicle.snapshot().gripper_released_count == 2
    assert [f.state for f in _flights(data)] == ["completed", "completed"]
    second.stop()
    audit = _audit_actions(data)
    assert ("upload", "refused") in audit and ("upload (re-send delivered)", "ok") in audit


def _audit_actions(data: Path) -> list[tuple[str, str]]:
    import sqlalchemy as sa

    from web import db as tables

    engine = sa.create_engine(f"sqlite:///{data / 'console.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(tables.audit_log.c.action,
                                          tables.audit_log.c.result)).all()
    finally:
        engine.dispose()
    return [(r.action, r.result) for r in rows]
