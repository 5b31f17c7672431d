"""Several processes writing one PostgreSQL database at once: two engines (two connection
pools, as two console or worker processes have) racing on writes that must stay unique."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcs.fleet.logs import FlightLog
from web import db as tables
from web.db import REFUSED_PER_MINUTE, Database
from web.notify.outbox import Outbox

#: Rounds of each race (each starts both writers at one barrier).
ROUNDS = 15


def _race(writers: list[Callable[[int], Any]], rounds: int = ROUNDS) -> list[Any]:
    """Run every writer once per round, all released together; their results, and re-raise
    the first error any of them hit."""
    barrier = threading.Barrier(len(writers))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(write: Callable[[int], Any]) -> None:
        for n in range(rounds):
            barrier.wait(timeout=30)
            try:
                results.append(write(n))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def test_two_consoles_queue_each_notification_once(postgres_url: str) -> None:
    """Two consoles adding the same parcel event at the same moment leave one outbox row per
    channel, and neither fails."""
    first, second = Database(postgres_url), Database(postgres_url)
    try:
        recipients = {"email": "ann@example.org", "sms": "+15550100"}

        def add(db: Database) -> Callable[[int], int]:
            outbox = Outbox(db, time.time)
            return lambda n: outbox.add({"id": f"ev{n}", "plan_id": "p1", "parcel": "P014",
                                         "event": "delivered"}, recipients)

        added = _race([add(first), add(second)])
        assert sum(added) == 2 * ROUNDS
        rows = first.rows(sa.select(tables.notifications.c.event_id,
                                    tables.notifications.c.channel))
        assert sorted(rows) == sorted((f"ev{n}", c) for n in range(ROUNDS) for c in recipients)
    finally:
        first.close()
        second.close()


def test_refusals_are_counted_across_consoles(postgres_url: str) -> None:
    """Refusals of one user flooding two consoles at once keep REFUSED_PER_MINUTE rows in
    all, not per console."""
    first, second = Database(postgres_url), Database(postgres_url)
    try:
        def refuse(db: Database) -> Callable[[int], None]:
            return lambda n: db.audit(username="crew", action="rtl", target=f"vehicle {n}",
                                      result="forbidden")

        _race([refuse(first), refuse(second)], rounds=REFUSED_PER_MINUTE)
        rows = first.rows(sa.select(tables.audit_log).where(
            tables.audit_log.c.username == "crew"))
        assert len(rows) == REFUSED_PER_MINUTE
        [window] = first.rows(sa.select(tables.audit_refusals))
        assert (window.kept, window.dropped) == (REFUSED_PER_MINUTE, REFUSED_PER_MINUTE)
    finally:
        first.close()
        second.close()


def test_two_workers_record_a_vehicle_once(postgres_url: str, tmp_path: Path) -> None:
    """Two flight logs recording the same plan vehicle of a run at once leave one row, with
    the system id of the last write."""
    first = FlightLog(postgres_url, tlog_dir=tmp_path)
    second = FlightLog(postgres_url, tlog_dir=tmp_path)
    try:
        run = first.start_run(plan_key="k", plan_name="p")

        def record(log: FlightLog, sysid: int) -> Callable[[int], None]:
            return lambda n: log.record_vehicle(run.id, name=f"v{n}", sysid=sysid,
                                                link_url="udp:x")

        _race([record(first, 1), record(second, 2)])
        found = second.vehicles(run.id)
        assert sorted(found) == sorted(f"v{n}" for n in range(ROUNDS))
        assert set(found.values()) <= {1, 2}
    finally:
        first.close()
        second.close()
