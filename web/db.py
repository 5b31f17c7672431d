"""The console's own tables (SQLAlchemy Core) and the database they live in.

Tables: ``schema_version`` (one row), ``users``, ``audit_log`` (every vehicle command: who,
when, what, result), ``plans`` (a scenario choice with its uploads and edits, and the state of
its planner job), ``parcels`` (the unguessable tracking token of each drop of a flown plan) and
``alert_acks``. Flights, alerts and delivery events stay in the flight log of :mod:`gcs.logs`.

SQLite in the data folder by default; any SQLAlchemy URL (``DATABASE_URL``) works. The schema is
set up idempotently (``create_all`` plus a version row); every write runs in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

SCHEMA_VERSION = 1

metadata = sa.MetaData()
schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False))
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False))
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text))
plans = sa.Table(
    "plans", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("folder", sa.String, nullable=False),
    sa.Column("edits", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("out_dir", sa.String),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float))
parcels = sa.Table(
    "parcels", metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.ForeignKey("plans.id"), nullable=False, index=True),
    sa.Column("drop_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("plan_id", "drop_id"))
alert_acks = sa.Table(
    "alert_acks", metadata,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Database:
    """The console database: an engine, the schema set up once, transactions and reads.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:////abs/path/console.db``, ``postgresql://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._lock = threading.Lock()
        self.setup()

    def setup(self) -> None:
        """Create missing tables and record the schema version (safe to run again)."""
        with self.engine.begin() as conn:
            metadata.create_all(conn)
            row = conn.execute(sa.select(schema_version.c.version)).first()
            if row is None:
                conn.execute(sa.insert(schema_version).values(id=1, version=SCHEMA_VERSION))

    @property
    def version(self) -> int:
        """The schema version recorded in the database."""
        return int(self.rows(sa.select(schema_version.c.version))[0].version)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection whose statements commit together (or roll back on error)."""
        with self._lock, self.engine.begin() as conn:
            yield conn

    def write(self, stmt: Any) -> Any:
        """Run one statement in its own transaction."""
        with self.transaction() as conn:
            return conn.execute(stmt)

    def rows(self, stmt: Any) -> list[Any]:
        """Every row a query returns."""
        with self.engine.connect() as conn:
            return list(conn.execute(stmt))

    def audit(self, *, username: str, action: str, target: str, result: str,
              detail: str | None = None) -> None:
        """Record a command sent to a vehicle (or refused before sending)."""
        self.write(sa.insert(audit_log).values(at=time.time(), username=username,
                                               action=action, target=target, result=result,
                                               detail=detail))

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()
