"""Every drop's delivery state and ETA, and the public tracking link of each parcel.

A parcel's token (``secrets.token_urlsafe``) is made when its plan is uploaded to the fleet; the
tracking page behind it shows only that parcel's state and ETA, without a login.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa

from gcs.fleet import logs
from web import db as tables
from web.db import Database
from web.errors import NotFound
from web.fleet_service import FleetService
from web.planning import PlanService

TOKEN_BYTES = 24
#: What the public page says for each state.
STATE_TEXT = {"planned": "Scheduled", "queued": "Waiting for take-off",
              "en_route": "On its way", "released": "Being delivered",
              "delivered": "Delivered", "failed": "Delivery failed"}


class DeliveryService:
    """Drop states from the run in progress or the flight log, and tracking tokens."""

    def __init__(self, database: Database, plans: PlanService, fleet: FleetService) -> None:
        self.db = database
        self.plans = plans
        self.fleet = fleet

    def issue_tokens(self, plan_id: str) -> dict[str, str]:
        """A token for every served drop of a plan (existing ones kept); drop id -> token."""
        plan = self.plans.plan(plan_id)
        with self.db.transaction() as conn:
            have = {r.drop_id: r.token for r in conn.execute(
                sa.select(tables.parcels).where(tables.parcels.c.plan_id == plan_id))}
            for drop_id in plan.served_drop_ids:
                if drop_id not in have:
                    have[drop_id] = secrets.token_urlsafe(TOKEN_BYTES)
                    conn.execute(sa.insert(tables.parcels).values(
                        token=have[drop_id], plan_id=plan_id, drop_id=drop_id,
                        created_at=time.time()))
        return have

    def tokens(self, plan_id: str) -> dict[str, str]:
        """Drop id -> token of a plan's parcels."""
        return {r.drop_id: r.token for r in self.db.rows(
            sa.select(tables.parcels).where(tables.parcels.c.plan_id == plan_id))}

    def _logged_states(self, plan_id: str) -> dict[str, tuple[str, str | None]]:
        """The last logged state of each drop in the latest run of a plan."""
        path = str(self.plans.plan_json_path(plan_id))
        log = self.fleet.flight_log
        with log.engine.connect() as conn:
            row = conn.execute(sa.select(logs.runs.c.id).where(logs.runs.c.plan_path == path)
                               .order_by(logs.runs.c.id.desc())).first()
        return {} if row is None else log.drop_states(int(row.id))

    def drops(self, plan_id: str | None = None) -> dict[str, Any]:
        """Every drop of the plan being flown (or ``plan_id``) with state, ETA and token."""
        run = self.fleet.run
        if plan_id is None:
            if run is None:
                return {"plan_id": None, "drops": []}
            plan_id = run.plan_id
        if run is not None and run.plan_id == plan_id:
            drops = run.drops()
        else:
            plan = self.plans.plan(plan_id)
            logged = self._logged_states(plan_id)
            drops = [{"drop_id": d, "sortie_id": s.id, "vehicle": s.vehicle,
                      "state": logged.get(d, ("planned", None))[0], "eta_in_s": None,
                      "eta_at": None, "reason": logged.get(d, (None, None))[1]}
                     for s in plan.sorties for d in s.drop_ids]
        tokens = self.tokens(plan_id)
        for d in drops:
            d["token"] = tokens.get(d["drop_id"])
        return {"plan_id": plan_id, "drops": drops}

    def track(self, token: str) -> dict[str, Any]:
        """The public status of one parcel: its id, state and ETA, nothing else."""
        rows = self.db.rows(sa.select(tables.parcels).where(tables.parcels.c.token == token))
        if not rows:
            raise NotFound("no such parcel")
        plan_id, drop_id = rows[0].plan_id, rows[0].drop_id
        found = next((d for d in self.drops(plan_id)["drops"] if d["drop_id"] == drop_id), None)
        state = "planned" if found is None else str(found["state"])
        return {"parcel": drop_id, "state": state, "status": STATE_TEXT.get(state, state),
                "eta_in_s": None if found is None else found.get("eta_in_s"),
                "eta_at": None if found is None else found.get("eta_at")}

