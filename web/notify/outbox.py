"""The ``notifications`` table: every event to tell, per channel, and how its sending went.

A row is ``pending`` (due at ``next_at``), ``sent`` or ``dead`` (a dead letter: the receiver
refused it or it failed ``max_attempts`` times; ``last_error`` says why). Rows are added once
per event id and channel and are never removed.

Several consoles may share the database: a console sends a due row only after claiming it
(:meth:`Outbox.claim`, one conditional update that only one of them wins), which moves the row's
``next_at`` :data:`CLAIM_S` ahead; a console that dies while sending leaves the row to be taken
again after that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from web import db as tables
from web.db import Database
from web.errors import Conflict, NotFound

STATES = ("pending", "sent", "dead")
#: Longest error text kept on a row.
ERROR_MAX = 500
#: Seconds a console holds a claimed row while it sends it (longer than any send takes).
CLAIM_S = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Told:
    """An event already in the outbox for a parcel (whatever its channels' progress)."""

    event_id: str
    kind: str
    payload: dict[str, Any]


class Outbox:
    """The outbox of one console database."""

    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self.db = database
        self.clock = clock

    def add(self, payload: dict[str, Any], recipients: dict[str, str]) -> int:
        """Queue an event for each channel -> recipient not queued already; rows added."""
        n = tables.notifications
        added = 0
        now = self.clock()
        with self.db.transaction() as conn:
            have = {r.channel for r in conn.execute(
                sa.select(n.c.channel).where(n.c.event_id == payload["id"]))}
            for channel, recipient in recipients.items():
                if channel in have:
                    continue
                conn.execute(sa.insert(n).values(
                    event_id=payload["id"], channel=channel, lineage_id=payload["plan_id"],
                    drop_id=payload["parcel"], kind=payload["event"], recipient=recipient,
                    payload=json.dumps(payload, sort_keys=True), state="pending", attempts=0,
                    next_at=now, created_at=now))
                added += 1
        return added

    def told(self, lineage_id: str) -> dict[str, list[Told]]:
        """Drop id -> the events queued for it so far, oldest first (one per event id)."""
        n = tables.notifications
        rows = self.db.rows(sa.select(n.c.event_id, n.c.drop_id, n.c.kind, n.c.payload)
                            .where(n.c.lineage_id == lineage_id).order_by(n.c.id))
        out: dict[str, list[Told]] = {}
        seen: set[str] = set()
        for r in rows:
            if r.event_id in seen:
                continue
            seen.add(r.event_id)
            out.setdefault(r.drop_id, []).append(
                Told(event_id=r.event_id, kind=r.kind, payload=json.loads(r.payload)))
        return out

    def due(self, limit: int = 50) -> list[Any]:
        """Pending rows whose time has come, oldest first."""
        n = tables.notifications
        return self.db.rows(sa.select(n).where(n.c.state == "pending",
                                               n.c.next_at <= self.clock())
                            .order_by(n.c.id).limit(limit))

    def claim(self, row: Any) -> bool:
        """Take due row ``row`` (as :meth:`due` read it) for sending: True for exactly one of
        the consoles that try, while it is still pending with the due time read."""
        n = tables.notifications
        result = self.db.write(sa.update(n).where(
            n.c.id == row.id, n.c.state == "pending", n.c.next_at == row.next_at).values(
            next_at=self.clock() + CLAIM_S))
        return bool(result.rowcount == 1)

    def sent(self, row_id: int) -> None:
        """Record a row handed over."""
        n = tables.notifications
        self.db.write(sa.update(n).where(n.c.id == row_id).values(
            state="sent", attempts=n.c.attempts + 1, sent_at=self.clock(), last_error=None))

    def failed(self, row_id: int, error: str, *, final: bool, max_attempts: int,
               retry_s: float, max_retry_s: float) -> str:
        """Record a failed attempt: the row's new state (``pending`` again, or ``dead``)."""
        n = tables.notifications
        with self.db.transaction() as conn:
            attempts = int(conn.execute(sa.select(n.c.attempts).where(n.c.id == row_id))
                           .scalar_one()) + 1
            state = "dead" if final or attempts >= max_attempts else "pending"
            delay_s = min(max_retry_s, retry_s * 2 ** (attempts - 1))
            conn.execute(sa.update(n).where(n.c.id == row_id).values(
                state=state, attempts=attempts, next_at=self.clock() + delay_s,
                last_error=error[:ERROR_MAX]))
        return state

    def rows(self, *, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest rows (of one state), as the API shows them."""
        n = tables.notifications
        query = sa.select(n).order_by(n.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(n.c.state == state)
        return [{"id": r.id, "event_id": r.event_id, "channel": r.channel,
                 "plan_id": r.lineage_id, "parcel": r.drop_id, "event": r.kind,
                 "recipient": r.recipient, "state": r.state, "attempts": r.attempts,
                 "next_at": r.next_at if r.state == "pending" else None,
                 "last_error": r.last_error, "created_at": r.created_at, "sent_at": r.sent_at}
                for r in self.db.rows(query)]

    def retry(self, row_id: int) -> dict[str, Any]:
        """Queue a dead letter again (its attempts counted afresh).

        Raises
        ------
        NotFound
            No such notification.
        Conflict
            It is not a dead letter.
        """
        n = tables.notifications
        with self.db.transaction() as conn:
            row = conn.execute(sa.select(n).where(n.c.id == row_id)).first()
            if row is None:
                raise NotFound(f"no notification {row_id}")
            if row.state != "dead":
                raise Conflict(f"notification {row_id} is {row.state}, not a dead letter")
            conn.execute(sa.update(n).where(n.c.id == row_id).values(
                state="pending", attempts=0, next_at=self.clock()))
        return {"id": row_id, "event_id": row.event_id, "channel": row.channel,
                "state": "pending"}
