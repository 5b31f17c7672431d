"""``dropline db``: the schema of a dropline database, and moving SQLite data to PostgreSQL.

``dropline db upgrade --database URL`` migrates the console's tables and the flight log (each
its own Alembic history and version table) to this release's newest revision; the console and
``dropline fly`` do the same when they open a database. ``dropline db current --database URL``
prints the revision of each. ``dropline db copy --from URL [--from URL ...] --to URL`` copies
every row of both stores from SQLite databases (the console's ``console.db`` and
``flights.db``, a ``dropline fly --db`` file) into an empty database, ids kept and PostgreSQL's
sequences set after them: how a one-hub setup moves to a shared PostgreSQL. A URL may also be a
SQLite file's path.

Exit codes (:mod:`dropline.commands.exit_codes`): 0 done; 2 a bad URL, a missing file, a server
that cannot be reached, a refused login, a non-empty copy target (one line, no traceback).
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import Any

from dropline.commands._db_stores import (
    STORES,
    Store,
    copy_rows,
    opened,
    refuse_non_empty,
    upgrade_stores,
)
from dropline.commands.exit_codes import ExitCode
from gcs.fleet.logs import is_url
from gcs.sqldb import shown
from planner.errors import InputError

#: ``--store`` choices: one store by name, or every store of the database.
STORE_CHOICES = ("all", "console", "flights")


def register(sub: Any) -> None:
    """Add ``db`` (``upgrade``, ``current``, ``copy``) to the ``dropline`` subparsers ``sub``."""
    db = sub.add_parser(
        "db", help="migrate a database, show its revision, copy SQLite data into PostgreSQL",
        description="The console's tables and the flight log in a SQLite file or a PostgreSQL "
                    "database (postgresql://user:password@host/name). Exits 2 on a bad URL, "
                    "an unreachable server or a refused login.")
    commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = commands.add_parser(
        "upgrade", help="migrate the database to this release's schema",
        description="Bring the console's tables and the flight log to this release's newest "
                    "revision (a database made before migrations is taken over, its rows "
                    "kept; nothing happens when it is there already).")
    _database(upgrade)
    upgrade.set_defaults(func=run_upgrade)
    current = commands.add_parser("current", help="print the schema revision of each store")
    _database(current)
    current.set_defaults(func=run_current)
    copy = commands.add_parser(
        "copy", help="copy every row from SQLite databases into an empty database",
        description="Copy the console's tables and the flight log, ids kept, from SQLite "
                    "databases (migrated to this release first) into an empty database "
                    "(migrated too); PostgreSQL's id sequences continue after the copied ids. "
                    "A target holding rows is refused.")
    copy.add_argument("--from", dest="sources", action="append", required=True,
                      metavar="URL", help="a source database (URL or SQLite file); give it "
                                          "once per file, e.g. console.db and flights.db")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="the empty target database")
    copy.set_defaults(func=run_copy)


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", required=True, metavar="URL",
                        help="postgresql://user:password@host/name, sqlite:////path/file.db or "
                             "a SQLite file's path")
    parser.add_argument("--store", choices=STORE_CHOICES, default="all",
                        help="one store only: the console's tables or the flight log (default: "
                             "those the database holds, both in an empty one)")


def _chosen(choice: str) -> tuple[Store, ...]:
    return STORES if choice == "all" else (STORES[0] if choice == "console" else STORES[1],)


def run_upgrade(args: argparse.Namespace) -> int:
    """``dropline db upgrade``."""
    with opened(args.database, field="--database", must_exist=False) as engine:
        stores = _chosen(args.store)
        if args.store == "all":
            stores = tuple(s for s in STORES if s.present(engine)) or STORES
        for store, ran in upgrade_stores(engine, stores):
            state = "migrated to" if ran else "already at"
            print(f"{store.name}: {state} {store.current(engine)}")
    return int(ExitCode.OK)


def run_current(args: argparse.Namespace) -> int:
    """``dropline db current``."""
    with opened(args.database, field="--database") as engine:
        for store in _chosen(args.store):
            at, head = store.current(engine), store.head()
            if at == head:
                print(f"{store.name}: {at} (head)")
            elif at is None:
                shown = "not migrated" if store.present(engine) else "none"
                print(f"{store.name}: {shown} (head {head})")
            else:
                print(f"{store.name}: {at} (head {head})")
    return int(ExitCode.OK)


def run_copy(args: argparse.Namespace) -> int:
    """``dropline db copy``."""
    origin: dict[str, str] = {}
    with ExitStack() as stack:
        target = stack.enter_context(opened(args.target, field="--to", must_exist=False))
        plan = []
        for source_url in args.sources:
            named = shown(source_url) if is_url(source_url) else source_url
            source = stack.enter_context(opened(source_url, field="--from"))
            present = [s for s in STORES if s.present(source)]
            if not present:
                raise InputError("holds neither the console's tables nor a flight log",
                                 path=named, field="--from")
            for store in present:
                if store.name in origin:
                    raise InputError(f"the {store.name} is in {origin[store.name]} already; "
                                     "give each store once", path=named, field="--from")
                origin[store.name] = named
            plan.append((source, present))
        upgrade_stores(target, STORES)
        refuse_non_empty(target, STORES, field="--to")
        for source, present in plan:
            upgrade_stores(source, present)
        with target.begin() as dst:
            for source, present in plan:
                for store in present:
                    counts = copy_rows(source, dst, store)
                    rows = ", ".join(f"{n} {table}" for table, n in counts.items())
                    print(f"{store.name}: copied {rows}")
    return int(ExitCode.OK)
