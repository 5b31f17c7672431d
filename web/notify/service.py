"""The console's notifier: parcels' changes become events in the outbox, then are sent.

:meth:`NotifyService.tick` does one round (the console's thread calls it every
``interval_s``): for every plan with parcels issued in the last :data:`ACTIVE_S`, read each
drop's state and ETA, decide the next event of each parcel with a recipient from the events
already in the outbox (:func:`next_event`), queue it, then send what is due.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from web import db as tables
from web.db import Database
from web.deliveries import DeliveryService, failure_text, hub_contact
from web.errors import Conflict, NotFound
from web.notify.channels import Channel, Email, NotifyError, Webhook
from web.notify.config import MAX_RETRY_S, NotifyConfig
from web.notify.messages import Notice, payload_of
from web.notify.outbox import Outbox, Told
from web.planning import PlanService

log = logging.getLogger(__name__)

#: Plans whose parcels were issued longer ago than this are not watched any more (seconds).
ACTIVE_S = 3 * 24 * 3600.0
#: Drop states in which the parcel is flying to its recipient.
FLYING = frozenset({"en_route", "released"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """Whom a parcel goes to, and the hub it leaves from."""

    phone: str | None
    email: str | None
    depot_id: str


def next_event(state: str, eta_at: float | None, told: Sequence[Told], margin_s: float
               ) -> tuple[str, str, float | None] | None:
    """The event a parcel's recipient is to be told next, if any.

    Parameters
    ----------
    state
        The parcel's delivery state now.
    eta_at
        Its ETA now (Unix seconds), if known.
    told
        The events queued for it so far, oldest first.
    margin_s
        How far the ETA must move from the last one told to be told again.

    Returns
    -------
    tuple or None
        (kind, key, previous ETA): ``key`` is unique among the parcel's events (``out/1``
        is the second time it is on its way, after a failure).

    Examples
    --------
    >>> next_event("en_route", 1000.0, [], 600.0)
    ('out_for_delivery', 'out/0', None)
    >>> next_event("queued", None, [], 600.0) is None
    True
    """
    kinds = [t.kind for t in told]
    if "delivered" in kinds:
        return None
    if state == "delivered":
        return "delivered", "delivered", None
    failures = kinds.count("failed")
    last = kinds[-1] if kinds else None
    if state == "failed":
        return ("failed", f"failed/{failures}", None) if last in (None, "out_for_delivery",
                                                                   "eta_changed") else None
    if state not in FLYING:
        return None
    if last in (None, "failed"):
        return "out_for_delivery", f"out/{failures}", None
    before = told[-1].payload.get("eta_at")
    if eta_at is None or before is None:
        return None
    if abs(eta_at - float(before)) > margin_s:
        since_out = kinds[max(i for i, k in enumerate(kinds) if k == "out_for_delivery"):]
        return "eta_changed", f"eta/{failures}/{since_out.count('eta_changed')}", float(before)
    return None


class NotifyService:
    """Watches parcels and tells their recipients, through the configured channels.

    Parameters
    ----------
    config
        The settings.
    database
        The console's database (parcels and the outbox).
    plans, deliveries
        Plan versions (recipients are read from their scenarios) and drop states.
    clock
        Unix seconds.
    channels
        The channels to use (default: those of ``config``).
    """

    def __init__(self, config: NotifyConfig, database: Database, plans: PlanService,
                 deliveries: DeliveryService, *, clock: Callable[[], float] = time.time,
                 channels: Sequence[Channel] | None = None) -> None:
        self.config = config
        self.db = database
        self.plans = plans
        self.deliveries = deliveries
        self.clock = clock
        self.outbox = Outbox(database, clock)
        if channels is None:
            made: list[Channel] = []
            if config.webhook is not None:
                made.append(Webhook(config.webhook, clock))
            if config.email is not None:
                made.append(Email(config.email, clock))
            channels = made
        self.channels: dict[str, Channel] = {c.name: c for c in channels}
        self._recipients: dict[str, dict[str, Recipient]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop -----------------------------------------------------------------------------
    def start(self) -> NotifyService:
        """Run :meth:`tick` every ``interval_s`` on a thread until :meth:`close`."""
        self._thread = threading.Thread(target=self._run, daemon=True, name="notify")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            try:
                self.tick()
            except Exception:  # a bad round is logged; the next one tries again
                log.exception("notification round failed")

    def close(self) -> None:
        """Stop the loop (what is queued stays queued for the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def tick(self) -> tuple[int, int]:
        """One round: events queued, notifications handed over."""
        with self._lock:
            return self.queue_events(), self.send_due()

    # -- events ------------------------------------------------------------------------------
    def _active_plans(self) -> list[str]:
        p = tables.parcels
        since = self.clock() - ACTIVE_S
        return [str(r.lineage_id) for r in self.db.rows(
            sa.select(p.c.lineage_id).where(p.c.created_at >= since).distinct())]

    def recipients(self, lineage_id: str) -> dict[str, Recipient]:
        """Drop id -> recipient of the parcels of a plan, from its flown versions' scenarios
        (the newest version naming a drop wins); pickups are not deliveries to anyone."""
        out: dict[str, Recipient] = {}
        flown = [v for v in self.plans.versions(lineage_id)
                 if v.flown_at is not None and v.state == "done"]
        for record in reversed(flown):
            cached = self._recipients.get(record.version_id)
            if cached is None:
                scenario, _dem = self.plans.scenario_of(record)
                plan = self.plans.plan_of(record)
                depot = {d: s.depot_id for s in plan.sorties for d in s.drop_ids}
                cached = {d.id: Recipient(phone=d.phone, email=d.email, depot_id=depot[d.id])
                          for d in scenario.drops
                          if d.id in depot and (d.phone is not None or d.email is not None)
                          and getattr(d, "kind", "delivery") != "pickup"}
                self._recipients[record.version_id] = cached
            out.update(cached)
        return out

    def queue_events(self) -> int:
        """Queue the next event of every watched parcel that has one; rows added."""
        added = 0
        for lineage in self._active_plans():
            try:
                who = self.recipients(lineage)
            except (Conflict, NotFound, OSError, ValueError) as exc:
                log.warning("plan %s: recipients unknown: %s", lineage, exc)
                continue
            if not who:
                continue
            told = self.outbox.told(lineage)
            for row in self.deliveries.drops(lineage)["drops"]:
                recipient = who.get(row["drop_id"])
                if recipient is not None:
                    added += self._queue(lineage, row, recipient, told.get(row["drop_id"], []))
        return added

    def _queue(self, lineage: str, row: Mapping[str, Any], who: Recipient,
               told: list[Told]) -> int:
        state = str(row["state"])
        eta_at = row.get("eta_at")
        found = next_event(state, eta_at, told, self.config.eta_margin_s)
        if found is None:
            return 0
        kind, key, before = found
        hub = hub_contact(who.depot_id, self.deliveries.contacts).name
        reason = next_step = None
        if kind == "failed":
            reason, next_step = failure_text(row.get("reason"), hub)
        token = row.get("token")
        url = (f"{self.config.public_url}/track/{token}"
               if self.config.public_url and token else None)
        notice = Notice(event_id=f"{lineage}/{row['drop_id']}/{key}", kind=kind,
                        lineage_id=lineage, parcel=str(row["drop_id"]), phone=who.phone,
                        email=who.email, hub=hub,
                        eta_at=None if eta_at is None or kind in ("delivered", "failed")
                        else round(float(eta_at), 1),
                        previous_eta_at=before, delivered_at=row.get("delivered_at"),
                        reason=reason, next_step=next_step, tracking_url=url, at=self.clock())
        payload = payload_of(notice, self.config.timezone)
        targets = {name: r for name, c in self.channels.items()
                   if (r := c.recipient(payload)) is not None}
        if not targets:
            return 0
        return self.outbox.add(payload, targets)

    # -- sending -----------------------------------------------------------------------------
    def send_due(self) -> int:
        """Hand over every notification that is due; how many were taken."""
        done = 0
        for row in self.outbox.due():
            channel = self.channels.get(row.channel)
            if channel is None:
                continue  # a channel no longer configured: kept pending for when it is
            if not self.outbox.claim(row):
                continue  # another console sends it
            try:
                channel.send(json.loads(row.payload))
            except NotifyError as exc:
                state = self.outbox.failed(row.id, str(exc), final=exc.final,
                                           max_attempts=self.config.max_attempts,
                                           retry_s=self.config.retry_s,
                                           max_retry_s=MAX_RETRY_S)
                log.warning("notification %s by %s: %s (%s)", row.event_id, row.channel,
                            exc, state)
                if state == "dead":
                    self.db.audit(username="system", action="notification dead",
                                  target=f"{row.event_id} ({row.channel})", result="failed",
                                  detail=str(exc))
                continue
            self.outbox.sent(row.id)
            done += 1
        return done

