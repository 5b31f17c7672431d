"""The two stores of a dropline database (the console's tables, the flight log), opening
databases by URL or SQLite path, and copying every row from SQLite databases into an empty one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from gcs import sqldb
from gcs.fleet import logs
from planner.errors import InputError
from web import db as console

#: Rows read and written at a time by :func:`copy_rows`.
BATCH_ROWS = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class Store:
    """One schema with its own migrations: its tables and how to bring them to the head."""

    name: str
    metadata: sa.MetaData
    upgrade: Callable[[sa.Engine], bool]
    version_table: str
    migrations: Path
    #: Tables not copied: rows the migrations make themselves.
    own_rows: tuple[str, ...] = ()

    def present(self, engine: sa.Engine) -> bool:
        """Whether the database holds this store (its version table or any of its tables)."""
        have = set(sa.inspect(engine).get_table_names())
        return self.version_table in have or bool(have & set(self.metadata.tables))

    def current(self, engine: sa.Engine) -> str | None:
        """The revision the database is at (None: not migrated)."""
        with engine.connect() as conn:
            return sqldb.current(conn, self.version_table)

    def head(self) -> str:
        """The newest revision of this release."""
        return sqldb.head(self.migrations)


STORES = (
    Store(name="console", metadata=console.metadata, upgrade=console.upgrade,
          version_table=console.VERSION_TABLE, migrations=console.MIGRATIONS,
          own_rows=("schema_version",)),
    Store(name="flight log", metadata=logs.metadata, upgrade=logs.upgrade,
          version_table=logs.VERSION_TABLE, migrations=logs.MIGRATIONS),
)


@contextmanager
def opened(database: str, *, field: str, must_exist: bool = True) -> Iterator[sa.Engine]:
    """An engine of ``database`` (a URL, or a SQLite file path), checked to answer.

    Raises
    ------
    InputError
        A bad URL, a missing or unreadable SQLite file, a server that cannot be reached or
        refuses the login (one line, without the password).
    """
    url = sqldb.database_url(database if logs.is_url(database) else f"sqlite:///{database}",
                             field=field)
    path = sqldb.sqlite_file(url)
    if path is not None:
        if must_exist and not path.is_file():
            raise InputError("no such SQLite database", path=path, field=field)
        console.check_sqlite_file(path)
    engine = sqldb.create_engine(url, sqlite_pragmas=("busy_timeout=10000",))
    try:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise sqldb.unreachable(exc, url) from None
        yield engine
    finally:
        engine.dispose()


def upgrade_stores(engine: sa.Engine, stores: Sequence[Store]) -> list[tuple[Store, bool]]:
    """Migrate each store of ``stores`` in the database; (store, whether anything ran)."""
    try:
        return [(store, store.upgrade(engine)) for store in stores]
    except sa.exc.SQLAlchemyError as exc:
        raise sqldb.unreachable(exc, engine.url) from None


def _copied_tables(store: Store) -> list[sa.Table]:
    return [t for t in store.metadata.sorted_tables if t.name not in store.own_rows]


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def refuse_non_empty(engine: sa.Engine, stores: Sequence[Store], *, field: str) -> None:
    """Refuse a target that holds rows of any table the copy writes.

    Raises
    ------
    InputError
        The first table with rows, and how many.
    """
    with engine.connect() as conn:
        have = set(sa.inspect(conn).get_table_names())
        for store in stores:
            for table in _copied_tables(store):
                if table.name in have and (n := _count(conn, table)):
                    raise InputError(f"the target database is not empty: {table.name} has {n} "
                                     "rows; copy into an empty database", field=field)


def _reset_sequence(conn: sa.Connection, table: sa.Table) -> None:
    """Set PostgreSQL's sequence of ``table``'s integer key past its largest copied id."""
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or not isinstance(keys[0].type, sa.Integer) \
            or keys[0].autoincrement is False:
        return
    key = keys[0].name
    conn.execute(sa.text(
        f"SELECT setval(pg_get_serial_sequence(:table, :key), "
        f"COALESCE((SELECT MAX({key}) FROM {table.name}), 1), "
        f"(SELECT MAX({key}) FROM {table.name}) IS NOT NULL)"),
        {"table": table.name, "key": key})


def copy_rows(source: sa.Engine, dst: sa.Connection, store: Store) -> dict[str, int]:
    """Copy every row of ``store``'s tables from ``source`` to the target connection ``dst``
    (both at the head revision), ids kept; table -> rows copied. PostgreSQL's sequences
    continue after the largest copied id."""
    counts: dict[str, int] = {}
    have = set(sa.inspect(source).get_table_names())
    with source.connect() as src:
        for table in _copied_tables(store):
            counts[table.name] = 0
            if table.name not in have:
                continue
            keys = list(table.primary_key.columns)
            result = src.execution_options(yield_per=BATCH_ROWS).execute(
                sa.select(table).order_by(*keys))
            for batch in result.mappings().partitions(BATCH_ROWS):
                dst.execute(sa.insert(table), [dict(r) for r in batch])
                counts[table.name] += len(batch)
            if dst.dialect.name == "postgresql":
                _reset_sequence(dst, table)
    return counts
