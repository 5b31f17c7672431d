"""A console in broker mode with two hubs whose vehicles have the same system id (each hub is
its own MAVLink network): real Mosquitto, one ``dropline worker`` per hub, each flying its own
built-in simulated copter of system id 1. The console shows them as two vehicles, streams both,
and a command reaches only the vehicle of the hub it names, audited with hub and system id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from gcs.bus.state import vehicle_id
from tests.helpers.mosquitto import Broker, running_mosquitto
from tests.helpers.ports import free_base_port
from tests.helpers.waiting import wait_until
from tests.web.helpers import make_app, serve, services
from tests.web.test_broker import HOME, events, fleet_of, login, worker_process
from web import db as tables

NORTH, SOUTH = vehicle_id("north", 1), vehicle_id("south", 1)


@dataclass
class TwoHubs:
    """The broker and, per hub, its simulated fleet (one copter, system id 1)."""

    broker: Broker
    fleets: dict[str, Any]


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHubs]:
    """Mosquitto for hubs north and south, a copter of system id 1 at 10x on each, and a
    worker per hub."""
    from sitl.builtin import BuiltinFleet

    folder = tmp_path_factory.mktemp("two-hubs")
    with running_mosquitto(folder / "broker", ["north", "south"]) as broker, \
            ExitStack() as stack:
        fleets: dict[str, Any] = {}
        for hub in ("north", "south"):
            fleet = BuiltinFleet(vehicles=1, home=HOME, speedup=10.0,
                                 base_port=free_base_port(1), settle_s=1.0)
            fleet.start()
            stack.callback(fleet.stop)
            fleets[hub] = fleet
            stack.enter_context(worker_process(broker, fleet.connection_strings,
                                               folder, hub))
        yield TwoHubs(broker, fleets)


@contextmanager
def console(broker: Broker, folder: Path) -> Iterator[tuple[Flask, str]]:
    """A console app in broker mode served on a free port: the app and its URL."""
    app = make_app(folder, BROKER=broker.url("console"))
    try:
        with contextmanager(serve)(app) as server:
            yield app, server.url
    finally:
        services(app).close()


def shown(s: requests.Session, url: str) -> dict[int, dict[str, Any]]:
    """The vehicles /api/fleet shows, by the console's id."""
    return {v["sysid"]: v for v in fleet_of(s, url)["vehicles"]}


def both_heard(s: requests.Session, url: str) -> bool:
    """Whether the console shows both hubs' copters with positions."""
    vehicles = shown(s, url)
    return sorted(vehicles) == sorted([NORTH, SOUTH]) and all(
        v["lat_deg"] is not None for v in vehicles.values())


@pytest.mark.slow
def test_the_same_system_id_on_two_hubs_is_two_vehicles(two_hubs: TwoHubs,
                                                         tmp_path: Path) -> None:
    """/api/fleet and the event stream show system id 1 of north and of south as two
    vehicles with their hub; an RTL to south's reaches only south's copter, and the audit
    names the hub and the system id."""
    with console(two_hubs.broker, tmp_path / "c1") as (app, url):
        s = login(url)
        wait_until(lambda: both_heard(s, url), 30, "both hubs' vehicles on /api/fleet")
        vehicles = shown(s, url)
        assert [(v["hub"], v["hub_sysid"]) for v in vehicles.values()] == \
            [("north", 1), ("south", 1)]
        streamed = {e["vehicle"]["sysid"]: e["vehicle"]
                    for e in events(s, url, "vehicle", count=20)}
        assert set(streamed) == {NORTH, SOUTH}
        assert {(v["hub"], v["hub_sysid"]) for v in streamed.values()} == \
            {("north", 1), ("south", 1)}
        north_mode = two_hubs.fleets["north"].vehicle(0).snapshot().mode
        assert north_mode != "RTL"
        r = s.post(url + f"/api/fleet/vehicles/{SOUTH}/rtl", timeout=30)
        assert r.status_code == 200, r.text
        detail = "mode RTL confirmed (worker w-south, hub south, system 1)"
        assert r.json()["results"][0]["detail"] == detail
        assert two_hubs.fleets["south"].vehicle(0).snapshot().mode == "RTL"
        wait_until(lambda: shown(s, url)[SOUTH]["mode"] == "RTL", 10, "RTL shown")
        assert two_hubs.fleets["north"].vehicle(0).snapshot().mode == north_mode
        assert shown(s, url)[NORTH]["mode"] == north_mode
        rows = services(app).db.rows(sa.select(tables.audit_log)
                                     .where(tables.audit_log.c.action == "rtl"))
        assert [(r.username, r.target, r.result, r.detail) for r in rows] == \
            [("operator", f"vehicle {SOUTH}", "ok", detail)]
