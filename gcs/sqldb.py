"""SQL databases of the stores (the flight log, the console's tables): URLs, engines, Alembic.

A store is SQLite (one file, the default for one machine) or PostgreSQL (shared by many
processes). URLs are SQLAlchemy's: ``sqlite:////abs/path.db``; ``postgresql://user:pw@host/db``
(also ``postgres://`` and ``postgresql+psycopg://``; every PostgreSQL URL uses the psycopg 3
driver). A store's schema is migrated by its own Alembic scripts (one folder of revisions and one
version table per store) when it is opened: :func:`upgrade` brings it to the newest revision under
a lock, so that processes opening the same PostgreSQL database at once migrate it once.

Text longer than its column is refused before it reaches the database, on every backend alike
(PostgreSQL enforces ``VARCHAR(n)``, SQLite does not): :func:`guard_lengths`.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from planner.errors import InputError

log = logging.getLogger(__name__)

#: The backends a store runs on.
BACKENDS = ("sqlite", "postgresql")
#: Seconds a PostgreSQL connection attempt may take.
CONNECT_TIMEOUT_S = 10


def database_url(url: str, *, field: str = "database") -> sa.URL:
    """``url`` parsed, with PostgreSQL's driver set to psycopg 3.

    Raises
    ------
    InputError
        Not a URL, or a backend other than SQLite and PostgreSQL (naming ``field``).

    Examples
    --------
    >>> database_url("postgres://u:pw@db.example:5433/dropline").render_as_string()
    'postgresql+psycopg://u:***@db.example:5433/dropline'
    >>> database_url("sqlite:////srv/dropline/console.db").drivername
    'sqlite'
    """
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise InputError(f"Expected a database URL such as sqlite:////path/file.db or "
                         f"postgresql://user:password@host/name, got {url!r}",
                         field=field) from exc
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in BACKENDS:
        raise InputError(f"Expected a sqlite:// or postgresql:// database URL, got a "
                         f"{backend}:// one", field=field)
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: str | sa.URL) -> str:
    """``url`` as it may be printed: without its password."""
    try:
        parsed = url if isinstance(url, sa.URL) else sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return "(not a URL)"
    return parsed.render_as_string(hide_password=True)


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory SQLite)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database))


def create_engine(url: sa.URL, *, sqlite_pragmas: Sequence[str] = ()) -> sa.Engine:
    """An engine of ``url``: SQLite connections run ``sqlite_pragmas`` (``"journal_mode=WAL"``)
    when they open; PostgreSQL connections time out after :data:`CONNECT_TIMEOUT_S` and are
    checked before use (a restarted server does not fail the next request)."""
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url)

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in sqlite_pragmas:
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        sa.event.listen(engine, "connect", pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True,
                                  connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    guard_lengths(engine)
    return engine


def guard_lengths(engine: sa.Engine) -> None:
    """Refuse inserts and updates of text longer than its column (``String(n)``) on ``engine``
    with an :class:`InputError` naming the column, before the statement is sent."""

    def check(_conn: Any, _cursor: Any, _statement: Any, _parameters: Any, context: Any,
              _executemany: bool) -> None:
        if context is None or not (context.isinsert or context.isupdate):
            return
        table = getattr(context.compiled.statement, "table", None)
        if not isinstance(table, sa.Table):
            return
        bounded = [(c.key, c.type.length) for c in table.columns
                   if isinstance(c.type, sa.String) and c.type.length]
        for params in context.compiled_parameters:
            for key, length in bounded:
                value = params.get(key)
                if isinstance(value, str) and len(value) > length:
                    raise InputError(f"Expected at most {length} characters, got {len(value)}",
                                     field=f"{table.name}.{key}")

    sa.event.listen(engine, "before_cursor_execute", check)


def unreachable(exc: sa.exc.SQLAlchemyError, url: str | sa.URL) -> InputError:
    """The one-line error of a database that cannot be reached or refused the connection."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return InputError(f"cannot use the database {shown(url)}: {first}")


@functools.cache
def _scripts(folder: str) -> ScriptDirectory:
    return ScriptDirectory(folder)


def _config(folder: Path, connection: sa.Connection, version_table: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    return config


#: Alembic's command context lives in module globals: one migration at a time per process.
_ALEMBIC = threading.Lock()


@contextmanager
def migration_lock(engine: sa.Engine) -> Iterator[None]:
    """One migration of a SQLite file at a time, across threads and processes, held around
    the migration's whole transaction: an exclusive ``flock`` of ``<file>.migrate-lock`` beside
    it (SQLite takes its write lock only at the first write, after two migrations would both
    have read that nothing is there yet). PostgreSQL's lock is taken in the transaction
    (:func:`upgrade`)."""
    path = sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None
    if path is None:
        yield
        return
    fd = os.open(f"{path}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def current(connection: sa.Connection, version_table: str) -> str | None:
    """The revision a database is at (None: never migrated)."""
    context = MigrationContext.configure(connection, opts={"version_table": version_table})
    heads = context.get_current_heads()
    return heads[0] if heads else None


def head(folder: Path) -> str:
    """The newest revision of the scripts in ``folder``."""
    found = _scripts(str(folder)).get_current_head()
    assert found is not None, folder
    return found


def upgrade(engine: sa.Engine, folder: Path, *, version_table: str, lock_key: int) -> bool:
    """Bring the database of ``engine`` to the newest revision of the scripts in ``folder``
    (nothing when it is there); whether anything ran.

    Raises
    ------
    InputError
        The database is at a revision these scripts do not know (a newer release migrated it).
    """
    newest = head(folder)
    with _ALEMBIC, migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # held until the transaction ends
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        at = current(conn, version_table)
        if at == newest:
            return False
        try:
            if at is not None:
                _scripts(str(folder)).get_revision(at)
        except CommandError as exc:
            raise InputError(f"the database is at schema revision {at}, which this release "
                             f"does not know (a newer release migrated it): {exc}") from exc
        log.info("migrating %s from %s to %s", shown(engine.url), at or "nothing", newest)
        command.upgrade(_config(folder, conn, version_table), "head")
    return True


def run_env(context: Any) -> None:
    """The body of a store's Alembic ``env.py``: migrate on the connection :func:`upgrade`
    handed over (in its transaction), with the store's version table."""
    conn = context.config.attributes.get("connection")
    if conn is None:
        raise InputError("dropline migrates its databases itself: run `dropline db upgrade "
                         "--database URL`")
    context.configure(connection=conn,
                      version_table=context.config.attributes["version_table"],
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
