"""The flight log as it was before migrations: runs, vehicles, flights, alerts, delivery events.

Creates the tables a database lacks and keeps those it has, so that a flight log made before
migrations (``create_all``) is taken over as it is, its rows kept.

Revision ID: fl0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fl0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

#: The tables of this revision (frozen: later revisions change them, never this copy).
META = sa.MetaData()
sa.Table(
    "runs", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("plan_key", sa.String(64), nullable=False, index=True),
    sa.Column("plan_name", sa.String, nullable=False),
    sa.Column("plan_path", sa.String),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("outcome", sa.String))
sa.Table(
    "vehicles", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("sysid", sa.Integer, nullable=False),
    sa.Column("link_url", sa.String),
    sa.UniqueConstraint("run_id", "name"))
sa.Table(
    "flights", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("sortie_id", sa.String, nullable=False),
    sa.Column("vehicle", sa.String, nullable=False),
    sa.Column("sysid", sa.Integer, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("takeoff_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("tlog_path", sa.String),
    sa.Column("reason", sa.String))
sa.Table(
    "alerts", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("flight_id", sa.ForeignKey("flights.id")),
    sa.Column("sysid", sa.Integer, nullable=False),
    sa.Column("sortie_id", sa.String),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("severity", sa.String, nullable=False),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("action", sa.String))
sa.Table(
    "delivery_events", META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("flight_id", sa.ForeignKey("flights.id")),
    sa.Column("sortie_id", sa.String, nullable=False),
    sa.Column("drop_id", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("lat_deg", sa.Float),
    sa.Column("lon_deg", sa.Float),
    sa.Column("eta_at", sa.Float),
    sa.Column("detail", sa.String))


def upgrade() -> None:
    """Create the tables (and their indexes) that are missing."""
    META.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    """Not supported: a flight log is never taken back to before migrations."""
    raise NotImplementedError("the flight log's baseline is not undone")
