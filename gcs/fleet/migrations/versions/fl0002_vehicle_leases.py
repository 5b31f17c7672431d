"""Vehicle ownership leases (``vehicle_leases`` of :mod:`gcs.fleet.leases`) in the flight log's
database, kept when a lease table made them already.

Revision ID: fl0002
Revises: fl0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fl0002"
down_revision: str | None = "fl0001"
branch_labels: str | None = None
depends_on: str | None = None

#: The table of this revision (frozen).
META = sa.MetaData()
sa.Table(
    "vehicle_leases", META,
    sa.Column("vehicle", sa.String(200), primary_key=True),
    sa.Column("worker_id", sa.String(200), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False))


def upgrade() -> None:
    """Create ``vehicle_leases`` when missing."""
    META.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    """Drop ``vehicle_leases``."""
    op.drop_table("vehicle_leases")
