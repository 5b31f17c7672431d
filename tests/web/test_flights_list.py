"""The flights list: when each flight flew, the plan it flew, how long and which sortie, newest
first, for every logged-in role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.web.helpers import Client, make_app, services


class Clock:
    """A wall clock the test moves (Unix seconds)."""

    def __init__(self) -> None:
        self.now_s = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A console whose flight log holds three flights of two plans, on a test clock: S001 of
    the morning plan (12 min 30 s), S002 of the evening plan (still flying) and S003 of the
    evening plan (never took off)."""
    app = make_app(tmp_path / "data")
    log = services(app).flights.log
    clock = Clock()
    log.clock = clock
    morning = log.start_run(plan_key="m", plan_name="Morning round", resume=False)
    first = log.open_flight(morning.id, sortie_id="S001", vehicle="octo 1", sysid=1)
    clock.now_s += 60.0
    log.set_flight_state(first, "flying")
    clock.now_s += 750.0
    log.set_flight_state(first, "completed")
    clock.now_s += 3600.0
    evening = log.start_run(plan_key="e", plan_name="Evening round", resume=False)
    second = log.open_flight(evening.id, sortie_id="S002", vehicle="octo 2", sysid=2)
    clock.now_s += 30.0
    log.set_flight_state(second, "flying")
    log.open_flight(evening.id, sortie_id="S003", vehicle="octo 3", sysid=3)
    yield app
    services(app).close()


@pytest.mark.parametrize("role", ["crew", "operator", "engineer", "admin"])
def test_flights_list_newest_first_with_plan_time_and_duration(app: Flask, role: str) -> None:
    """Each row names its plan, sortie and vehicle, the take-off time and the duration (None
    while flying or before take-off); the newest flight comes first."""
    rows = Client(app, role).get("/api/flights").json["flights"]
    start = 1_780_000_000.0
    assert [(r["sortie_id"], r["plan"], r["vehicle"]) for r in rows] == [
        ("S003", "Evening round", "octo 3"),
        ("S002", "Evening round", "octo 2"),
        ("S001", "Morning round", "octo 1")]
    assert rows[2]["takeoff_at"] == start + 60.0
    assert rows[2]["duration_s"] == 750.0
    assert rows[2]["state"] == "completed"
    assert rows[1]["takeoff_at"] == start + 60.0 + 750.0 + 3600.0 + 30.0
    assert rows[1]["duration_s"] is None
    assert rows[0]["takeoff_at"] is None and rows[0]["duration_s"] is None
    assert rows[0]["started_at"] == rows[1]["takeoff_at"]


def test_flights_list_orders_by_take_off_not_by_record(app: Flask) -> None:
    """A flight recorded earlier but taking off later is listed above one that took off
    before it."""
    log = services(app).flights.log
    clock = log.clock
    assert isinstance(clock, Clock)
    run = log.start_run(plan_key="n", plan_name="Night round", resume=False)
    early = log.open_flight(run.id, sortie_id="S001", vehicle="octo 4", sysid=4)
    late = log.open_flight(run.id, sortie_id="S002", vehicle="octo 5", sysid=5)
    clock.now_s += 10.0
    log.set_flight_state(late, "flying")
    clock.now_s += 10.0
    log.set_flight_state(early, "flying")
    rows = Client(app, "crew").get("/api/flights").json["flights"]
    assert [r["vehicle"] for r in rows[:2]] == ["octo 4", "octo 5"]


def test_flights_list_needs_a_login(app: Flask) -> None:
    """Without a login the list answers 401."""
    assert Client(app, None).get("/api/flights").status_code == 401


def test_replay_refusal_reads_in_plain_words(app: Flask) -> None:
    """Crew may list flights but not replay them; the 403 says so in plain words."""
    r = Client(app, "crew").get("/api/flights/1/replay")
    assert r.status_code == 403
    assert r.json["error"] == "Your role (crew) cannot replay recorded flights. Ask an admin."
