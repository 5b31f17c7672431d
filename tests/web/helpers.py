"""Helpers for console tests: an app on a temporary data folder, users of every role, logged-in
test clients that send the CSRF token, and a real HTTP server on a free port."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.shared_data import REPO
from web import create_app
from web.server import WebServer
from web.services import Services

PASSWORD = "correct-horse-1"
ROLES = ("admin", "operator", "crew", "engineer")


def make_app(data_dir: Path, **config: Any) -> Flask:
    """A console app on ``data_dir`` with one user per role (named after the role)."""
    app = create_app({"DATA_DIR": str(data_dir), "MISSIONS_DIR": str(REPO / "missions"),
                      "SAMPLE_SCENARIO": "tutorial",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **config})
    with app.app_context():
        for role in ROLES:
            services(app).users.create(role, PASSWORD, role)
    return app


def services(app: Flask) -> Services:
    """The services of ``app``."""
    found: Services = app.extensions["dropline"]
    return found


class Client:
    """A test client logged in as one user, sending the CSRF token with every write."""

    def __init__(self, app: Flask, role: str | None) -> None:
        self.http: FlaskClient = app.test_client()
        self.token = self.http.get("/api/csrf").json["csrf_token"]  # type: ignore[index]
        if role is not None:
            r = self.post("/api/login", json={"username": role, "password": PASSWORD})
            assert r.status_code == 200, r.json
            self.token = self.http.get("/api/csrf").json["csrf_token"]  # type: ignore[index]

    def get(self, url: str, **kw: Any) -> Any:
        """GET ``url``."""
        return self.http.get(url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        """POST ``url`` with the CSRF header."""
        kw.setdefault("headers", {})["X-CSRFToken"] = self.token
        return self.http.post(url, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        """PUT ``url`` with the CSRF header."""
        kw.setdefault("headers", {})["X-CSRFToken"] = self.token
        return self.http.put(url, **kw)


def plan_done(client: Client, scenario: str = "tutorial", edits: dict[str, Any] | None = None,
              app: Flask | None = None) -> str:
    """The id of a plan of ``scenario`` made through the API and finished."""
    r = client.post("/api/plans", json={"scenario": scenario, "edits": edits or {}})
    assert r.status_code == 201, r.json
    plan_id: str = r.json["id"]
    assert client.post(f"/api/plans/{plan_id}/run").status_code == 202
    if app is not None:
        services(app).plans.wait(plan_id, 120.0)
    state = client.get(f"/api/plans/{plan_id}").json
    assert state["state"] == "done", state
    return plan_id


def serve(app: Flask) -> Iterator[WebServer]:
    """A real waitress server for ``app`` on a free loopback port, closed after."""
    server = WebServer(app, port=0).start()
    try:
        yield server
    finally:
        server.close()


def new_plan(c: Client, scenario: str = "tutorial", edits: dict[str, Any] | None = None) -> str:
    """Create a plan of ``scenario`` (with ``edits``) through the API; its id."""
    r = c.post("/api/plans", json={"scenario": scenario, "edits": edits or {}})
    assert r.status_code == 201, r.json
    return str(r.json["id"])


def upload(c: Client, plan_id: str, kind: str, name: str, data: bytes) -> Any:
    """Upload ``data`` as the file ``name`` of ``kind`` to a plan; the response."""
    return c.post(f"/api/plans/{plan_id}/uploads", data={"kind": kind,
                                                         "file": (io.BytesIO(data), name)},
                  content_type="multipart/form-data")
