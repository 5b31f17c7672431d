"""The console's own tables (SQLAlchemy Core) and the database they live in.

Tables: ``schema_version`` (one row), ``users`` (with a ``disabled`` flag), ``sessions`` (the
server side of every login: the hash of the cookie's session id, so that a logout or a password
change revokes it), ``audit_log`` (every vehicle command and account event: who, when, what,
result; user-controlled text bounded to :data:`AUDIT_TEXT_MAX` characters, refused requests
aggregated beyond :data:`REFUSED_PER_MINUTE` a user and minute, counted in ``audit_refusals``),
``plans`` (a scenario choice with its uploads and edits, and the state of its planner job: one
row per version of a plan, see below), ``parcels`` (the unguessable tracking token of each
parcel of a flown plan), ``notifications`` (the outbox of recipient notifications, one row per
event and channel, see :mod:`web.notify`) and ``alert_acks``. Flights, alerts and delivery
events stay in the flight log of :mod:`gcs.fleet.logs`.

Plan versions: every row of ``plans`` is one version, with its own folder. ``lineage_id`` is
the id of the plan's first version (the id users know the plan by), ``version`` counts from 1.
A version with a run started (``flown_at`` set) is never changed again: planning or editing the
plan then makes the next version. Runs in the flight log name the ``plan.json`` of the exact
version they flew. A parcel (``parcels``) belongs to the lineage and its drop id, so its token
stays the same across versions; ``delivered_at`` and ``delivered_run_id`` record its first
delivery once, and nothing later clears them.

The database: SQLite in the data folder by default; PostgreSQL by ``DATABASE_URL``
(``postgresql://user:password@host/name``, see :mod:`gcs.sqldb`), which several console
processes may share. The schema is migrated by the Alembic revisions of :mod:`web.migrations`
(version table :data:`VERSION_TABLE`) when a :class:`Database` opens it, or by ``dropline db
upgrade``: the first revision takes over any database made before migrations (schema versions
1 to 4 of the ``schema_version`` row: ``users.disabled`` of version 2, plan versions and parcel
lineage and delivery of version 3, the notification outbox of version 4) in place, its rows
kept. A database file that SQLite cannot read stops the start with an
:class:`~planner.errors.InputError` naming the file (nothing is written to it); a bad URL, a
server that cannot be reached or a refused login does too, in one line without the password.

Writes: every write runs in one transaction. On PostgreSQL each write transaction first takes
one advisory lock of the database (:data:`WRITE_LOCK`), so the console's writes queue one after
the other across processes as they do in SQLite: a check-then-insert (a parcel's token, a
notification's outbox row, an alert's acknowledgement, a refused request's count) sees every
row another process committed before it. Text longer than its column is refused before it is
sent, on SQLite as on PostgreSQL (:func:`gcs.sqldb.guard_lengths`).
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

from gcs import sqldb
from planner.errors import InputError
from web import migrations

#: The schema version the ``schema_version`` row records at the newest revision.
SCHEMA_VERSION = 5
#: The Alembic version table of the console's migrations.
VERSION_TABLE = "console_version"
#: The folder of the console's Alembic scripts.
MIGRATIONS = Path(migrations.__file__).parent
#: PostgreSQL advisory lock held while the console's tables are migrated.
MIGRATION_LOCK = 0x64726F70_636F6E  # "dropcon"
#: PostgreSQL advisory lock every console write transaction holds (see the module's text).
WRITE_LOCK = 0x64726F70_777274  # "dropwrt"
#: SQLite settings of every connection.
SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000")
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
audit_refusals = sa.Table(
    "audit_refusals", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("kept", sa.Integer, nullable=False),
    sa.Column("dropped", sa.Integer, nullable=False))


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
    """The file of a SQLite URL (None for other databases and in-memory SQLite).

    Raises
    ------
    InputError
        Not a SQLite or PostgreSQL URL.
    """
    return sqldb.sqlite_file(sqldb.database_url(url, field="DATABASE_URL"))


def restrict_file(path: Path) -> None:
    """Make ``path`` (and a SQLite file's ``-wal``/``-shm`` beside it) readable by its owner
    only (mode 0600)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.chmod(0o600)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPage:
    """Audit rows, newest first, and the cursor of the next (older) page (None at the end)."""

    rows: list[dict[str, Any]]
    next_before: int | None


def upgrade(engine: sa.Engine) -> bool:
    """Migrate the console's tables of ``engine`` to the newest revision; whether anything
    ran."""
    return sqldb.upgrade(engine, MIGRATIONS, version_table=VERSION_TABLE,
                         lock_key=MIGRATION_LOCK)


class Database:
    """The console database: an engine, the schema set up once, transactions and reads.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:////abs/path/console.db``, ``postgresql://...``;
        ``postgres://`` too), migrated to the newest revision.
    clock
        Wall clock (Unix seconds) of audit rows and their aggregation.

    Raises
    ------
    InputError
        A SQLite file that is not a readable database (named in the message), a bad URL, or
        a database that cannot be reached or migrated (one line, without the password).
    """

    def __init__(self, url: str, clock: Any = time.time) -> None:
        self.url = url
        self.clock = clock
        parsed = sqldb.database_url(url, field="DATABASE_URL")
        self.path = sqldb.sqlite_file(parsed)
        if self.path is not None:
            check_sqlite_file(self.path)
        self.engine = sqldb.create_engine(parsed, sqlite_pragmas=SQLITE_PRAGMAS)
        self._postgres = self.engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        try:
            self.setup()
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            if self.path is not None:
                raise InputError(f"cannot set the database up: {getattr(exc, 'orig', exc)}",
                                 path=self.path) from exc
            raise sqldb.unreachable(exc, parsed) from exc
        except BaseException:
            self.engine.dispose()
            raise
        if self.path is not None:
            restrict_file(self.path)

    def setup(self) -> None:
        """Migrate the schema to the newest revision (nothing when it is there)."""
        upgrade(self.engine)

    @property
    def version(self) -> int:
        """The schema version recorded in the database."""
        return int(self.rows(sa.select(schema_version.c.version))[0].version)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection whose statements commit together (or roll back on error)."""
        with self._lock, self.engine.begin() as conn:
            if self._postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
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
        The user's window is kept in ``audit_refusals``, so consoles sharing the database
        count together.
        """
        now = self.clock()
        username = _bounded(username, 64)
        with self.transaction() as conn:
            if result in REFUSED_RESULTS:
                record, detail = self._count_refusal(conn, username, now, detail)
                if not record:
                    return
            conn.execute(sa.insert(audit_log).values(
                at=now, username=username, action=_bounded(action, 32),
                target=_bounded(target, 128), result=_bounded(result, 16),
                detail=None if detail is None else _bounded(detail, AUDIT_TEXT_MAX)))

    @staticmethod
    def _count_refusal(conn: sa.Connection, username: str, now: float,
                       detail: str | None) -> tuple[bool, str | None]:
        """Count one refusal of ``username`` in its window: whether to record it, and the
        detail to record it with."""
        r = audit_refusals.c
        row = conn.execute(sa.select(audit_refusals).where(r.username == username)).first()
        start, kept, dropped = (now, 0, 0) if row is None else \
            (float(row.window_start), int(row.kept), int(row.dropped))
        if now - start >= 60.0:
            if dropped:
                detail = f"{dropped} more refused requests not recorded one by one; " \
                         f"last: {detail or ''}"
            start, kept, dropped = now, 0, 0
        record = kept < REFUSED_PER_MINUTE
        values = {"window_start": start, "kept": kept + record, "dropped": dropped + (not record)}
        if row is None:
            conn.execute(sa.insert(audit_refusals).values(username=username, **values))
        else:
            conn.execute(sa.update(audit_refusals).where(r.username == username).values(**values))
        return record, detail

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
            query = query.where(audit_log.c.action.istartswith(action, autoescape=True))
        rows = [dict(r._mapping) for r in self.rows(query)]
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage(rows=rows, next_before=rows[-1]["id"] if more and rows else None)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()
