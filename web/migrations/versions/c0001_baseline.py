"""The console's tables as they were before migrations (schema version 4), from any of them.

Databases made before migrations carry a ``schema_version`` row: 1 (no ``users.disabled``),
2 (one row per plan, a parcel per plan and drop), 3 (no notification outbox) or 4. This revision
brings each to version 4 in place, its rows kept: it creates the missing tables and indexes,
adds the missing columns, makes each older plan its own first version and each parcel its
plan's, and records version 4. An empty database gets the tables of version 4.

Revision ID: c0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

#: The schema version this revision ends at (the ``schema_version`` row).
SCHEMA_VERSION = 4

#: The tables of this revision (frozen: later revisions change them, never this copy).
META = sa.MetaData()
SCHEMA = sa.Table(
    "schema_version", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False))
sa.Table(
    "users", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("language", sa.String(16)))
sa.Table(
    "sessions", META,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("address", sa.String(64), nullable=False))
sa.Table(
    "audit_log", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Index("ix_audit_user", "username", "id"))
PLANS = sa.Table(
    "plans", META,
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
PARCELS = sa.Table(
    "parcels", META,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.ForeignKey("plans.id"), nullable=False, index=True),
    sa.Column("drop_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("lineage_id", sa.String(32)),
    sa.Column("delivered_at", sa.Float),
    sa.Column("delivered_run_id", sa.Integer),
    sa.UniqueConstraint("plan_id", "drop_id"),
    sa.Index("ix_parcels_lineage_drop", "lineage_id", "drop_id", unique=True))
sa.Table(
    "notifications", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(160), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("lineage_id", sa.String(32), nullable=False),
    sa.Column("drop_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
    sa.UniqueConstraint("event_id", "channel"),
    sa.Index("ix_notifications_due", "state", "next_at"),
    sa.Index("ix_notifications_parcel", "lineage_id", "drop_id"))
sa.Table(
    "alert_acks", META,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False))

#: Columns versions 2 and 3 added to tables an older database has: table -> (column, the SQL
#: of its type and default), in the order they are added.
ADDED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (("disabled", "BOOLEAN NOT NULL DEFAULT FALSE"), ("language", "VARCHAR(16)")),
    "plans": (("lineage_id", "VARCHAR(32)"), ("version", "INTEGER NOT NULL DEFAULT 1"),
              ("flown_at", "FLOAT")),
    "parcels": (("lineage_id", "VARCHAR(32)"), ("delivered_at", "FLOAT"),
                ("delivered_run_id", "INTEGER")),
}


def upgrade() -> None:
    """Bring any console database of versions 1 to 4 (or none) to version 4."""
    conn = op.get_bind()
    META.create_all(conn, checkfirst=True)
    inspector = sa.inspect(conn)
    for table, added in ADDED_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, sql in added:
            if name not in have:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {sql}"))
    # rows of older databases: each plan its own first version, each parcel its plan's
    conn.execute(sa.update(PLANS).where(PLANS.c.lineage_id.is_(None))
                 .values(lineage_id=PLANS.c.id))
    conn.execute(sa.update(PARCELS).where(PARCELS.c.lineage_id.is_(None))
                 .values(lineage_id=sa.select(PLANS.c.lineage_id)
                         .where(PLANS.c.id == PARCELS.c.plan_id).scalar_subquery()))
    for made in META.sorted_tables:
        for index in made.indexes:
            index.create(conn, checkfirst=True)
    row = conn.execute(sa.select(SCHEMA.c.version)).first()
    if row is None:
        conn.execute(sa.insert(SCHEMA).values(id=1, version=SCHEMA_VERSION))
    elif row.version < SCHEMA_VERSION:
        conn.execute(sa.update(SCHEMA).values(version=SCHEMA_VERSION))


def downgrade() -> None:
    """Not supported: a console database is never taken back to before migrations."""
    raise NotImplementedError("the console's baseline is not undone")
