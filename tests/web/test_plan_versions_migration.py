"""A console database of the previous release (schema version 2: one row per plan, a parcel
per plan and drop) opens with its plans, flights and tokens: each plan becomes its own first
version, each token its plan's parcel, and a plan flown before the upgrade is read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from tests.helpers.shared_data import REPO
from tests.web.helpers import Client, make_app, services
from tests.web.helpers_tracking import DROPS, fly, two_parcel_plan
from web import create_app
from web import db as tables

#: The tables of schema version 2 as the previous release made them.
OLD = sa.MetaData()
sa.Table("schema_version", OLD, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("version", sa.Integer, nullable=False))
sa.Table("users", OLD, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("username", sa.String(64), nullable=False, unique=True),
         sa.Column("password_hash", sa.String(256), nullable=False),
         sa.Column("role", sa.String(16), nullable=False),
         sa.Column("created_at", sa.Float, nullable=False),
         sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
sa.Table("sessions", OLD, sa.Column("id_hash", sa.String(64), primary_key=True),
         sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                   index=True),
         sa.Column("created_at", sa.Float, nullable=False),
         sa.Column("address", sa.String(64), nullable=False))
sa.Table("audit_log", OLD, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("at", sa.Float, nullable=False),
         sa.Column("username", sa.String(64), nullable=False),
         sa.Column("action", sa.String(32), nullable=False),
         sa.Column("target", sa.String(128), nullable=False),
         sa.Column("result", sa.String(16), nullable=False), sa.Column("detail", sa.Text),
         sa.Index("ix_audit_user", "username", "id"))
OLD_PLANS = sa.Table(
    "plans", OLD, sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("folder", sa.String, nullable=False), sa.Column("edits", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False), sa.Column("error", sa.Text),
    sa.Column("out_dir", sa.String), sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False), sa.Column("finished_at", sa.Float))
OLD_PARCELS = sa.Table(
    "parcels", OLD, sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.ForeignKey("plans.id"), nullable=False, index=True),
    sa.Column("drop_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("plan_id", "drop_id"))
sa.Table("alert_acks", OLD, sa.Column("alert_id", sa.Integer, primary_key=True),
         sa.Column("username", sa.String(64), nullable=False),
         sa.Column("at", sa.Float, nullable=False))


def _downgrade(db_file: Path) -> None:
    """Rewrite ``db_file`` with the tables of schema version 2 and the same rows."""
    old_file = db_file.with_name("old.db")
    engine = sa.create_engine(f"sqlite:///{old_file}")
    OLD.create_all(engine)
    source = sqlite3.connect(db_file)
    with engine.begin() as conn:
        for table in OLD.sorted_tables:
            names = [c.name for c in table.columns]
            rows = source.execute(f"SELECT {', '.join(names)} FROM {table.name}").fetchall()
            if table.name == "schema_version":
                rows = [(1, 2)]
            if rows:
                conn.execute(sa.insert(table), [dict(zip(names, r, strict=True)) for r in rows])
    source.close()
    engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)
    old_file.rename(db_file)


def test_a_previous_release_database_keeps_plans_flights_and_tokens(tmp_path: Path) -> None:
    """Plans, their flown run and the parcels' tokens of a version 2 database are all there
    after the upgrade; the flown plan is read-only and planning it again makes version 2 with
    the same tokens."""
    data = tmp_path / "data"
    app = make_app(data)
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    _run, tokens = fly(app, plan_id, {"P014": ("delivered", {}), "P020": ("failed", {})})
    plan_json = services(app).plans.get(plan_id).plan_json
    services(app).close()
    _downgrade(data / "console.db")
    columns = {r[1] for r in sqlite3.connect(data / "console.db").execute(
        "PRAGMA table_info(plans)")}
    assert "lineage_id" not in columns and "version" not in columns

    app = create_app({"DATA_DIR": str(data), "MISSIONS_DIR": str(REPO / "missions"),
                      "SAMPLE_SCENARIO": "tutorial"})
    try:
        db = services(app).db
        assert db.version == tables.SCHEMA_VERSION
        c = Client(app, "operator")
        shown = c.get(f"/api/plans/{plan_id}").json
        assert shown["version"] == 1 and shown["state"] == "done" and shown["read_only"]
        assert [v["version"] for v in shown["versions"]] == [1]
        assert services(app).plans.get(plan_id).plan_json == plan_json
        public = Client(app, None)
        assert public.get(f"/api/track/{tokens['P014']}").json["state"] == "delivered"
        assert public.get(f"/api/track/{tokens['P020']}").json["state"] == "failed"
        assert len(c.get("/api/flights").json["flights"]) == 0  # no vehicle flew: no flights
        r = c.post(f"/api/plans/{plan_id}/run")
        assert r.status_code == 202 and r.json["version"] == 2
        services(app).plans.wait(plan_id, 120.0)
        _run2, tokens2 = fly(app, plan_id, {d: ("queued", {}) for d in DROPS})
        assert tokens2 == tokens
        rows = db.rows(sa.select(tables.parcels.c.lineage_id, tables.parcels.c.plan_id))
        assert {(r.lineage_id, r.plan_id) for r in rows} == {(plan_id, plan_id)}
    finally:
        services(app).close()
