"""The audit log: account events, pages with filters instead of a truncated tail, bounded
text, and refused requests that cannot flood it; on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.web.helpers import Client, make_app, services
from web import db as tables
from web.db import AUDIT_TEXT_MAX, REFUSED_PER_MINUTE, Database


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    """A console app on each backend (``database_url``), with one user per role."""
    app = make_app(tmp_path / "data", LOGIN_WINDOW_S=3600.0, DATABASE_URL=database_url)
    yield app
    services(app).close()


def _rows(app: Flask, action_prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = services(app).db.rows(sa.select(tables.audit_log).order_by(tables.audit_log.c.id))
    return [(r.username, r.action, r.target, r.result) for r in rows
            if r.action.startswith(action_prefix)]


def test_account_changes_are_audited_with_the_admin(app: Flask) -> None:
    """Creating, re-roling, disabling, enabling, resetting and deleting a user are audited."""
    admin = Client(app, "admin")
    uid = admin.post("/api/users", json={"username": "pilot", "password": "long-enough",
                                         "role": "crew"}).json["id"]
    h = {"X-CSRFToken": admin.token}
    admin.http.patch(f"/api/users/{uid}", json={"role": "operator"}, headers=h)
    admin.http.patch(f"/api/users/{uid}", json={"disabled": True}, headers=h)
    admin.http.patch(f"/api/users/{uid}", json={"disabled": False}, headers=h)
    admin.post(f"/api/users/{uid}/password", json={"password": "another-one-1"})
    admin.http.delete(f"/api/users/{uid}", headers=h)
    assert _rows(app, "user") + _rows(app, "password") == [
        ("admin", "user create", "user pilot", "ok"),
        ("admin", "user role", "user pilot", "ok"),
        ("admin", "user disable", "user pilot", "ok"),
        ("admin", "user enable", "user pilot", "ok"),
        ("admin", "user delete", "user pilot", "ok"),
        ("admin", "password reset", "user pilot", "ok")]


def test_the_audit_log_pages_and_filters(app: Flask) -> None:
    """Pages of ``limit`` rows newest first follow ``next_before`` to the oldest row; filters
    by user and action."""
    db = services(app).db
    for i in range(230):
        db.audit(username="operator" if i % 2 else "engineer", action=f"rtl {i}",
                 target=f"vehicle {i}", result="ok")
    admin = Client(app, "admin")
    seen: list[int] = []
    before = None
    while True:
        url = "/api/audit?limit=100" + (f"&before={before}" if before else "")
        page = admin.get(url).json
        seen += [r["id"] for r in page["audit"]]
        before = page["next_before"]
        if before is None:
            break
    total = len(db.rows(sa.select(tables.audit_log.c.id)))
    assert seen == sorted(seen, reverse=True) and len(seen) == total >= 231
    ops = admin.get("/api/audit?user=operator&limit=500").json["audit"]
    assert len(ops) == 115 and {r["username"] for r in ops} == {"operator"}
    logins = admin.get("/api/audit?action=login").json["audit"]
    assert [r["username"] for r in logins] == ["admin"]
    for bad in ("limit=0", "limit=501", "limit=x", "limit=\u00b2", "before=-1",
                "before=" + "9" * 30):
        r = admin.get("/api/audit?" + bad)
        assert r.status_code == 400 and r.json["field"] in bad, (bad, r.json)


def test_audit_text_is_bounded(app: Flask) -> None:
    """User-controlled text is cut to its column (detail to AUDIT_TEXT_MAX characters)."""
    engineer = Client(app, "engineer")
    engineer.post("/api/fleet/all/land", json={"plan_id": "x" * 10_000})
    services(app).db.audit(username="u" * 300, action="a" * 300, target="t" * 3000,
                           result="r" * 100, detail="d" * 100_000)
    rows = services(app).db.rows(sa.select(tables.audit_log))
    for r in rows:
        assert len(r.username) <= 64 and len(r.action) <= 32 and len(r.target) <= 128
        assert len(r.result) <= 16 and len(r.detail or "") <= AUDIT_TEXT_MAX


def test_refused_requests_cannot_push_commands_out(app: Flask) -> None:
    """520 refused commands by crew keep at most REFUSED_PER_MINUTE rows a minute, and the
    operator's commands stay on the first page of the log."""
    db = services(app).db
    db.audit(username="operator", action="rtl", target="vehicle 1", result="ok")
    crew = Client(app, "crew")
    for _ in range(520):
        assert crew.post("/api/fleet/vehicles/1/rtl").status_code == 403
    refused = [r for r in _rows(app) if r[0] == "crew" and r[3] == "forbidden"]
    assert len(refused) == REFUSED_PER_MINUTE
    page = Client(app, "admin").get("/api/audit?limit=100").json["audit"]
    assert ("operator", "rtl", "ok") in [(r["username"], r["action"], r["result"])
                                         for r in page]


def test_left_out_refusals_are_counted_after_the_minute(database_url: str) -> None:
    """The first refusal after the minute records how many were left out."""
    now = [1000.0]
    db = Database(database_url, clock=lambda: now[0])
    try:
        for _ in range(REFUSED_PER_MINUTE + 7):
            db.audit(username="crew", action="rtl", target="/x", result="forbidden")
        now[0] += 61.0
        db.audit(username="crew", action="rtl", target="/x", result="forbidden", detail="role")
        rows = db.rows(sa.select(tables.audit_log).order_by(tables.audit_log.c.id))
        assert len(rows) == REFUSED_PER_MINUTE + 1
        assert rows[-1].detail.startswith("7 more refused requests")
    finally:
        db.close()
