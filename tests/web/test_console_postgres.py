"""The console on PostgreSQL through its HTTP server: log in, plan the tutorial, the audit
rows written; a restart of the app on the same database keeps accounts, plans and audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.helpers.shared_data import REPO
from tests.helpers.waiting import wait_until
from tests.web.helpers import PASSWORD, Client, make_app, serve, services
from web import create_app
from web import db as tables


class _Browser:
    """A logged-in HTTP session of one user against a running console."""

    def __init__(self, url: str, username: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.token = self.http.get(f"{url}/api/csrf", timeout=10).json()["csrf_token"]
        r = self.post("/api/login", {"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.token = self.http.get(f"{url}/api/csrf", timeout=10).json()["csrf_token"]

    def get(self, path: str) -> Any:
        return self.http.get(self.url + path, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.http.post(self.url + path, json=body or {}, timeout=30,
                              headers={"X-CSRFToken": self.token})


@pytest.mark.slow
def test_the_console_plans_and_audits_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """Over HTTP on PostgreSQL: operator plans the tutorial, logins and the plan are audited,
    a refused command is audited; after a restart on the same database every row is there."""
    data = tmp_path / "data"
    app = make_app(data, DATABASE_URL=postgres_url)
    try:
        assert services(app).db.engine.dialect.name == "postgresql"
        # the flight log lives in the same server database, not in a file of the data folder
        assert services(app).fleet.flight_log.engine.dialect.name == "postgresql"
        assert not (data / "flights.db").exists()
        server = serve(app)
        web = next(server)
        try:
            operator = _Browser(web.url, "operator")
            r = operator.post("/api/plans", {"scenario": "tutorial", "edits": {}})
            assert r.status_code == 201, r.text
            plan_id = r.json()["id"]
            assert operator.post(f"/api/plans/{plan_id}/run").status_code == 202
            wait_until(lambda: operator.get(f"/api/plans/{plan_id}").json()["state"]
                       in ("done", "failed"), 180.0, "the tutorial plan")
            assert operator.get(f"/api/plans/{plan_id}").json()["state"] == "done"
            crew = _Browser(web.url, "crew")
            assert crew.post("/api/fleet/vehicles/1/rtl").status_code == 403
            assert crew.post("/api/users", {"username": "x" * 500, "password": "long-enough",
                                            "role": "crew"}).status_code == 403
            audit = _Browser(web.url, "admin").get("/api/audit?limit=500").json()["audit"]
        finally:
            next(server, None)
        seen = {(a["username"], a["action"].split()[0]) for a in audit}
        assert {("operator", "login"), ("crew", "login"), ("admin", "login")} <= seen
        assert ("crew", "forbidden") in {(a["username"], a["result"]) for a in audit}
        before = services(app).db.rows(sa.select(tables.audit_log).order_by(
            tables.audit_log.c.id))
        plan_json = services(app).plans.get(plan_id).plan_json
    finally:
        services(app).close()

    again = create_app({"DATA_DIR": str(data), "MISSIONS_DIR": str(REPO / "missions"),
                        "SAMPLE_SCENARIO": "tutorial", "DATABASE_URL": postgres_url})
    try:
        after = services(again).db.rows(sa.select(tables.audit_log).order_by(
            tables.audit_log.c.id))
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        c = Client(again, "operator")
        shown = c.get(f"/api/plans/{plan_id}").json
        assert shown["state"] == "done" and services(again).plans.get(plan_id).plan_json == \
            plan_json
        assert services(again).users.count() == 4
        admin = Client(again, "admin")
        r = admin.post("/api/users", json={"username": "y" * 65, "password": "long-enough",
                                           "role": "crew"})
        assert r.status_code == 400 and r.json["field"] == "username"
    finally:
        services(again).close()
