"""Login limits per address (one password tried across many user names) and logins of unknown
users that take as long as wrong passwords of known ones."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from tests.web.helpers import PASSWORD, Client, make_app, services
from web import db as tables


def test_one_password_across_many_names_is_limited_per_address(app: Flask) -> None:
    """Twenty failures a minute from one address, whatever the names, then 429 with
    Retry-After for every name from that address (a right password too)."""
    c = Client(app, None)
    for i in range(20):
        r = c.post("/api/login", json={"username": f"guess{i}", "password": "Summer2026!"})
        assert r.status_code == 401
    r = c.post("/api/login", json={"username": "guess99", "password": "Summer2026!"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert c.post("/api/login", json={"username": "crew",
                                      "password": PASSWORD}).status_code == 429
    other = app.test_client()
    token = other.get("/api/csrf", environ_base={"REMOTE_ADDR": "10.0.0.7"}).json["csrf_token"]
    r = other.post("/api/login", json={"username": "crew", "password": PASSWORD},
                   headers={"X-CSRFToken": token}, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert r.status_code == 200


def test_failed_and_good_logins_are_audited(app: Flask) -> None:
    """Every login, failed login and logout leaves an audit row with the address."""
    c = Client(app, None)
    c.post("/api/login", json={"username": "ghost", "password": "x" * 9})
    c.post("/api/login", json={"username": "crew", "password": PASSWORD})
    c.token = c.get("/api/csrf").json["csrf_token"]
    c.post("/api/logout")
    rows = services(app).db.rows(sa.select(tables.audit_log).order_by(tables.audit_log.c.id))
    assert [(r.username, r.action, r.result, r.target) for r in rows] == [
        ("ghost", "login", "failed", "from 127.0.0.1"),
        ("crew", "login", "ok", "from 127.0.0.1"),
        ("crew", "logout", "ok", "from 127.0.0.1")]


def _login_time_s(c: Client, username: str) -> float:
    start = time.perf_counter()
    r = c.post("/api/login", json={"username": username, "password": "wrong-password"})
    assert r.status_code == 401
    return time.perf_counter() - start


def test_unknown_users_take_as_long_as_known_ones(tmp_path: Path) -> None:
    """With a slow hash, a wrong password of a known user and any password of an unknown one
    take about the same time (no user enumeration by timing)."""
    app = make_app(tmp_path / "d", PASSWORD_HASH_METHOD="pbkdf2:sha256:300000",
                   LOGIN_FAILURES=100, LOGIN_ADDRESS_FAILURES=100)
    try:
        c = Client(app, None)
        _login_time_s(c, "nobody-0")
        known = statistics.median(_login_time_s(c, "crew") for _ in range(5))
        unknown = statistics.median(_login_time_s(c, f"nobody-{i}") for i in range(1, 6))
        assert known > 0.02, known
        assert 0.6 < unknown / known < 1.6, (unknown, known)
    finally:
        services(app).close()


def test_the_login_form_answers_429_with_retry_after(app: Flask) -> None:
    """Too many failed logins through the form: the form is shown again with 429 and a
    Retry-After header in whole seconds, like the API's answer."""
    c = Client(app, None)
    token = c.get("/login").get_data(as_text=True).split(
        'name="csrf_token" value="')[1].split('"')[0]
    statuses = [c.http.post("/login", data={"username": "crew", "password": "nope",
                                             "csrf_token": token}).status_code
                for _ in range(5)]
    assert statuses == [401] * 5
    r = c.http.post("/login", data={"username": "crew", "password": PASSWORD,
                                     "csrf_token": token})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert 'name="username"' in r.get_data(as_text=True)
    api = c.post("/api/login", json={"username": "crew", "password": PASSWORD})
    assert api.status_code == 429
    assert abs(int(api.headers["Retry-After"]) - int(r.headers["Retry-After"])) <= 1
