"""Alembic migrations of both stores: SQLite files made before migrations (console schema
versions 1 to 4, a flight log of ``create_all``) are brought to the newest revision in place
with every row kept, and opening or upgrading again changes nothing; text longer than its
column is refused alike on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from gcs import sqldb
from gcs.fleet import logs
from gcs.fleet.leases import LeaseTable
from gcs.fleet.logs import FlightLog
from planner.errors import InputError
from web import db as tables
from web.db import Database

#: The console's tables of schema version 1 (the first release), as SQLite made them.
V1 = [
    "CREATE TABLE schema_version (id INTEGER NOT NULL, version INTEGER NOT NULL, "
    "PRIMARY KEY (id))",
    "CREATE TABLE users (id INTEGER NOT NULL, username VARCHAR(64) NOT NULL, "
    "password_hash VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL, created_at FLOAT NOT NULL, "
    "PRIMARY KEY (id), UNIQUE (username))",
    "CREATE TABLE audit_log (id INTEGER NOT NULL, at FLOAT NOT NULL, username VARCHAR(64) NOT "
    "NULL, action VARCHAR(32) NOT NULL, target VARCHAR(128) NOT NULL, result VARCHAR(16) NOT "
    "NULL, detail TEXT, PRIMARY KEY (id))",
    "CREATE TABLE plans (id VARCHAR(32) NOT NULL, name VARCHAR(128) NOT NULL, folder VARCHAR NOT "
    "NULL, edits TEXT NOT NULL, state VARCHAR(16) NOT NULL, error TEXT, out_dir VARCHAR, "
    "created_by VARCHAR(64) NOT NULL, created_at FLOAT NOT NULL, finished_at FLOAT, "
    "PRIMARY KEY (id))",
    "CREATE TABLE parcels (token VARCHAR(64) NOT NULL, plan_id VARCHAR(32) NOT NULL, "
    "drop_id VARCHAR(64) NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (token), "
    "UNIQUE (plan_id, drop_id), FOREIGN KEY(plan_id) REFERENCES plans (id))",
    "CREATE INDEX ix_parcels_plan_id ON parcels (plan_id)",
    "CREATE TABLE alert_acks (alert_id INTEGER NOT NULL, username VARCHAR(64) NOT NULL, "
    "at FLOAT NOT NULL, PRIMARY KEY (alert_id))",
]
#: What each later version added before migrations.
V2 = [
    "ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE TABLE sessions (id_hash VARCHAR(64) NOT NULL, user_id INTEGER NOT NULL, "
    "created_at FLOAT NOT NULL, address VARCHAR(64) NOT NULL, PRIMARY KEY (id_hash), "
    "FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE)",
    "CREATE INDEX ix_sessions_user_id ON sessions (user_id)",
    "CREATE INDEX ix_audit_user ON audit_log (username, id)",
]
V3 = [
    "ALTER TABLE users ADD COLUMN language VARCHAR(16)",
    "ALTER TABLE plans ADD COLUMN lineage_id VARCHAR(32)",
    "ALTER TABLE plans ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE plans ADD COLUMN flown_at FLOAT",
    "ALTER TABLE parcels ADD COLUMN lineage_id VARCHAR(32)",
    "ALTER TABLE parcels ADD COLUMN delivered_at FLOAT",
    "ALTER TABLE parcels ADD COLUMN delivered_run_id INTEGER",
    "CREATE UNIQUE INDEX ix_plans_lineage ON plans (lineage_id, version)",
    "CREATE UNIQUE INDEX ix_parcels_lineage_drop ON parcels (lineage_id, drop_id)",
]
V4 = [
    "CREATE TABLE notifications (id INTEGER NOT NULL, event_id VARCHAR(160) NOT NULL, "
    "channel VARCHAR(16) NOT NULL, lineage_id VARCHAR(32) NOT NULL, drop_id VARCHAR(64) NOT "
    "NULL, kind VARCHAR(32) NOT NULL, recipient VARCHAR(320) NOT NULL, payload TEXT NOT NULL, "
    "state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, next_at FLOAT NOT NULL, "
    "last_error VARCHAR(500), created_at FLOAT NOT NULL, sent_at FLOAT, PRIMARY KEY (id), "
    "UNIQUE (event_id, channel))",
]
SCHEMAS = {1: V1, 2: V1 + V2, 3: V1 + V2 + V3, 4: V1 + V2 + V3 + V4}


def _old_console(path: Path, version: int) -> None:
    """A console database of schema ``version`` as that release left it, with rows."""
    con = sqlite3.connect(path)
    for sql in SCHEMAS[version]:
        con.execute(sql)
    con.execute("INSERT INTO schema_version VALUES (1, ?)", (version,))
    con.execute("INSERT INTO users (id, username, password_hash, role, created_at) "
                "VALUES (7, 'olga', 'pbkdf2:x', 'operator', 10.0)")
    con.execute("INSERT INTO audit_log (id, at, username, action, target, result) "
                "VALUES (41, 11.0, 'olga', 'login', 'console', 'ok')")
    con.execute("INSERT INTO plans (id, name, folder, edits, state, created_by, created_at) "
                "VALUES ('p1', 'tutorial', '/x/p1', '{}', 'done', 'olga', 12.0)")
    con.execute("INSERT INTO parcels (token, plan_id, drop_id, created_at) "
                "VALUES ('tok-1', 'p1', 'P014', 13.0)")
    con.execute("INSERT INTO alert_acks VALUES (3, 'olga', 14.0)")
    con.commit()
    con.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_a_console_database_made_before_migrations_reaches_the_head(tmp_path: Path,
                                                                     version: int) -> None:
    """A console database of schema version 1-4 gains every later column and table in
    place, its rows kept and filled in (plan lineage, parcel lineage), and is stamped."""
    path = tmp_path / "console.db"
    _old_console(path, version)
    db = Database(f"sqlite:///{path}")
    try:
        assert db.version == tables.SCHEMA_VERSION
        with db.engine.connect() as conn:
            assert sqldb.current(conn, tables.VERSION_TABLE) == sqldb.head(tables.MIGRATIONS)
        [user] = db.rows(sa.select(tables.users))
        assert (user.id, user.username, user.disabled, user.language) == (7, "olga", False,
                                                                          None)
        [plan] = db.rows(sa.select(tables.plans))
        assert (plan.id, plan.lineage_id, plan.version, plan.flown_at) == ("p1", "p1", 1, None)
        [parcel] = db.rows(sa.select(tables.parcels))
        assert (parcel.token, parcel.lineage_id, parcel.delivered_at) == ("tok-1", "p1", None)
        assert [r.id for r in db.rows(sa.select(tables.audit_log))] == [41]
        assert [r.alert_id for r in db.rows(sa.select(tables.alert_acks))] == [3]
        db.audit(username="olga", action="rtl", target="vehicle 1", result="forbidden")
        assert db.rows(sa.select(tables.notifications)) == []
        have = set(sa.inspect(db.engine).get_table_names())
        assert set(tables.metadata.tables) <= have
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("plans")}
        assert "ix_plans_lineage" in indexes
    finally:
        db.close()
    again = Database(f"sqlite:///{path}")
    try:
        assert not tables.upgrade(again.engine)  # at the head: nothing runs
        assert len(again.rows(sa.select(tables.schema_version))) == 1
        assert len(again.rows(sa.select(tables.audit_log))) == 2
    finally:
        again.close()


def test_the_console_upgrade_is_idempotent(database_url: str) -> None:
    """Opening a database at the head again runs nothing and keeps its rows, on SQLite and on
    PostgreSQL; the version table is the console's own."""
    db = Database(database_url)
    try:
        db.audit(username="a", action="login", target="console", result="ok")
        assert not tables.upgrade(db.engine)
        db.setup()
        assert db.version == tables.SCHEMA_VERSION
        assert len(db.rows(sa.select(tables.audit_log))) == 1
        names = set(sa.inspect(db.engine).get_table_names())
        assert tables.VERSION_TABLE in names and logs.VERSION_TABLE not in names
    finally:
        db.close()


def test_a_flight_log_made_before_migrations_is_kept_and_stamped(tmp_path: Path) -> None:
    """A flight log file of ``create_all`` (before migrations) keeps its runs, flights and
    events, and is at the head revision after opening (with the vehicle leases' table);
    opening again runs nothing."""
    path = tmp_path / "fly.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    logs.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(logs.runs).values(id=5, plan_key="k", plan_name="p",
                                                 started_at=1.0))
        conn.execute(sa.insert(logs.flights).values(
            id=9, run_id=5, sortie_id="S1", vehicle="a", sysid=1, state="flying",
            started_at=2.0))
    engine.dispose()
    log = FlightLog(path)
    try:
        run = log.unfinished_run()
        assert run is not None and run.id == 5
        assert [(f.id, f.state) for f in log.flights(5)] == [(9, "flying")]
        with log.engine.connect() as conn:
            assert sqldb.current(conn, logs.VERSION_TABLE) == sqldb.head(logs.MIGRATIONS)
        assert not logs.upgrade(log.engine)
        assert "vehicle_leases" in sa.inspect(log.engine).get_table_names()
        assert log.start_run(plan_key="k2", plan_name="p").id == 6
        leases = LeaseTable(log.engine)  # the table the revision made serves the leases
        lease = leases.acquire("hub1/1", "worker-a")
        assert lease is not None and lease.token == 1
    finally:
        log.close()


def test_over_long_text_is_refused_before_it_is_sent(database_url: str) -> None:
    """Text longer than its column is an InputError naming the column on SQLite as on
    PostgreSQL (which would refuse it with a database error); nothing is written."""
    db = Database(database_url)
    try:
        with pytest.raises(InputError, match="at most 128 characters") as caught:
            db.write(sa.insert(tables.plans).values(
                id="p1", name="n" * 129, folder="/x", edits="{}", state="draft",
                created_by="olga", created_at=1.0, lineage_id="p1"))
        assert caught.value.field == "plans.name"
        assert db.rows(sa.select(tables.plans)) == []
        db.write(sa.insert(tables.plans).values(
            id="p1", name="n" * 128, folder="/x", edits="{}", state="draft",
            created_by="olga", created_at=1.0, lineage_id="p1"))
        assert db.rows(sa.select(tables.plans.c.id).where(
            tables.plans.c.name == "n" * 300)) == []  # a long value in a query is no insert
    finally:
        db.close()
