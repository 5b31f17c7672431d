"""The console in broker mode against a real Mosquitto, a ``dropline worker`` process and
built-in simulated copters: the fleet shows and streams the worker's vehicles as with links,
operators' commands reach the vehicles through the worker and are audited with it, several
consoles agree, alerts arrive, and malformed messages are dropped without harm."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from gcs.bus.client import BusClient
from gcs.bus.messages import StateMessage
from gcs.bus.state import vehicle_id
from gcs.bus.topics import command_topic, state_topic
from gcs.bus.url import BrokerUrl
from tests.helpers.bus_workers import Workers
from tests.helpers.mosquitto import Broker, running_mosquitto
from tests.helpers.ports import free_base_port
from tests.helpers.waiting import wait_until
from tests.web.helpers import PASSWORD, make_app, serve, services
from web import db as tables
from web.fleet_broker import BrokerFleet

HOME = (44.0618, -71.1369, 160.0)
#: The fields of a vehicle event of the console on links (web.fleet_json.snapshot_json and the
#: speed-up).
VEHICLE_FIELDS = {"terrain_amsl_m", "terrain_agl_m", "terrain_pending", "terrain_loaded",
                  "sysid", "link_url", "lat_deg", "lon_deg", "alt_rel_m", "alt_agl_m",
                  "groundspeed_m_s", "heading_deg", "battery_pct", "mode", "armed",
                  "mission_seq", "mission_total", "heartbeat_age_s", "loss_rate",
                  "gps_fix_type", "last_text", "speedup"}
#: The console's ids of north's vehicles 1 and 2.
N1, N2 = vehicle_id("north", 1), vehicle_id("north", 2)


@dataclass
class Hubs:
    """The broker, the simulated copters, the worker process and its log."""

    broker: Broker
    fleet: Any
    worker: subprocess.Popen[str]
    worker_log: Path


@contextmanager
def worker_process(broker: Broker, connect: list[str], folder: Path, hub: str = "north"
                   ) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """``dropline worker`` ``w-<hub>`` of ``hub`` without a database (it owns every vehicle it
    hears) logging in ``folder``, stopped with SIGTERM after: the process and its log."""
    workers = Workers(folder, broker, connect, hub=hub)
    try:
        yield workers.start(f"w-{hub}"), workers.log_path(f"w-{hub}")
    finally:
        workers.stop()


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hubs]:
    """Mosquitto for hubs north and south, two copters at 10x and north's worker."""
    from sitl.builtin import BuiltinFleet

    folder = tmp_path_factory.mktemp("hubs")
    with running_mosquitto(folder / "broker", ["north", "south"]) as broker:
        fleet = BuiltinFleet(vehicles=2, home=HOME, speedup=10.0,
                             base_port=free_base_port(2), settle_s=1.0)
        fleet.start()
        try:
            with worker_process(broker, fleet.connection_strings, folder) as (proc, log):
                yield Hubs(broker, fleet, proc, log)
        finally:
            fleet.stop()


@contextmanager
def console(hubs: Hubs, folder: Path, **config: Any) -> Iterator[tuple[Flask, str]]:
    """A console app in broker mode served on a free port: the app and its URL."""
    app = make_app(folder, BROKER=hubs.broker.url("console"), **config)
    try:
        with contextmanager(serve)(app) as server:
            yield app, server.url
    finally:
        services(app).close()


def login(url: str, role: str = "operator") -> requests.Session:
    """A session logged in as ``role`` sending the CSRF token."""
    s = requests.Session()
    token = s.get(url + "/api/csrf", timeout=10).json()["csrf_token"]
    r = s.post(url + "/api/login", headers={"X-CSRFToken": token},
               json={"username": role, "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    s.headers["X-CSRFToken"] = s.get(url + "/api/csrf", timeout=10).json()["csrf_token"]
    return s


def fleet_of(s: requests.Session, url: str) -> dict[str, Any]:
    """The fleet page's state."""
    r = s.get(url + "/api/fleet", timeout=10)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def both_heard(s: requests.Session, url: str) -> bool:
    """Whether the console shows north's vehicles 1 and 2 with positions."""
    vehicles = fleet_of(s, url)["vehicles"]
    return sorted(v["sysid"] for v in vehicles) == [N1, N2] and all(
        v["lat_deg"] is not None for v in vehicles)


def events(s: requests.Session, url: str, kind: str, *, count: int = 1,
           timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The data of the first ``count`` Server-Sent Events of ``kind``."""
    found: list[dict[str, Any]] = []
    end = time.monotonic() + timeout_s
    with s.get(url + "/api/events?last_event_id=0", stream=True, timeout=10) as r:
        current = None
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                current = line[len("event: "):]
            elif line.startswith("data: ") and current == kind:
                found.append(json.loads(line[len("data: "):]))
                if len(found) >= count:
                    break
            if time.monotonic() > end:
                break
    assert len(found) >= count, f"fewer than {count} {kind} events"
    return found


def test_the_console_shows_and_streams_the_workers_vehicles(hubs: Hubs,
                                                             tmp_path: Path) -> None:
    """/api/fleet lists both vehicles with positions and the worker as an open link; the
    event stream carries ``vehicle`` events in the fields of the console on links; the Fleet
    page and the crew stream serve."""
    with console(hubs, tmp_path / "c1") as (_app, url):
        s = login(url)
        wait_until(lambda: both_heard(s, url) and all(
            v["speedup"] == 10.0 for v in fleet_of(s, url)["vehicles"]), 30,
            "both vehicles on /api/fleet, with their speed-up")
        state = fleet_of(s, url)
        assert state["links"] == [{"url": "mqtt worker w-north (hub north)", "open": True,
                                   "error": None}]
        v1 = next(v for v in state["vehicles"] if v["sysid"] == N1)
        assert (v1["hub"], v1["hub_sysid"]) == ("north", 1)
        assert v1["lat_deg"] == pytest.approx(HOME[0], abs=1e-3)
        assert v1["heartbeat_age_s"] < 5.0
        vehicle = events(s, url, "vehicle")[0]["vehicle"]
        assert set(vehicle) == VEHICLE_FIELDS | {"hub", "hub_sysid"}
        assert vehicle["sysid"] in (N1, N2) and vehicle["hub"] == "north"
        assert s.get(url + "/fleet", timeout=10).status_code == 200
        with s.get(url + "/api/fleet/live", stream=True, timeout=10) as live:
            lines = (line for line in live.iter_lines(decode_unicode=True)
                     if line and not line.startswith("retry:"))
            assert next(lines) == "event: state"
            first = json.loads(next(lines)[len("data: "):])
        assert sorted(first["vehicles"]) == sorted([str(N1), str(N2)])


def test_rtl_through_the_console_reaches_the_vehicle_and_is_audited(hubs: Hubs,
                                                                     tmp_path: Path) -> None:
    """An operator's RTL goes through the worker: the simulated vehicle switches to RTL, the
    answer names the worker, and the audit row names the operator and the worker."""
    with console(hubs, tmp_path / "c1") as (app, url):
        s = login(url)
        wait_until(lambda: both_heard(s, url), 30, "both vehicles")
        r = s.post(url + f"/api/fleet/vehicles/{N1}/rtl", timeout=30)
        assert r.status_code == 200, r.text
        detail = "mode RTL confirmed (worker w-north, hub north, system 1)"
        assert r.json()["results"][0]["detail"] == detail
        assert hubs.fleet.vehicle(0).snapshot().mode == "RTL"
        wait_until(lambda: next(v for v in fleet_of(s, url)["vehicles"]
                                if v["sysid"] == N1)["mode"] == "RTL", 10, "RTL shown")
        rows = services(app).db.rows(sa.select(tables.audit_log)
                                     .where(tables.audit_log.c.action == "rtl"))
        assert [(r.username, r.target, r.result, r.detail) for r in rows] == \
            [("operator", f"vehicle {N1}", "ok", detail)]
        crew = login(url, "crew")
        assert crew.post(url + f"/api/fleet/vehicles/{N1}/land", timeout=30).status_code == 403
        assert hubs.fleet.vehicle(0).snapshot().mode == "RTL"


def test_two_consoles_show_the_same_vehicles(hubs: Hubs, tmp_path: Path) -> None:
    """Two consoles on one broker, sharing nothing else, show the same vehicles and worker;
    a command from one shows on the other."""
    with console(hubs, tmp_path / "a") as (_a, url_a), \
            console(hubs, tmp_path / "b") as (_b, url_b):
        sa_, sb = login(url_a), login(url_b)
        wait_until(lambda: both_heard(sa_, url_a) and both_heard(sb, url_b), 30,
                   "both consoles")
        a, b = fleet_of(sa_, url_a), fleet_of(sb, url_b)
        assert a["links"] == b["links"]
        assert [(v["sysid"], v["link_url"]) for v in a["vehicles"]] == \
            [(v["sysid"], v["link_url"]) for v in b["vehicles"]]
        assert sb.post(url_b + f"/api/fleet/vehicles/{N2}/pause",
                       timeout=30).status_code == 200
        wait_until(lambda: next(v for v in fleet_of(sa_, url_a)["vehicles"]
                                if v["sysid"] == N2)["mode"] == "LOITER", 10,
                   "the pause seen by the other console")


def test_a_command_nobody_answers_times_out_with_a_clear_error(hubs: Hubs,
                                                               tmp_path: Path) -> None:
    """A vehicle whose worker does not answer: the command is a 504 naming the wait, audited
    as failed."""
    south = BusClient(BrokerUrl.parse(hubs.broker.url("worker-south")), "w-south-silent",
                      on_message=lambda t, p: None).connect()
    try:
        with console(hubs, tmp_path / "c1", BROKER_COMMAND_TIMEOUT_S=1.0) as (app, url):
            s = login(url)
            msg = StateMessage(worker="w-south-silent", seq=1, sent_at_s=time.time(),
                               full=True, base_seq=1, fields={"mode": "LOITER"})
            south.publish(state_topic("south", 7), msg.to_payload(), qos=1, wait_s=5)
            south7 = vehicle_id("south", 7)
            wait_until(lambda: south7 in [v["sysid"] for v in fleet_of(s, url)["vehicles"]],
                       10, "vehicle 7 of south")
            r = s.post(url + f"/api/fleet/vehicles/{south7}/land", timeout=30)
            assert r.status_code == 504, r.text
            assert "no answer: the ack of land from a worker of hub south (system 7)" in \
                r.json()["error"]
            rows = services(app).db.rows(sa.select(tables.audit_log)
                                         .where(tables.audit_log.c.action == "land"))
            assert [(r.username, r.result) for r in rows] == [("operator", "failed")]
            assert "no answer" in rows[0].detail
    finally:
        south.publish(state_topic("south", 7), b"", qos=1, retain=True, wait_s=5)
        south.close()


def test_malformed_messages_are_dropped_and_logged(hubs: Hubs, tmp_path: Path) -> None:
    """Garbage on a state topic (with a worker's login) and on a command topic (with the
    console's) is logged and dropped; console and worker carry on."""
    north = BusClient(BrokerUrl.parse(hubs.broker.url("worker-north")), "w-north-garbage",
                      on_message=lambda t, p: None).connect()
    forger = BusClient(BrokerUrl.parse(hubs.broker.url("console")), "c-garbage",
                       on_message=lambda t, p: None).connect()
    try:
        with console(hubs, tmp_path / "c1") as (app, url):
            s = login(url)
            wait_until(lambda: both_heard(s, url), 30, "both vehicles")
            fleet = services(app).fleet
            assert isinstance(fleet, BrokerFleet)
            for payload in (b"{not json", b'{"worker": "x", "seq": -1}', b"\x00" * 40):
                north.publish(state_topic("north", 1), payload, qos=1, wait_s=5)
            north.publish("dropline/v1/hub/north/vehicle/0/state", b"{}", qos=1, wait_s=5)
            forger.publish(command_topic("north", 1), b'{"verb": "self-destruct"}', qos=1,
                           wait_s=5)
            wait_until(lambda: fleet.dropped >= 4, 10, "the console dropping them")
            assert both_heard(s, url)
            assert s.post(url + f"/api/fleet/vehicles/{N2}/resume",
                          timeout=30).status_code in \
                (200, 409)   # answered by the worker (AUTO without a mission may be refused)
            assert hubs.worker.poll() is None
            wait_until(lambda: "dropped: malformed message on "
                       "dropline/v1/hub/north/vehicle/1/command" in hubs.worker_log.read_text(),
                       10, "the worker's log")
    finally:
        north.close()
        forger.close()


@pytest.mark.slow
def test_a_workers_alert_reaches_the_consoles_alert_list(hubs: Hubs, tmp_path: Path) -> None:
    """A vehicle going silent makes the worker raise link_lost; it shows in the console's
    alerts and event stream and can be acknowledged."""
    with console(hubs, tmp_path / "c1") as (_app, url):
        s = login(url)
        wait_until(lambda: both_heard(s, url), 30, "both vehicles")
        hubs.fleet.vehicle(1).cut_link(80.0)   # 8 s at 10x
        wait_until(lambda: any(a["kind"] == "link_lost" and a["sysid"] == N2
                               for a in fleet_of(s, url)["alerts"]), 30, "the alert")
        alert = next(a for a in fleet_of(s, url)["alerts"] if a["kind"] == "link_lost")
        assert (alert["hub"], alert["hub_sysid"]) == ("north", 2)
        assert alert["severity"] == "warning" and alert["needs_ack"] and alert["advice"]
        assert alert["message"].startswith("vehicle 2 not heard for")
        streamed = events(s, url, "alert")[0]["alert"]
        assert streamed["id"] == alert["id"]
        r = s.post(url + f"/api/alerts/{alert['id']}/ack", timeout=10)
        assert r.status_code == 200 and r.json()["acked_by"] == "operator"
        assert next(a for a in fleet_of(s, url)["alerts"]
                    if a["id"] == alert["id"])["acked_by"] == "operator"
        wait_until(lambda: any(a["kind"] == "link_restored"
                               for a in fleet_of(s, url)["alerts"]), 30, "link restored")
