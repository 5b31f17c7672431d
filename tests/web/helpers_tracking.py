"""Helpers of the plan-version and tracking tests: a two-parcel plan of the tutorial hub, and
runs written to the console's flight log as the fleet writes them (without vehicles)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from gcs.fleet.manager import plan_key
from gcs.fleet.tracking import DropEvent, DropState
from tests.web.helpers import Client, plan_done, services

DROPS = ["P014", "P020"]
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 2}}
EDITS: dict[str, Any] = {"depots": [HUB], "drop_ids": DROPS}


def two_parcel_plan(app: Flask, c: Client) -> str:
    """The id of a planned two-parcel plan of the tutorial's North Conway hub."""
    return plan_done(c, edits=EDITS, app=app)


def fly(app: Flask, plan_id: str, states: dict[str, tuple[str, dict[str, Any]]],
        *, end: bool = True) -> tuple[int, dict[str, str]]:
    """Record a run of the plan's newest version in the flight log, as the fleet does: its
    tokens issued at upload, then each drop's event (state, DropEvent fields); the run id and
    drop id -> token."""
    svc = services(app)
    record = svc.plans.get(plan_id)
    plan = svc.plans.plan_of(record)
    log = svc.fleet.flight_log
    run = log.start_run(plan_key=plan_key(plan), plan_name=record.name,
                        plan_path=str(record.plan_json), resume=False)
    tokens = svc.deliveries.issue_tokens(plan_id)
    sortie_of = {d: s.id for s in plan.sorties for d in s.drop_ids}
    for drop_id, (state, extra) in states.items():
        log.record_drop_event(run.id, DropEvent(drop_id=drop_id, sortie_id=sortie_of[drop_id],
                                                state=DropState(state), at_s=0.0,
                                                detail=extra.get("detail")),
                              eta_at=extra.get("eta_at"))
    if end:
        log.end_run(run.id, "test")
    return run.id, tokens
