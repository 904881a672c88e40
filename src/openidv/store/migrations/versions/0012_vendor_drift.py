"""Vendor drift monitoring that survives a restart (issue 15): vendor_calls keys/scores, vendor_drift_resets.

``vendor_calls`` gains the monitor's key and input (``country``, ``document_type``, ``score``), so a starting
service can replay stored outcomes into its drift monitors; ``vendor_drift_resets`` records each reset
after a re-benchmark through the regression gate (deployment-wide: vendors are shared by every tenant).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vendor_calls") as batch:
        batch.add_column(sa.Column("country", sa.String(8), nullable=True))
        batch.add_column(sa.Column("document_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
    op.create_table(
        "vendor_drift_resets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("capability", sa.String(32), nullable=True),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("reset_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
    )
    op.create_index("ix_vendor_drift_resets_reset_at", "vendor_drift_resets", ["reset_at"])


def downgrade() -> None:
    op.drop_table("vendor_drift_resets")
    with op.batch_alter_table("vendor_calls") as batch:
        batch.drop_column("score")
        batch.drop_column("document_type")
        batch.drop_column("country")
