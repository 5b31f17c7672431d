"""A whole ``dropline demo`` day through the console's HTTP API, as the browser drives it: log in,
open the draft plan the Plan page opens, plan it, upload and start it, poll the fleet until the
run is over. Used by the tests; run it as a script to measure the full district day::

    .venv/bin/python -m tests.dropline.helpers_demo_day --speedup 20
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

import requests

from dropline.commands.web import Demo, start_demo
from web.server import WebServer


@dataclass(frozen=True, slots=True, kw_only=True)
class DayFigures:
    """What a demo day planned and flew, and how long each part took (wall seconds)."""

    drops: int
    served: int
    unserved: int
    sorties: int
    vehicles_flying: int
    delivered: int
    drop_states: dict[str, str]
    alerts: list[str]
    assignment: dict[str, int]
    plan_wall_s: float
    upload_wall_s: float
    flight_wall_s: float
    makespan_planned_s: float
    batteries_before_pct: list[int | None]


class Browser:
    """A logged-in session sending the CSRF token like the console's pages do."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.token = self.get("/api/csrf")["csrf_token"]
        self.post("/api/login", {"username": username, "password": password})
        self.token = self.get("/api/csrf")["csrf_token"]

    def get(self, path: str) -> Any:
        """GET ``path``; the JSON answer (failing on an error status)."""
        r = self.http.get(self.url + path, timeout=60)
        if r.status_code >= 400:
            raise AssertionError(f"GET {path}: {r.status_code} {r.text[:4000]}")
        return r.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; the JSON answer (failing on an error status)."""
        r = self.http.post(self.url + path, json=body or {}, timeout=300,
                           headers={"X-CSRFToken": self.token})
        if r.status_code >= 400:
            raise AssertionError(f"POST {path}: {r.status_code} {r.text[:4000]}")
        answer: Any = r.json()
        return answer

    def close(self) -> None:
        """Close the session."""
        self.http.close()


def _wait(cond: Any, timeout_s: float, what: str, period_s: float = 0.5) -> Any:
    end = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(period_s)


def fly_day(demo: Demo, password: str, *, flight_timeout_s: float = 3600.0,
            drop_ids: list[str] | None = None) -> DayFigures:
    """Plan, upload, start and follow the demo's draft plan (the one the Plan page opens) through
    HTTP until the run ends; with ``drop_ids``, a new plan of those drops instead."""
    server = WebServer(demo.app, port=0).start()
    browser = Browser(server.url, "admin", password)
    try:
        listing = browser.get("/api/plans")
        assert listing["default"] == demo.plan_id, listing
        plan_id = demo.plan_id
        if drop_ids is not None:
            plan_id = browser.post("/api/plans", {"scenario": "district",
                                                  "edits": {"drop_ids": drop_ids}})["id"]
        t0 = time.monotonic()
        browser.post(f"/api/plans/{plan_id}/run")
        plan = _wait(lambda: (p := browser.get(f"/api/plans/{plan_id}"))["state"] in
                     ("done", "failed") and p, 600, "the plan")
        assert plan["state"] == "done", plan["error"]
        t1 = time.monotonic()
        _wait(lambda: len(browser.get("/api/fleet")["vehicles"]) == len(demo.vehicles), 60,
              "every simulated vehicle heard")
        batteries = [v["battery_pct"] for v in browser.get("/api/fleet")["vehicles"]]
        results = browser.post("/api/fleet/upload", {"plan_id": plan_id})["results"]
        assert all(r["ok"] for r in results), (results, demo.fleet.loop_error)
        t2 = time.monotonic()
        browser.post("/api/fleet/start")
        fleet = _wait(lambda: (f := browser.get("/api/fleet"))["run"]["finished"] and f,
                      flight_timeout_s, "the run to finish", period_s=1.0)
        t3 = time.monotonic()
        result = plan["result"]
        states = {d["drop_id"]: d["state"] + (f": {d['reason']}" if d.get("reason") else "")
                  for d in fleet["drops"]}
        return DayFigures(
            drops=result["summary"]["drops"], served=result["summary"]["served"],
            unserved=len(result["unserved"]), sorties=result["summary"]["sorties"],
            vehicles_flying=result["summary"]["vehicles"],
            delivered=sum(1 for s in states.values() if s == "delivered"), drop_states=states,
            alerts=[str(a.get("message", a)) for a in fleet.get("alerts", [])],
            assignment=fleet["run"]["assignment"], plan_wall_s=round(t1 - t0, 1),
            upload_wall_s=round(t2 - t1, 1), flight_wall_s=round(t3 - t2, 1),
            makespan_planned_s=result["summary"]["makespan_s"], batteries_before_pct=batteries)
    finally:
        browser.close()
        server.close()


def main() -> None:
    """Measure one demo day (the whole district unless --drops)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speedup", type=float, default=20.0)
    parser.add_argument("--drops", default=None, help="comma-separated drop ids")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as data:
        t0 = time.monotonic()
        demo = start_demo(data, args.speedup, drop_ids=None if args.drops is None
                          else args.drops.split(","))
        try:
            assert demo.first_login is not None
            figures = fly_day(demo, demo.first_login)
        finally:
            demo.close()
        out = asdict(figures)
        out["total_wall_s"] = round(time.monotonic() - t0, 1)
        out["speedup"] = args.speedup
        out["fleet_cpu_s"] = round(demo.fleet.cpu_s, 1)
        out["sim_slipped_s"] = round(demo.fleet.slipped_s, 1)
        out["sim_time_s"] = round(demo.fleet.sim_time_s, 1)
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
