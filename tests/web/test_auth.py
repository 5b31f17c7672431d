"""Accounts, sessions, CSRF, login rate limiting, roles and the audit log of the console."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.web.helpers import PASSWORD, Client, make_app, services
from web import db as tables

API_READS = ["/api/me", "/api/plans", "/api/scenarios", "/api/fleet", "/api/flights",
             "/api/deliveries", "/api/users", "/api/audit", "/tiles/9/150/183.png"]
PAGES = ["/plans", "/fleet", "/deliveries", "/flights", "/users"]


@pytest.mark.parametrize("url", API_READS)
def test_api_without_login_is_401(app: Flask, url: str) -> None:
    """Every API read answers 401 with a JSON error when nobody is logged in."""
    r = Client(app, None).get(url)
    assert r.status_code == 401
    assert r.json["error"] == "log in first"


@pytest.mark.parametrize("url", PAGES)
def test_pages_without_login_redirect_to_the_form(app: Flask, url: str) -> None:
    """Pages send a visitor without a session to the login form, coming back after."""
    r = Client(app, None).get(url)
    assert r.status_code == 302
    assert r.headers["Location"].startswith(f"/login?next={url}")


def test_form_login_sets_a_protected_session_cookie(app: Flask) -> None:
    """The login form logs in and the session cookie is HttpOnly and SameSite=Lax."""
    c = Client(app, None)
    page = c.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.http.post("/login", data={"username": "operator", "password": PASSWORD,
                                     "csrf_token": token, "next": "/fleet"})
    assert r.status_code == 302 and r.headers["Location"] == "/fleet"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert c.get("/api/me").json["role"] == "operator"


def test_secure_cookies_are_configurable(tmp_path: Path) -> None:
    """SESSION_COOKIE_SECURE marks the session cookie Secure."""
    app = make_app(tmp_path / "d", SESSION_COOKIE_SECURE=True)
    try:
        c = Client(app, None)
        r = c.post("/api/login", json={"username": "crew", "password": PASSWORD})
        assert "Secure" in r.headers["Set-Cookie"]
    finally:
        services(app).close()


def test_wrong_password_is_401_and_the_sixth_try_is_429(app: Flask) -> None:
    """Five wrong passwords a minute per user and address, then 429 even with the right one."""
    c = Client(app, None)
    for _ in range(5):
        r = c.post("/api/login", json={"username": "crew", "password": "nope"})
        assert r.status_code == 401
    r = c.post("/api/login", json={"username": "crew", "password": PASSWORD})
    assert r.status_code == 429
    assert "too many failed logins" in r.json["error"]
    ok = c.post("/api/login", json={"username": "operator", "password": PASSWORD})
    assert ok.status_code == 200


def test_writes_without_csrf_token_are_refused(app: Flask) -> None:
    """A logged-in POST without the X-CSRFToken header gets 400 and changes nothing."""
    c = Client(app, "operator")
    r = c.http.post("/api/plans", json={"scenario": "tutorial"})
    assert r.status_code == 400
    assert "CSRF" in r.json["error"]
    assert services(app).plans.all() == []
    r = c.http.post("/api/login", json={"username": "crew", "password": PASSWORD})
    assert r.status_code == 400


@pytest.mark.parametrize(("role", "url"), [
    ("crew", "/api/fleet/vehicles/1/rtl"), ("engineer", "/api/fleet/all/land"),
    ("crew", "/api/fleet/start"), ("crew", "/api/fleet/upload")])
def test_commands_by_other_roles_are_403_and_audited(app: Flask, role: str, url: str) -> None:
    """Crew and engineers cannot command: 403, and the refusal is in the audit log."""
    r = Client(app, role).post(url, json={"plan_id": "x"})
    assert r.status_code == 403
    rows = services(app).db.rows(sa.select(tables.audit_log)
                                 .where(tables.audit_log.c.action != "login"))
    assert [(row.username, row.result, row.target) for row in rows] == [(role, "forbidden", url)]


@pytest.mark.parametrize(("role", "url", "body"), [
    ("crew", "/api/plans", {"scenario": "tutorial"}),
    ("engineer", "/api/plans", {"scenario": "tutorial"}),
    ("operator", "/api/users", {"username": "x", "password": "y" * 9, "role": "crew"})])
def test_wrong_role_is_403(app: Flask, role: str, url: str, body: dict[str, str]) -> None:
    """Planning needs operator or admin, user administration admin."""
    assert Client(app, role).post(url, json=body).status_code == 403


def test_crew_may_not_replay_but_engineer_may_reach_it(app: Flask) -> None:
    """Replay is for engineers (and operators, admins): crew 403, engineer 404 on no flight."""
    assert Client(app, "crew").get("/api/flights/1/replay").status_code == 403
    assert Client(app, "engineer").get("/api/flights/1/replay").status_code == 404


def test_admin_manages_users(app: Flask) -> None:
    """An admin creates a user (hashed password) and changes a role; bad input is 400."""
    c = Client(app, "admin")
    r = c.post("/api/users", json={"username": "pilot", "password": "long-enough", "role": "crew"})
    assert r.status_code == 201
    row = services(app).db.rows(sa.select(tables.users).where(tables.users.c.username == "pilot"))
    assert row[0].password_hash != "long-enough" and row[0].password_hash.startswith("pbkdf2")
    assert c.http.patch(f"/api/users/{r.json['id']}", json={"role": "operator"},
                        headers={"X-CSRFToken": c.token}).json["role"] == "operator"
    bad = c.post("/api/users", json={"username": "pilot", "password": "long-enough",
                                     "role": "crew"})
    assert bad.status_code == 400 and bad.json["field"] == "username"
    short = c.post("/api/users", json={"username": "p2", "password": "short", "role": "crew"})
    assert short.status_code == 400 and short.json["field"] == "password"
    role = c.post("/api/users", json={"username": "p3", "password": "long-enough",
                                      "role": "pilot"})
    assert role.status_code == 400 and role.json["field"] == "role"
    missing = c.http.patch("/api/users/999", json={"role": "crew"},
                           headers={"X-CSRFToken": c.token})
    assert missing.status_code == 404


def test_schema_setup_is_idempotent(app: Flask) -> None:
    """Setting the schema up again keeps the data and the single version row."""
    db = services(app).db
    db.setup()
    db.setup()
    assert db.version == tables.SCHEMA_VERSION
    assert len(db.rows(sa.select(tables.schema_version))) == 1
    assert services(app).users.count() == 4


def test_ensure_admin_only_on_an_empty_database(app: Flask) -> None:
    """The first admin is made once; with accounts present nothing changes."""
    assert services(app).users.ensure_admin(None) is None
