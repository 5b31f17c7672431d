"""The OpenAPI document describes exactly the console's API: every route under /api/ with its
methods, no operation the server does not have, and the request fields the routes read."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.web.helpers import Client
from web.db import AUDIT_PAGE_MAX

_IGNORED = {"HEAD", "OPTIONS"}


def _document(app: Flask) -> dict[str, Any]:
    r = Client(app, None).get("/api/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json
    return doc


def _routes(app: Flask) -> dict[str, set[str]]:
    """Every API route as an OpenAPI path (``<int:sysid>`` becomes ``{sysid}``) and its
    methods."""
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            out.setdefault(path, set()).update(m.lower() for m in rule.methods or ()
                                               if m not in _IGNORED)
    return out


def test_every_api_route_is_described_with_its_methods(app: Flask) -> None:
    """Every Flask route under /api/ is in the document with exactly its methods; a path the
    document adds (a concrete case of a templated route) is served with those methods."""
    doc = _document(app)
    described = {path: {m for m in ops if m in ("get", "post", "put", "patch", "delete")}
                 for path, ops in doc["paths"].items()}
    routes = _routes(app)
    assert {p: described.get(p) for p in routes} == routes
    adapter = app.url_map.bind("localhost")
    for path in set(described) - set(routes):
        assert "{" not in path.rsplit("/", 1)[-1], path
        url = re.sub(r"\{[^}]+\}", "77", path)
        for method in described[path]:
            endpoint, _ = adapter.match(url, method=method.upper())
            assert endpoint, (path, method)


def test_concrete_paths_reach_their_own_view(app: Flask) -> None:
    """A path that the document names besides a templated one (accept besides the mode
    commands) is served by the view the document describes."""
    adapter = app.url_map.bind("localhost")
    endpoint, args = adapter.match("/api/fleet/vehicles/77/accept", method="POST")
    assert endpoint == "fleet.command" and args == {"sysid": 77, "verb": "accept"}
    doc = _document(app)
    verbs = doc["components"]["parameters"]["verb"]["schema"]["enum"]
    assert "accept" not in verbs
    assert "accept" in doc["paths"]["/api/fleet/vehicles/{sysid}/accept"]["post"]["summary"]


def test_request_fields_are_described(app: Flask) -> None:
    """Plan edits (seed, strict, dem as an upload id), the upload's resend_delivered, the user
    endpoints' bodies and the audit log's paging are in the document."""
    doc = _document(app)
    paths = doc["paths"]

    def body(path: str, method: str) -> dict[str, Any]:
        schema: dict[str, Any] = paths[path][method]["requestBody"]["content"][
            "application/json"]["schema"]
        return schema

    edits = body("/api/plans/{plan_id}/edits", "put")
    assert body("/api/plans", "post")["properties"]["edits"] == edits
    assert {"depots", "nofly", "drop_ids", "time_limit_s", "seed", "strict",
            "dem"} == set(edits["properties"]) and edits["additionalProperties"] is False
    assert edits["properties"]["seed"]["type"] == "integer"
    assert edits["properties"]["strict"]["type"] == "boolean"
    assert edits["properties"]["dem"]["pattern"] == "^[0-9a-f]{16}$"
    assert "never a path" in edits["properties"]["dem"]["description"]
    upload = body("/api/fleet/upload", "post")["properties"]
    assert upload["resend_delivered"]["type"] == "boolean"
    assert set(body("/api/users/{user_id}", "patch")["properties"]) == {"role", "disabled"}
    assert body("/api/users/{user_id}/password", "post")["required"] == ["password"]
    assert body("/api/me/password", "post")["required"] == ["current_password",
                                                             "new_password"]
    assert "delete" in paths["/api/users/{user_id}"]
    audit = {p["name"]: p for p in paths["/api/audit"]["get"]["parameters"]}
    assert set(audit) == {"limit", "before", "user", "action"}
    assert audit["limit"]["schema"]["maximum"] == AUDIT_PAGE_MAX


def test_edits_described_are_accepted(app: Flask) -> None:
    """An edit using each described field is accepted by the server (the document and the
    checks agree on names)."""
    c = Client(app, "operator")
    r = c.post("/api/plans", json={"scenario": "tutorial", "edits": {
        "seed": 7, "strict": True, "time_limit_s": 5}})
    assert r.status_code == 201, r.json
    r = c.put(f"/api/plans/{r.json['id']}/edits", json={"seed": 8, "strict": False})
    assert r.status_code == 200, r.json
    assert r.json["edits"]["seed"] == 8
