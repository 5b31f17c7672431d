"""Fault injection into an attached simulator through the console: roles, CSRF, input checks,
the audit log, the fleet page's panel, and a real injection into a built-in fleet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from dropline.commands.sim_control import FAULTS, FleetSimulator
from tests.helpers.ports import free_base_port
from tests.sitl.helpers_fakes import RecordingVehicle
from tests.web.helpers import Client, make_app, services
from web import db as tables
from web.openapi import SIM_FAULTS

FAULT = "/api/simulator/faults"


class FakeFleet:
    """Stands in for a built-in fleet: ``vehicle(i)`` handles and ``len``."""

    def __init__(self, n: int) -> None:
        self.handles = [RecordingVehicle() for _ in range(n)]

    def vehicle(self, index: int) -> RecordingVehicle:
        return self.handles[index]

    def __len__(self) -> int:
        return len(self.handles)


@pytest.fixture
def fake() -> FakeFleet:
    """Two recorded vehicles."""
    return FakeFleet(2)


@pytest.fixture
def sim_app(tmp_path: Path, fake: FakeFleet) -> Iterator[Flask]:
    """A console with the fake fleet attached as its simulator."""
    app = make_app(tmp_path / "sim", SIMULATOR=FleetSimulator(fake))
    yield app
    services(app).close()


def _audit(app: Flask) -> list[tuple[str, str, str, str]]:
    rows = services(app).db.rows(sa.select(tables.audit_log).order_by(tables.audit_log.c.id))
    return [(r.username, r.action, r.target, r.result) for r in rows]


@pytest.mark.parametrize(("role", "status"), [
    ("engineer", 200), ("admin", 200), ("operator", 200), ("crew", 403), (None, 401)])
def test_simulator_listing_by_role(sim_app: Flask, role: str | None, status: int) -> None:
    """Engineers, admins and operators see the vehicles and faults; crew 403, nobody 401."""
    r = Client(sim_app, role).get("/api/simulator")
    assert r.status_code == status, r.json
    if status == 200:
        assert r.json["vehicles"] == [1, 2]
        assert {f["name"] for f in r.json["faults"]} == set(FAULTS)
        assert r.json["may_inject"] is (role in ("engineer", "admin"))


@pytest.mark.parametrize("role", ["engineer", "admin"])
def test_engineer_and_admin_inject_and_it_is_audited(sim_app: Flask, fake: FakeFleet,
                                                     role: str) -> None:
    """An injection reaches the right vehicle and leaves an audit row with its result."""
    c = Client(sim_app, role)
    r = c.post(FAULT, json={"vehicle": 2, "fault": "battery", "value": "0.4"})
    assert r.status_code == 200, r.json
    assert r.json["detail"] == "vehicle 2: battery 0.4"
    assert fake.handles[1].calls == [("battery", 0.4)]
    assert fake.handles[0].calls == []
    assert _audit(sim_app)[-1] == (role, "fault battery", "vehicle 2", "ok")


def test_link_faults_add_up_until_link_ok(sim_app: Flask, fake: FakeFleet) -> None:
    """Link faults of one vehicle accumulate; link_ok clears them; numbers may be JSON numbers."""
    c = Client(sim_app, "engineer")
    for body in ({"fault": "loss", "value": 0.3}, {"fault": "latency", "value": "0.5"},
                 {"fault": "link_ok"}, {"fault": "gps", "value": "off"}, {"fault": "motor"}):
        assert c.post(FAULT, json={"vehicle": 1, **body}).status_code == 200
    assert fake.handles[0].calls == [("link", {"loss": 0.3}),
                                     ("link", {"loss": 0.3, "latency_s": 0.5}),
                                     ("link", {}), ("gps", True), ("motor", None)]


@pytest.mark.parametrize("role", ["crew", "operator"])
def test_other_roles_may_not_inject(sim_app: Flask, fake: FakeFleet, role: str) -> None:
    """Crew and operators get 403, logged as forbidden, and nothing reaches the simulator."""
    r = Client(sim_app, role).post(FAULT, json={"vehicle": 1, "fault": "motor"})
    assert r.status_code == 403
    assert fake.handles[0].calls == []
    assert _audit(sim_app)[-1][::3] == (role, "forbidden")


def test_injection_without_login_is_401(sim_app: Flask, fake: FakeFleet) -> None:
    """Nobody logged in: 401 and nothing injected."""
    r = Client(sim_app, None).post(FAULT, json={"vehicle": 1, "fault": "motor"})
    assert r.status_code == 401
    assert fake.handles[0].calls == []


def test_injection_without_csrf_token_is_refused(sim_app: Flask, fake: FakeFleet) -> None:
    """A POST without the CSRF header is 400 and injects nothing."""
    c = Client(sim_app, "engineer")
    r = c.http.post(FAULT, json={"vehicle": 1, "fault": "motor"})
    assert r.status_code == 400 and "CSRF" in r.json["error"]
    assert fake.handles[0].calls == []


@pytest.mark.parametrize(("body", "name"), [
    ({"fault": "motor"}, "vehicle"),
    ({"vehicle": "1", "fault": "motor"}, "vehicle"),
    ({"vehicle": 3, "fault": "motor"}, "vehicle"),
    ({"vehicle": 1}, "fault"),
    ({"vehicle": 1, "fault": "explode"}, "fault"),
    ({"vehicle": 1, "fault": "loss", "value": "1.5"}, "value"),
    ({"vehicle": 1, "fault": "cut", "value": "soon"}, "value"),
    ({"vehicle": 1, "fault": "gps", "value": "maybe"}, "value"),
    ({"vehicle": 1, "fault": "motor", "value": "now"}, "value"),
    ({"vehicle": 1, "fault": "battery", "value": True}, "value"),
])
def test_bad_injection_is_400_naming_the_field(sim_app: Flask, fake: FakeFleet,
                                               body: dict[str, Any], name: str) -> None:
    """A bad vehicle, fault or value is a 400 naming the field; nothing is injected."""
    r = Client(sim_app, "engineer").post(FAULT, json=body)
    assert r.status_code == 400, r.json
    assert r.json["field"] == name
    assert all(not h.calls for h in fake.handles)


def test_refused_value_is_audited_as_failed(sim_app: Flask) -> None:
    """A value the simulator refuses leaves a failed audit row."""
    Client(sim_app, "engineer").post(FAULT, json={"vehicle": 1, "fault": "loss", "value": "9"})
    assert _audit(sim_app)[-1] == ("engineer", "fault loss", "vehicle 1", "failed")


@pytest.mark.parametrize(("method", "url"), [("get", "/api/simulator"), ("post", FAULT)])
def test_without_a_simulator_it_is_404(app: Flask, method: str, url: str) -> None:
    """A console without a simulator answers 404 to the simulator API."""
    c = Client(app, "engineer")
    r = getattr(c, method)(url, json={"vehicle": 1, "fault": "motor"}) if method == "post" \
        else c.get(url)
    assert r.status_code == 404


@pytest.mark.parametrize(("role", "enabled"), [("engineer", True), ("operator", False)])
def test_fleet_page_shows_the_panel_only_with_a_simulator(sim_app: Flask, app: Flask,
                                                          role: str, enabled: bool) -> None:
    """The Simulator panel and its script are on the fleet page only with a simulator, and
    the page tells the script whether the user may inject."""
    page = Client(sim_app, role).get("/fleet").get_data(as_text=True)
    assert 'id="simulator"' in page and "simulator.js" in page
    assert ("simulate" in page.split('data-may="')[1].split('"')[0]) is enabled
    plain = Client(app, role).get("/fleet").get_data(as_text=True)
    assert 'id="simulator"' not in plain and "simulator.js" not in plain
    script = Client(sim_app, role).get("/static/simulator.js")
    assert script.status_code == 200 and b"/api/simulator/faults" in script.data
    script.close()


def test_openapi_documents_the_simulator_api(app: Flask) -> None:
    """Both routes are in the OpenAPI document, with the built-in fleet's faults."""
    paths = Client(app, None).get("/api/openapi.json").json["paths"]
    assert "get" in paths["/api/simulator"] and "post" in paths[FAULT]
    assert set(SIM_FAULTS) == set(FAULTS)


def test_battery_fault_reaches_a_real_builtin_fleet(tmp_path: Path) -> None:
    """A battery fault injected through the API drops a simulated copter's battery, and a
    loss fault shows in its link."""
    from sitl.builtin import BuiltinFleet

    fleet = BuiltinFleet(vehicles=2, home=(44.0618, -71.1369, 160.0), speedup=10.0,
                         base_port=free_base_port(2), settle_s=1.0)
    fleet.start()
    app = make_app(tmp_path / "data", SIMULATOR=FleetSimulator(fleet))
    try:
        c = Client(app, "engineer")
        before = fleet.vehicle(1).snapshot().battery_remaining_pct
        r = c.post(FAULT, json={"vehicle": 2, "fault": "battery", "value": "0.5"})
        assert r.status_code == 200, r.json
        after = fleet.vehicle(1).snapshot().battery_remaining_pct
        assert after <= before / 2 + 1
        assert fleet.vehicle(0).snapshot().battery_remaining_pct == before
        assert c.post(FAULT, json={"vehicle": 1, "fault": "loss", "value": "1"}).status_code \
            == 200
        assert fleet._endpoints[0].downlink.faults.loss == 1.0
        time.sleep(0.1)
        assert fleet.running
    finally:
        services(app).close()
        fleet.stop()
