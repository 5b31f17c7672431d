"""Every drop's delivery state and ETA, and the public tracking link of each parcel.

A parcel is a drop of a plan, across the plan's versions: its token
(``secrets.token_urlsafe``) is made the first time a version serving it is uploaded to the fleet
and stays the same when the plan is planned again. Its first delivery (in a run of any version)
is recorded once on the parcel and is final: a later failed or re-sent sortie does not change
what the tracking page says.

The tracking page behind a token shows only that parcel: its state, the ETA and delivery time,
when it failed why and what happens next, the drop point and whom to contact. The contact is
the hub (depot) the parcel's sortie flies from: the console setting ``HUB_CONTACTS`` maps a
depot id (or ``"*"``, any hub) to ``{"name", "phone", "email"}``, each optional. By default the
name is the depot id in words ("north_conway" -> "North Conway hub") with no phone or email.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcs.fleet import logs
from planner.plan_model import Plan
from web import db as tables
from web.db import Database
from web.errors import Conflict, NotFound
from web.fleet_service import FleetService
from web.planning import PlanRecord, PlanService

TOKEN_BYTES = 24
#: What a token looks like (``secrets.token_urlsafe``); anything else is not looked up.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: What the public page says for each state.
STATE_TEXT = {"planned": "Scheduled", "queued": "Waiting for take-off",
              "en_route": "On its way", "released": "Being delivered",
              "delivered": "Delivered", "failed": "Delivery failed"}
#: Zoom of the one map tile of the tracking page (about 2.4 km across at 45 degrees latitude).
MAP_ZOOM = 14
TILE_PX = 256
#: States of a drop still to be flown or flying (an ETA applies).
OPEN_STATES = frozenset({"planned", "queued", "en_route", "released"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """Whom a recipient asks about a parcel: the hub's name, phone and e-mail."""

    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DropPlace:
    """Where a parcel is dropped (WGS84 degrees) and the depot its sortie flies from."""

    lat_deg: float
    lon_deg: float
    depot_id: str


def hub_name(depot_id: str) -> str:
    """A depot id in words, as a hub's name.

    Examples
    --------
    >>> hub_name("north_conway")
    'North Conway hub'
    """
    return " ".join(w.capitalize() for w in re.split(r"[_\-\s]+", depot_id) if w) + " hub"


def hub_contact(depot_id: str, contacts: Mapping[str, Any]) -> Contact:
    """The contact of a hub from ``HUB_CONTACTS`` (its depot id, else ``"*"``), with the
    default name of :func:`hub_name`."""
    found = contacts.get(depot_id) or contacts.get("*") or {}
    if not isinstance(found, Mapping):
        found = {}

    def text(key: str) -> str | None:
        value = found.get(key)
        return str(value)[:200] if value else None

    return Contact(name=text("name") or hub_name(depot_id), phone=text("phone"),
                   email=text("email"))


def tile_position(lat_deg: float, lon_deg: float, zoom: int = MAP_ZOOM
                  ) -> tuple[int, int, float, float]:
    """The Web Mercator tile (x, y) holding a point and the point's pixel in it.

    Examples
    --------
    >>> tile_position(0.0, 0.0, 1)
    (1, 1, 0.0, 0.0)
    """
    n = 2 ** zoom
    fx = (lon_deg + 180.0) / 360.0 * n
    lat = math.radians(lat_deg)
    fy = (1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n
    x, y = min(int(fx), n - 1), min(int(fy), n - 1)
    return x, y, round((fx - x) * TILE_PX, 1), round((fy - y) * TILE_PX, 1)


def failure_text(detail: str | None, hub: str) -> tuple[str, str]:
    """A failed delivery's reason and next step as a recipient reads them (the flight's own
    detail stays with the crew)."""
    detail = (detail or "").lower()
    if "not flown" in detail or "skipped" in detail:
        reason = "The delivery flight did not take place."
    elif "collect" in detail:
        reason = "Nobody collected the parcel at the drop point."
    else:
        reason = "The drone could not reach the drop point."
    return reason, (f"The parcel is back at the hub: it will be re-sent on the next sortie, "
                    f"or it can be collected at {hub}.")


def _minute(unix_s: float) -> float:
    """Unix seconds rounded up to the next whole minute (what the page shows)."""
    return float(math.ceil(unix_s / 60.0) * 60)


class DeliveryService:
    """Drop states from the run in progress or the flight log, and parcels' tracking."""

    def __init__(self, database: Database, plans: PlanService, fleet: FleetService, *,
                 contacts: Mapping[str, Any] | None = None) -> None:
        self.db = database
        self.plans = plans
        self.fleet = fleet
        self.contacts = dict(contacts or {})
        self._places: dict[str, dict[str, DropPlace]] = {}

    # -- tokens -------------------------------------------------------------------------------
    def _uploaded_version(self, plan_id: str) -> PlanRecord:
        """The version the fleet's run flies, if it is of this plan; else the newest."""
        record = self.plans.get(plan_id)
        run = self.fleet.live_run()
        path = None if run is None else run.plan_path
        if path:
            try:
                flying = self.plans.version_at(Path(path))
            except NotFound:
                return record
            if flying.id == record.id:
                return flying
        return record

    def issue_tokens(self, plan_id: str) -> dict[str, str]:
        """A token for every served drop of the plan uploaded to the fleet (a parcel's token
        is kept across the plan's versions); drop id -> token. The version is flown from now
        on (read-only)."""
        record = self._uploaded_version(plan_id)
        plan = self.plans.plan_of(record)
        self.plans.mark_flown(record.version_id)
        p = tables.parcels
        with self.db.transaction() as conn:
            have = {r.drop_id: r.token for r in conn.execute(
                sa.select(p).where(p.c.lineage_id == record.id))}
            for drop_id in plan.served_drop_ids:
                if drop_id not in have:
                    have[drop_id] = secrets.token_urlsafe(TOKEN_BYTES)
                    conn.execute(sa.insert(p).values(
                        token=have[drop_id], plan_id=record.version_id, lineage_id=record.id,
                        drop_id=drop_id, created_at=time.time()))
        return have

    def tokens(self, plan_id: str) -> dict[str, str]:
        """Drop id -> token of a plan's parcels (of every version)."""
        lineage = self.plans.get(plan_id).id
        return {r.drop_id: r.token for r in self.db.rows(
            sa.select(tables.parcels).where(tables.parcels.c.lineage_id == lineage))}

    # -- the flight log -----------------------------------------------------------------------
    def _plan_paths(self, plan_id: str) -> list[str]:
        return [str(v.plan_json) for v in self.plans.versions(plan_id)]

    def _events(self, paths: list[str], drop_id: str | None = None) -> Any:
        """Delivery events of runs of these plan.json files (optionally of one drop)."""
        ev, runs = logs.delivery_events, logs.runs
        query = (sa.select(ev, runs.c.plan_path).join(runs, runs.c.id == ev.c.run_id)
                 .where(runs.c.plan_path.in_(paths)))
        return query if drop_id is None else query.where(ev.c.drop_id == drop_id)

    def _settle(self, plan_id: str) -> dict[str, tuple[float, int]]:
        """Record each parcel's first delivery once (from runs of any version); drop id ->
        (delivered at, run id) of every delivered parcel."""
        lineage = self.plans.get(plan_id).id
        p = tables.parcels
        known = {r.drop_id: r for r in self.db.rows(sa.select(p).where(
            p.c.lineage_id == lineage))}
        out = {d: (float(r.delivered_at), int(r.delivered_run_id or 0))
               for d, r in known.items() if r.delivered_at is not None}
        ev = logs.delivery_events
        query = self._events(self._plan_paths(plan_id)).where(ev.c.state == "delivered") \
            .order_by(ev.c.id)
        with self.fleet.flight_log.engine.connect() as conn:
            rows = list(conn.execute(query))
        first: dict[str, tuple[float, int]] = {}
        for r in rows:
            first.setdefault(str(r.drop_id), (float(r.at), int(r.run_id)))
        new = {d: v for d, v in first.items() if d in known and d not in out}
        if new:
            with self.db.transaction() as conn:
                for drop_id, (at, run_id) in new.items():
                    conn.execute(sa.update(p).where(p.c.lineage_id == lineage,
                                                    p.c.drop_id == drop_id,
                                                    p.c.delivered_at.is_(None))
                                 .values(delivered_at=at, delivered_run_id=run_id))
            out.update(new)
        return out

    def delivered_before(self, plan_id: str) -> dict[str, str]:
        """Parcels of any version of a plan delivered already, which no run flies again.

        Parameters
        ----------
        plan_id
            The plan (any of its versions).

        Returns
        -------
        dict
            Drop id -> where it was delivered (``"run 3"``).
        """
        return {drop_id: f"run {run_id}"
                for drop_id, (_, run_id) in self._settle(plan_id).items()}

    def _logged_states(self, plan_id: str) -> dict[str, dict[str, Any]]:
        """The last logged event of each drop in the latest run of any version of a plan."""
        ev = logs.delivery_events
        with self.fleet.flight_log.engine.connect() as conn:
            rows = list(conn.execute(self._events(self._plan_paths(plan_id)).order_by(ev.c.id)))
        if not rows:
            return {}
        last_run = max(int(r.run_id) for r in rows)
        return {str(r.drop_id): dict(r._mapping) for r in rows if int(r.run_id) == last_run}

    def _last_event(self, plan_id: str, drop_id: str) -> dict[str, Any] | None:
        """The newest logged event of one drop in runs of any version of a plan."""
        ev = logs.delivery_events
        query = self._events(self._plan_paths(plan_id), drop_id).order_by(ev.c.id.desc())
        with self.fleet.flight_log.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return None if row is None else dict(row._mapping)

    def _live(self, plan_id: str) -> list[dict[str, Any]] | None:
        """The drops of the run in progress if it flies a version of this plan."""
        run = self.fleet.live_run()
        if run is None:
            return None
        try:
            if self.plans.get(run.plan_id).id != self.plans.get(plan_id).id:
                return None
        except NotFound:
            return None
        return run.drops()

    def in_the_air(self, plan_id: str) -> dict[str, str]:
        """Drops on their way in the run in progress of a version of this plan (their sortie
        took off): drop id -> its sortie and vehicle."""
        return {str(d["drop_id"]): f"sortie {d['sortie_id']} on {d['vehicle']}"
                for d in self._live(plan_id) or []
                if d["state"] in ("en_route", "released")}

    # -- the crew's list ----------------------------------------------------------------------
    def _shown_plan(self, plan_id: str) -> Plan:
        """The sorties of the plan's newest version, or while that is a draft of a flown plan,
        of the newest flown version."""
        newest = self.plans.get(plan_id)
        if newest.state != "done":
            flown = [v for v in self.plans.versions(plan_id)
                     if v.flown_at is not None and v.state == "done"]
            if flown:
                return self.plans.plan_of(flown[0])
        return self.plans.plan_of(newest)

    def drops(self, plan_id: str | None = None) -> dict[str, Any]:
        """Every drop of the plan being flown (or ``plan_id``) with state, ETA and token."""
        run = self.fleet.live_run()
        if plan_id is None:
            if run is None:
                return {"plan_id": None, "drops": []}
            plan_id = run.plan_id
        lineage = self.plans.get(plan_id).id
        delivered = self._settle(plan_id)
        live = self._live(plan_id)
        if live is not None:
            drops = live
        else:
            plan = self._shown_plan(plan_id)
            logged = self._logged_states(plan_id)
            drops = []
            for sortie in plan.sorties:
                for drop_id in sortie.drop_ids:
                    event = logged.get(drop_id) or {}
                    state = event.get("state", "planned")
                    eta_at = event.get("eta_at") if state in OPEN_STATES else None
                    drops.append({"drop_id": drop_id, "sortie_id": sortie.id,
                                  "vehicle": sortie.vehicle, "state": state,
                                  "eta_in_s": None if eta_at is None
                                  else round(max(0.0, eta_at - time.time()), 1),
                                  "eta_at": eta_at, "reason": event.get("detail"),
                                  "kind": "pickup" if sortie.is_pickup(drop_id)
                                  else "delivery"})
            for row in drops:
                if row["drop_id"] in delivered:
                    row.update(state="delivered", reason=None)
        tokens = self.tokens(lineage)
        for row in drops:
            row["token"] = tokens.get(row["drop_id"])
            found = delivered.get(row["drop_id"])
            row["delivered_at"] = None if found is None else found[0]
        return {"plan_id": lineage, "drops": drops}

    # -- the public page ----------------------------------------------------------------------
    def _parcel(self, token: str) -> Any:
        if not TOKEN_PATTERN.fullmatch(token):
            raise NotFound("no such parcel")
        rows = self.db.rows(sa.select(tables.parcels).where(tables.parcels.c.token == token))
        if not rows:
            raise NotFound("no such parcel")
        return rows[0]

    def _places_of(self, record: PlanRecord) -> dict[str, DropPlace]:
        """Drop id -> place of every served drop of one version (kept: flown versions do
        not change)."""
        cached = self._places.get(record.version_id)
        if cached is not None:
            return cached
        scenario, _dem = self.plans.scenario_of(record)
        where = {d.id: d for d in scenario.drops}
        places = {d: DropPlace(lat_deg=where[d].lat_deg, lon_deg=where[d].lon_deg,
                               depot_id=s.depot_id)
                  for s in self.plans.plan_of(record).sorties for d in s.drop_ids if d in where}
        if record.flown_at is not None:
            self._places[record.version_id] = places
        return places

    def _place(self, parcel: Any) -> DropPlace | None:
        """Where the newest flown version serving the parcel drops it (else the version that
        issued its token)."""
        versions = self.plans.versions(parcel.lineage_id)
        flown = [v for v in versions if v.flown_at is not None and v.state == "done"]
        issued = [v for v in versions if v.version_id == parcel.plan_id]
        for record in [*flown, *issued]:
            try:
                found = self._places_of(record).get(parcel.drop_id)
            except (Conflict, NotFound, ValueError, OSError):
                continue
            if found is not None:
                return found
        return None

    def track(self, token: str) -> dict[str, Any]:
        """The public status of one parcel: state, ETA (Unix seconds, to the minute), delivery
        time, a failure's reason and next step, the drop point and the hub's contact; nothing
        about vehicles or other parcels.

        Raises
        ------
        NotFound
            No parcel has this token (the same answer for any unknown or malformed token).
        """
        parcel = self._parcel(token)
        lineage, drop_id = parcel.lineage_id, parcel.drop_id
        delivered = self._settle(lineage).get(drop_id)
        live = self._live(lineage)
        found = None if live is None else next(
            (d for d in live if d["drop_id"] == drop_id), None)
        if found is not None:
            state, detail, eta_at = str(found["state"]), found.get("reason"), found.get("eta_at")
        else:
            event = self._last_event(lineage, drop_id) or {}
            state, detail = str(event.get("state", "planned")), event.get("detail")
            eta_at = event.get("eta_at")
        if delivered is not None:
            state = "delivered"
        place = self._place(parcel)
        depot = place.depot_id if place is not None else "dispatch"
        contact = hub_contact(depot, self.contacts)
        reason = next_step = None
        if state == "failed":
            reason, next_step = failure_text(detail, contact.name)
        eta_at = _minute(eta_at) if state in OPEN_STATES and eta_at is not None else None
        out: dict[str, Any] = {
            "parcel": drop_id, "state": state, "status": STATE_TEXT.get(state, state),
            "eta_at": eta_at,
            "eta_in_s": None if eta_at is None else max(0.0, eta_at - _minute(time.time())),
            "delivered_at": None if delivered is None else round(delivered[0]),
            "reason": reason, "next_step": next_step,
            "contact": {"name": contact.name, "phone": contact.phone, "email": contact.email},
            "map": None}
        if place is not None:
            _x, _y, px, py = tile_position(place.lat_deg, place.lon_deg)
            out["map"] = {"lat_deg": round(place.lat_deg, 5), "lon_deg": round(place.lon_deg, 5),
                          "x_px": px, "y_px": py, "zoom": MAP_ZOOM}
        return out

    def map_tile(self, token: str) -> tuple[int, int, int]:
        """The (zoom, x, y) of the one map tile of a parcel's page."""
        place = self._place(self._parcel(token))
        if place is None:
            raise NotFound("no map for this parcel")
        x, y, _px, _py = tile_position(place.lat_deg, place.lon_deg)
        return MAP_ZOOM, x, y
