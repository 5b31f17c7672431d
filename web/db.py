"""The console's own tables (SQLAlchemy Core) and the database they live in.

Tables: ``schema_version`` (one row), ``users`` (with a ``disabled`` flag), ``sessions`` (the
server side of every login: the hash of the cookie's session id, so that a logout or a password
change revokes it), ``audit_log`` (every vehicle command and account event: who, when, what,
result; user-controlled text bounded to :data:`AUDIT_TEXT_MAX` characters, refused requests
aggregated beyond :data:`REFUSED_PER_MINUTE` a user and minute), ``plans`` (a scenario choice
with its uploads and edits, and the state of its planner job: one row per version of a plan,
see below), ``parcels`` (the unguessable tracking token of each parcel of a flown plan),
``notifications`` (the outbox of recipient notifications, one row per event and channel, see
:mod:`web.notify`) and ``alert_acks``. Flights, alerts and delivery events stay in the flight log of
:mod:`gcs.fleet.logs`.

Plan versions: every row of ``plans`` is one version, with its own folder. ``lineage_id`` is
the id of the plan's first version (the id users know the plan by), ``version`` counts from 1.
A version with a run started (``flown_at`` set) is never changed again: planning or editing the
plan then makes the next version. Runs in the flight log name the ``plan.json`` of the exact
version they flew. A parcel (``parcels``) belongs to the lineage and its drop id, so its token
stays the same across versions; ``delivered_at`` and ``delivered_run_id`` record its first
delivery once, and nothing later clears them.

SQLite in the data folder by default; any SQLAlchemy URL (``DATABASE_URL``) works. The schema is
set up idempotently (``create_all`` plus a version row; older databases gain the new
columns: ``users.disabled`` of version 2, plan versions and parcel lineage and delivery of
version 3, filled in for the rows they have; the notification outbox of version 4); every
write runs in one transaction. A database file that SQLite cannot read stops the start with an
:class:`~planner.errors.InputError` naming the file (nothing is written to it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from planner.errors import InputError

SCHEMA_VERSION = 4
#: Longest user-controlled text kept in an audit row (longer text is cut, marked with "...").
AUDIT_TEXT_MAX = 500
#: Refused-request audit rows kept per user and minute; the rest are counted in one summary row.
REFUSED_PER_MINUTE = 20
#: Audit results that record a refusal (aggregated when they flood).
REFUSED_RESULTS = frozenset({"forbidden", "refused", "denied"})
#: Most audit rows in one page (:meth:`Database.audit_page`) the console hands out.
AUDIT_PAGE_MAX = 500

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
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("language", sa.String(16)))
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("address", sa.String(64), nullable=False))
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Index("ix_audit_user", "username", "id"))
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
    sa.Column("finished_at", sa.Float),
    sa.Column("lineage_id", sa.String(32)),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("flown_at", sa.Float),
    sa.Index("ix_plans_lineage", "lineage_id", "version", unique=True))
parcels = sa.Table(
    "parcels", metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.ForeignKey("plans.id"), nullable=False, index=True),
    sa.Column("drop_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("lineage_id", sa.String(32)),
    sa.Column("delivered_at", sa.Float),
    sa.Column("delivered_run_id", sa.Integer),
    sa.UniqueConstraint("plan_id", "drop_id"),
    sa.Index("ix_parcels_lineage_drop", "lineage_id", "drop_id", unique=True))
#: Columns later schema versions added to tables an older database already has: table ->
#: (column, the SQL of its type and default), in the order they are added.
ADDED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (("disabled", "BOOLEAN NOT NULL DEFAULT FALSE"), ("language", "VARCHAR(16)")),
    "plans": (("lineage_id", "VARCHAR(32)"), ("version", "INTEGER NOT NULL DEFAULT 1"),
              ("flown_at", "FLOAT")),
    "parcels": (("lineage_id", "VARCHAR(32)"), ("delivered_at", "FLOAT"),
                ("delivered_run_id", "INTEGER")),
}
notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(160), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("lineage_id", sa.String(32), nullable=False),
    sa.Column("drop_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
    sa.UniqueConstraint("event_id", "channel"),
    sa.Index("ix_notifications_due", "state", "next_at"),
    sa.Index("ix_notifications_parcel", "lineage_id", "drop_id"))
alert_acks = sa.Table(
    "alert_acks", metadata,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False))


def check_sqlite_file(path: Path) -> None:
    """Refuse an existing SQLite file that SQLite cannot read, without writing to it.

    Raises
    ------
    InputError
        The file is not a database, is truncated or is damaged; the message names the file.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise InputError("Expected a SQLite database file, found a folder", path=path)
    try:
        uri = f"{path.resolve().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"cannot open the database: {exc}", path=path) from exc
    try:
        problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchmany(3)]
    except sqlite3.Error as exc:
        raise InputError(f"not a readable SQLite database ({exc}); restore it from a backup "
                         "or move it away to start with an empty one", path=path) from exc
    finally:
        conn.close()
    if problems != ["ok"]:
        raise InputError(f"the database is damaged ({'; '.join(problems)}); restore it from a "
                         "backup or move it away to start with an empty one", path=path)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def restrict_file(path: Path) -> None:
    """Make ``path`` (and a SQLite file's ``-wal``/``-shm`` beside it) readable by its owner
    only (mode 0600)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.chmod(0o600)


def _add_columns(conn: sa.Connection) -> None:
    """Add the columns of :data:`ADDED_COLUMNS` a table of an older database lacks."""
    inspector = sa.inspect(conn)
    for table, added in ADDED_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, sql in added:
            if name not in have:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {sql}"))


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPage:
    """Audit rows, newest first, and the cursor of the next (older) page (None at the end)."""

    rows: list[dict[str, Any]]
    next_before: int | None


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
    clock
        Wall clock (Unix seconds) of audit rows and their aggregation.

    Raises
    ------
    InputError
        A SQLite file that is not a readable database (named in the message).
    """

    def __init__(self, url: str, clock: Any = time.time) -> None:
        self.url = url
        self.clock = clock
        self.path = sqlite_path(url)
        if self.path is not None:
            check_sqlite_file(self.path)
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._lock = threading.Lock()
        self._refused_lock = threading.Lock()
        self._refused: dict[str, tuple[float, int, int]] = {}
        try:
            self.setup()
        except sa.exc.DatabaseError as exc:
            self.engine.dispose()
            raise InputError(f"cannot set the database up: {exc.orig}",
                             path=self.path or url.split("@")[-1]) from exc
        if self.path is not None:
            restrict_file(self.path)

    def setup(self) -> None:
        """Create missing tables and record the schema version (safe to run again)."""
        with self.engine.begin() as conn:
            metadata.create_all(conn)
            _add_columns(conn)
            # rows of older databases: each plan its own first version, each parcel its plan's
            conn.execute(sa.update(plans).where(plans.c.lineage_id.is_(None))
                         .values(lineage_id=plans.c.id))
            conn.execute(sa.update(parcels).where(parcels.c.lineage_id.is_(None))
                         .values(lineage_id=sa.select(plans.c.lineage_id)
                                 .where(plans.c.id == parcels.c.plan_id).scalar_subquery()))
            for table in (audit_log, plans, parcels, notifications):
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            row = conn.execute(sa.select(schema_version.c.version)).first()
            if row is None:
                conn.execute(sa.insert(schema_version).values(id=1, version=SCHEMA_VERSION))
            elif row.version < SCHEMA_VERSION:
                conn.execute(sa.update(schema_version).values(version=SCHEMA_VERSION))

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
        """Record a vehicle command (or its refusal) or an account event.

        Text is cut to the column sizes (``detail`` to :data:`AUDIT_TEXT_MAX` characters).
        Refusals (``result`` in :data:`REFUSED_RESULTS`) beyond :data:`REFUSED_PER_MINUTE` a
        user and minute are not recorded one by one: the next refusal after the minute records
        how many were left out, so that nobody can push other rows out of view by flooding.
        """
        now = self.clock()
        if result in REFUSED_RESULTS:
            with self._refused_lock:
                start, kept, dropped = self._refused.get(username, (now, 0, 0))
                if now - start >= 60.0:
                    if dropped:
                        detail = f"{dropped} more refused requests not recorded one by one; " \
                                 f"last: {detail or ''}"
                    start, kept, dropped = now, 0, 0
                if kept >= REFUSED_PER_MINUTE:
                    self._refused[username] = (start, kept, dropped + 1)
                    return
                self._refused[username] = (start, kept + 1, dropped)
        self.write(sa.insert(audit_log).values(
            at=now, username=_bounded(username, 64), action=_bounded(action, 32),
            target=_bounded(target, 128), result=_bounded(result, 16),
            detail=None if detail is None else _bounded(detail, AUDIT_TEXT_MAX)))

    def audit_page(self, *, before: int | None = None, limit: int = 100,
                   username: str | None = None, action: str | None = None) -> AuditPage:
        """Audit rows newest first, older than row id ``before``, at most ``limit`` of them,
        optionally of one user and actions starting with ``action``."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(audit_log.c.id < before)
        if username:
            query = query.where(audit_log.c.username == username)
        if action:
            query = query.where(audit_log.c.action.startswith(action, autoescape=True))
        rows = [dict(r._mapping) for r in self.rows(query)]
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage(rows=rows, next_before=rows[-1]["id"] if more and rows else None)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()
