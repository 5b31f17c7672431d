"""The refused-request window of each user in the database (``audit_refusals``), so that the
consoles sharing one database aggregate a user's refusals together (schema version 5).

Revision ID: c0002
Revises: c0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision: str | None = "c0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``audit_refusals`` and record schema version 5."""
    op.create_table(
        "audit_refusals",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("kept", sa.Integer, nullable=False),
        sa.Column("dropped", sa.Integer, nullable=False))
    op.execute("UPDATE schema_version SET version = 5")


def downgrade() -> None:
    """Drop ``audit_refusals`` (refusal windows start afresh)."""
    op.drop_table("audit_refusals")
    op.execute("UPDATE schema_version SET version = 4")
