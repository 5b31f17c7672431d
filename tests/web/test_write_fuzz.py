"""A deterministic fuzz of every write endpoint (and every route taking ids) from the URL map:
malformed JSON, wrong types, huge numbers, deep nesting, NUL bytes in strings, file names and
URLs. No request may get a 5xx."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from tests.web.helpers import Client, services

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: Routes whose success would end the fuzzing session; fuzzed separately.
SESSION_ENDERS = {"/api/logout", "/logout", "/api/login", "/login"}
FIELDS = ("username", "password", "role", "scenario", "edits", "plan_id", "vehicle", "fault",
          "value", "disabled", "current_password", "new_password", "resend_delivered", "kind",
          "depots", "nofly", "drop_ids", "time_limit_s", "dem")
HUGE = [2**64, -(2**70), 10**400, 1e308, -1e308, 2**63, 2**63 - 1]
ODD = [*HUGE, "\x00", "a\x00b", "x" * 100_000, ["x"], {"a": 1}, True, None, -1, 0.5, "",
       "../../etc/passwd", "\ud800"]


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": [value]}
    return value


def _edit_bodies() -> Iterator[dict[str, Any]]:
    for bad in ODD:
        yield {"depots": [{"id": bad, "lat_deg": 44.3, "lon_deg": -71.8,
                           "drones": {"heavy_octo": 1}}]}
        yield {"depots": [{"id": "hub", "lat_deg": bad, "lon_deg": bad, "drones": {bad: bad}
                           if isinstance(bad, str) else bad}]}
        yield {"nofly": [{"name": bad, "polygon": [[bad, bad], [1, 2], [3, 4]]}]}
        yield {"drop_ids": [bad], "time_limit_s": bad, "dem": bad}


def raw_bodies() -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, keyword arguments of the test client) for one request each."""
    yield "no body", {}
    for label, data in [("truncated", b'{"a": '), ("not utf-8", b"\xff\xfe{}"),
                        ("deep array", b"[" * 100_000), ("deep object", b'{"a":' * 50_000),
                        ("nan", b'{"vehicle": NaN, "value": Infinity}'),
                        ("huge exponent", b'{"vehicle": 1e99999, "time_limit_s": -1e99999}'),
                        ("long digits", b'{"vehicle": ' + b"9" * 5000 + b"}"),
                        ("nul", b'{"username": "a\\u0000b", "password": "\\u0000\\u0000"}')]:
        yield label, {"data": data, "content_type": "application/json"}
    for label, value in [("array", []), ("string", "x"), ("number", 2**80), ("null", None),
                         ("depth 40", _deep(40)), ("depth 30", _deep(30))]:
        yield label, {"json": value}
    for bad in ODD:
        yield f"every field {bad!r:.30}", {"json": dict.fromkeys(FIELDS, bad)}
    for i, body in enumerate(_edit_bodies()):
        yield f"edit {i}", {"json": body}
    for kind, name in itertools.product(["drops", "nofly", "dem", "\x00", ""],
                                        ["a\x00b.csv", "\x00", "../../x.hgt", "a" * 5000, ""]):
        yield f"upload {kind!r} {name[:20]!r}", {"data": {
            "kind": kind, "file": (io.BytesIO(b"id,lat\x00,lon\n\x00,1e999,x\n"), name)},
            "content_type": "multipart/form-data"}
    yield "form", {"data": {"username": "\x00", "password": "x" * 100_000, "next": "\x00"}}


def _path_values(argument: str, plan_id: str) -> list[str]:
    if argument in ("sysid", "alert_id", "flight_id", "user_id", "z", "x", "y"):
        return ["2", "0", str(2**63 - 1), str(2**63), str(2**64 + 1), "9" * 30, "1" + "0" * 5000]
    if argument == "verb":
        return ["rtl", quote("rt\x00l"), "x" * 3000]
    if argument == "plan_id":
        return [plan_id, quote("\x00"), "x" * 3000, "..%2F..", "nope"]
    return ["x", quote("a\x00b"), "y" * 3000]


def _fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request's arguments with new file objects (the client closes those it sends)."""
    data = kwargs.get("data")
    if not isinstance(data, dict):
        return dict(kwargs)
    return {**kwargs, "data": {k: (io.BytesIO(v[0].getvalue()), v[1]) if isinstance(v, tuple)
                               else v for k, v in data.items()}}


def _urls(app: Flask, plan_id: str, writes_only: bool) -> Iterator[tuple[str, str, bool]]:
    """(method, URL, whether the path values are the ordinary ones) of every route."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = sorted((rule.methods or set()) & WRITES) if writes_only else (
            ["GET"] if rule.arguments and "GET" in (rule.methods or set()) else [])
        if rule.rule in SESSION_ENDERS or not methods or rule.rule.startswith("/static"):
            continue
        args = sorted(rule.arguments)
        for i, values in enumerate(itertools.product(*(_path_values(a, plan_id)
                                                       for a in args))):
            if len(args) > 1 and len(set(values)) > 1 and rule.rule.startswith("/tiles"):
                continue
            url = rule.rule
            for a, v in zip(args, values, strict=True):
                url = url.replace(f"<{a}>", v).replace(f"<int:{a}>", v).replace(
                    f"<path:{a}>", v)
            for method in methods:
                yield method, url, i == 0


def _admin(app: Flask) -> Client:
    c = Client(app, "admin")
    assert c.get("/api/me").status_code == 200
    return c


@pytest.fixture
def plan_id(app: Flask) -> str:
    """A draft plan to fuzz (the fuzz starts its planner once)."""
    r = Client(app, "operator").post("/api/plans", json={"scenario": "tutorial"})
    assert r.status_code == 201
    return str(r.json["id"])


def test_no_write_endpoint_answers_5xx(app: Flask, plan_id: str) -> None:
    """Every write endpoint, with every path value and malformed body, answers below 500."""
    admin = _admin(app)
    failures: list[str] = []
    count = 0
    every = list(raw_bodies())
    for method, url, ordinary in _urls(app, plan_id, writes_only=True):
        bodies = [b for b in every if (not b[0].startswith("edit") or "/edits" in url)
                  and (not b[0].startswith("upload") or "/uploads" in url)] \
            if ordinary and "/run" not in url and "password" not in url else \
            [*every[:4], every[-1]]
        for label, kwargs in bodies:
            kwargs = {**_fresh(kwargs), "headers": {"X-CSRFToken": admin.token}}
            r = admin.http.open(url, method=method, **kwargs)
            count += 1
            if r.status_code >= 500:
                failures.append(f"{method} {url[:80]} [{label}] -> {r.status_code}")
            if r.status_code == 401:
                admin = _admin(app)
    assert count > 500
    assert not failures, "\n".join(failures[:30])
    services(app).plans.wait(plan_id, 120.0)


def test_no_route_with_ids_answers_5xx(app: Flask, plan_id: str) -> None:
    """GET routes with ids in the path (huge, NUL, long) answer below 500."""
    admin = _admin(app)
    bad = [f"GET {url[:80]} -> {r.status_code}" for method, url, _ in
           _urls(app, plan_id, writes_only=False)
           if (r := admin.http.open(url, method=method)).status_code >= 500]
    assert not bad, "\n".join(bad)


def test_login_and_logout_with_malformed_bodies(app: Flask) -> None:
    """Login and logout, logged in or not, never answer 5xx (deep JSON before any login)."""
    for url, (label, kwargs) in itertools.product(sorted(SESSION_ENDERS), raw_bodies()):
        c = Client(app, None)
        r = c.http.post(url, headers={"X-CSRFToken": c.token}, **_fresh(kwargs))
        assert r.status_code < 500, (url, label, r.status_code)
    deep = b'{"a": [' * 5000 + b"1" + b"]}" * 5000
    r = Client(app, None).post("/api/login", data=deep, content_type="application/json")
    assert r.status_code == 400
