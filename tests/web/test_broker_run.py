"""A plan flown through the bus: a console in broker mode (real HTTP server) uploads and starts
a verified plan, two ``dropline worker`` processes on one hub fly it over built-in simulated
copters, sharing the console's PostgreSQL flight log, with a real Mosquitto between them; the
worker flying a copter with a parcel still aboard is killed with SIGKILL and the other takes
the flight over."""

from __future__ import annotations

import collections
import dataclasses
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from gcs.bus.client import BusClient
from gcs.bus.topics import run_topic
from gcs.bus.url import BrokerUrl
from gcs.fleet.leases import LeaseTable
from gcs.fleet.logs import FlightLog
from tests.gcs.helpers import FleetCase, start_fleet
from tests.helpers.bus_workers import Workers
from tests.helpers.mosquitto import Broker, running_mosquitto
from tests.helpers.shared_data import REPO
from tests.helpers.waiting import wait_until
from tests.web.helpers import PASSWORD, Client, make_app, plan_done, serve, services
from web import db as tables
from web.app import create_app
from web.fleet_broker import BrokerFleet

pytestmark = [pytest.mark.sitl, pytest.mark.slow]

HUB = "north"
#: Two heavy octocopters at the tutorial's hub and four of its drops: a sortie each.
EDITS = {"depots": [{"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
                     "drones": {"heavy_octo": 2}}],
         "drop_ids": ["P014", "P020", "P021", "T01"]}
#: The spec's bound on a takeover (seconds from the kill until the survivor holds the lease).
TAKEOVER_LIMIT_S = 10.0


def login(url: str) -> requests.Session:
    """A session logged in as the operator, sending the CSRF token."""
    s = requests.Session()
    token = s.get(url + "/api/csrf", timeout=10).json()["csrf_token"]
    r = s.post(url + "/api/login", headers={"X-CSRFToken": token},
               json={"username": "operator", "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    s.headers["X-CSRFToken"] = s.get(url + "/api/csrf", timeout=10).json()["csrf_token"]
    return s


def retained_requests(broker: Broker) -> list[str]:
    """The topics of the run requests of hub north the broker keeps retained."""
    heard: list[tuple[str, bytes]] = []
    name = f"c-{uuid.uuid4().hex[:8]}"
    marker = run_topic(HUB, name, "request")   # empty, not retained: read by no one
    client = BusClient(BrokerUrl.parse(broker.url("console")), name,
                       on_message=lambda t, p: heard.append((t, p)))
    client.subscribe(run_topic(HUB, "+", "request"))
    client.connect()
    try:   # the retained requests come at the subscription, before the marker sent after it
        client.publish(marker, b"", qos=1, wait_s=5.0)
        wait_until(lambda: any(t == marker for t, _ in heard), 10, "the marker")
    finally:
        client.close()
    return [t for t, payload in heard if t != marker and payload]


def fleet_state(s: requests.Session, url: str) -> dict[str, Any]:
    """The Fleet page's state."""
    r = s.get(url + "/api/fleet", timeout=10)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def owners(database: str) -> dict[int, str]:
    """The worker holding each vehicle of hub north."""
    table = LeaseTable(database)
    try:
        return {int(k.rsplit("/", 1)[1]): v.worker_id
                for k, v in table.owners(f"{HUB}/").items()}
    finally:
        table.close()


@pytest.fixture
def setting(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, Any]]:
    """The broker, the console app on PostgreSQL with a verified plan, the copters and the
    (not yet started) workers."""
    with running_mosquitto(tmp_path / "broker", [HUB]) as broker:
        app = make_app(tmp_path / "console", BROKER=broker.url("console"),
                       DATABASE_URL=postgres_url)
        try:
            yield {"broker": broker, "app": app, "database": postgres_url}
        finally:
            services(app).close()


def test_a_run_started_from_the_console_survives_the_kill_of_its_worker(
        setting: dict[str, Any], tmp_path: Path) -> None:
    """The operator plans four tutorial drops for two copters, uploads and starts the plan
    through a console in broker mode; worker w-a flies it; worker w-b is started while a copter
    still carries a parcel and joins the run; w-a is killed with SIGKILL. w-b takes the copters
    over (the flight in the air monitored, not flown again), the run ends, every parcel is
    delivered once (one delivered event each, no event repeated), one flight row per sortie
    flown (a flight the dead worker left before take-off is closed as aborted and flown anew),
    and the fleet API shows every parcel delivered, on the console that started the run and on
    one started after the kill."""
    app, database = setting["app"], setting["database"]
    with contextmanager(serve)(app) as server:
        url = server.url
        s = login(url)
        r = s.post(url + "/api/plans", json={"scenario": "tutorial", "edits": EDITS},
                   timeout=10)
        assert r.status_code == 201, r.text
        plan_id = r.json()["id"]
        assert s.post(url + f"/api/plans/{plan_id}/run", timeout=10).status_code == 202
        wait_until(lambda: s.get(url + f"/api/plans/{plan_id}", timeout=10)
                   .json()["state"] == "done", 300, "the plan", period_s=0.5)
        plan = services(app).plans.plan(plan_id)
        scenario, dem = services(app).plans.scenario(plan_id)
        vehicles = sorted({x.vehicle for x in plan.sorties})
        assert len(vehicles) == 2
        fleet = start_fleet(FleetCase(scenario=scenario, dem=dem, plan=plan), 2,
                            speedup=20.0)
        workers = Workers(tmp_path, setting["broker"], fleet.connection_strings, hub=HUB,
                          database=database)
        try:
            workers.start("w-a")
            wait_until(lambda: len(fleet_state(s, url)["vehicles"]) == 2 and len(
                owners(database)) == 2, 60, "both copters owned and shown", period_s=0.5)
            up = s.post(url + "/api/fleet/upload", json={"plan_id": plan_id}, timeout=30)
            assert up.status_code == 200, up.text
            first_event = services(app).events.last_id
            start = s.post(url + "/api/fleet/start", timeout=30)
            assert start.status_code == 200, start.text
            drops_of = {sortie.vehicle: set(sortie.drop_ids) for sortie in plan.sorties}
            assignment = fleet_state(s, url)["run"]["assignment"]

            def victim() -> int | None:
                """A copter in the air, in AUTO, with a parcel of its sortie not delivered."""
                state = fleet_state(s, url)
                done = {d["drop_id"] for d in state["drops"] if d["state"] == "delivered"}
                for name, vehicle_id in assignment.items():
                    sysid = int(vehicle_id) % 256   # (the console's id of hub and system id)
                    snap = fleet.vehicle(sysid - 1).snapshot()
                    if snap.armed and snap.alt_rel_m > 30.0 and snap.mode == "AUTO" and \
                            drops_of[name] - done:
                        return sysid
                return None

            wait_until(lambda: victim() is not None, 300, "a copter in the air with a parcel",
                       period_s=0.2)
            sysid = victim()
            assert sysid is not None
            # w-b starts while the run flies: it joins the run from the request the console
            # left on the broker, and holds no vehicle until w-a dies
            workers.start("w-b")
            wait_until(lambda: "joined run" in workers.log("w-b"), 30, "w-b joining the run",
                       period_s=0.2)
            assert set(owners(database).values()) == {"w-a"}
            dead, survivor = "w-a", "w-b"
            workers.procs[dead].kill()
            killed_at = time.monotonic()
            wait_until(lambda: owners(database).get(sysid) == survivor, 30,
                       f"{survivor} holding vehicle {sysid}", period_s=0.1)
            takeover_s = time.monotonic() - killed_at
            print(f"takeover of vehicle {sysid} by {survivor}: {takeover_s:.2f} s")
            assert takeover_s < TAKEOVER_LIMIT_S, takeover_s
            # a console started meanwhile shows the run the workers fly
            again = create_app({"DATA_DIR": str(tmp_path / "console2"),
                                "MISSIONS_DIR": str(REPO / "missions"),
                                "SAMPLE_SCENARIO": "tutorial", "DATABASE_URL": database,
                                "BROKER": setting["broker"].url("console")})
            try:
                other = Client(again, "operator")
                shown = other.get("/api/fleet").json
                assert shown["run"] is not None and shown["run"]["plan_id"] == plan_id
                wait_until(lambda: fleet_state(s, url)["run"]["finished"], 600,
                           "the run to end", period_s=1.0)
                wait_until(lambda: other.get("/api/fleet").json["run"]["finished"], 30,
                           "the run to end on the second console", period_s=0.5)
                other_drops = {d["drop_id"]: d["state"]
                               for d in other.get("/api/fleet").json["drops"]}
            finally:
                services(again).close()
            state = fleet_state(s, url)
            streamed = services(app).events.since(first_event)
            # the run is over: the console cleared its request from the broker; a stale request
            # (as a console that stopped before its run ended leaves it) makes a worker open no
            # run, and a console clears it
            broker = setting["broker"]
            wait_until(lambda: retained_requests(broker) == [], 10, "the request cleared")
            fleet_service = services(app).fleet
            assert isinstance(fleet_service, BrokerFleet)
            assert fleet_service.broker_run is not None
            stale = dataclasses.replace(fleet_service.broker_run.request, id="stale1",
                                        sent_at_s=time.time() - 120.0)
            workers.start("w-c")
            publisher = BusClient(BrokerUrl.parse(broker.url("console")), "c-stale",
                                  on_message=lambda _t, _p: None)
            publisher.connect()
            try:
                assert publisher.publish(run_topic(HUB, "stale1", "request"),
                                         stale.to_payload(), qos=1, retain=True, wait_s=5.0)
            finally:
                publisher.close()
            wait_until(lambda: "not joined" in workers.log("w-c"), 30, "w-c ignoring it",
                       period_s=0.2)
            wait_until(lambda: retained_requests(broker) == [], 10, "the stale request cleared")
        except BaseException:
            workers.print_logs()
            raise
        finally:
            workers.stop()
            fleet.stop()
    served = {d for sortie in plan.sorties for d in sortie.drop_ids}
    assert {d["drop_id"]: d["state"] for d in state["drops"]} == dict.fromkeys(served,
                                                                               "delivered")
    assert other_drops == dict.fromkeys(served, "delivered")
    # the page's drop events, from the workers' drop topics, place the drops on the map
    assert streamed is not None
    drop_events = [e.data["drop"] for e in streamed if e.kind == "drop"]
    assert {d["drop_id"] for d in drop_events if d["state"] == "delivered"} == served
    assert all(d["lat_deg"] is not None and d["lon_deg"] is not None for d in drop_events)
    flight_log = FlightLog(database)
    try:
        run_id = state["run"]["run_id"]
        events = flight_log.delivery_events(run_id)
        flights = flight_log.flights(run_id)
    finally:
        flight_log.close()
    delivered = collections.Counter(e["drop_id"] for e in events if e["state"] == "delivered")
    assert delivered == dict.fromkeys(served, 1)
    rows = [(e["drop_id"], e["state"]) for e in events]
    assert len(rows) == len(set(rows)), rows
    rows_seen = [(f.id, f.sortie_id, f.sysid, f.state, f.reason) for f in flights]
    flown = [f for f in flights if f.state != "aborted"]
    assert collections.Counter(f.sortie_id for f in flown) == dict.fromkeys(
        (x.id for x in plan.sorties), 1), rows_seen
    assert all(f.state == "completed" and f.takeoff_at is not None for f in flown), rows_seen
    # a flight the dead worker left on the ground is closed and flown anew, never one in the air
    assert all(f.takeoff_at is None and f.reason == "interrupted before take-off"
               for f in flights if f.state == "aborted"), rows_seen
    victim_sortie = next(f.sortie_id for f in flown if f.sysid == sysid)
    assert [f.state for f in flights if f.sortie_id == victim_sortie] == ["completed"], \
        rows_seen


def test_a_console_on_sqlite_or_without_vehicles_sends_no_plan(tmp_path: Path,
                                                               postgres_url: str) -> None:
    """Through workers, an upload is refused (409, audited) when the console's database is
    SQLite, which workers cannot share, and when no worker's vehicle is heard; nothing is
    started."""
    with running_mosquitto(tmp_path / "broker", [HUB]) as broker:
        for folder, config, reason in (
                ("sqlite", {}, "PostgreSQL database the workers share"),
                ("postgres", {"DATABASE_URL": postgres_url}, "no vehicle is heard")):
            app = make_app(tmp_path / folder, BROKER=broker.url("console"), **config)
            try:
                c = Client(app, "operator")
                plan_id = plan_done(c, edits={"drop_ids": ["P014"]}, app=app)
                r = c.post("/api/fleet/upload", json={"plan_id": plan_id})
                assert r.status_code == 409 and reason in r.json["error"], r.json
                assert c.post("/api/fleet/start").status_code == 409
                rows = services(app).db.rows(sa.select(tables.audit_log).where(
                    tables.audit_log.c.action == "upload"))
                assert [(x.result, reason in (x.detail or "")) for x in rows] == \
                    [("refused", True)]
            finally:
                services(app).close()
