"""Audit copies of external vendor calls (issue 15): ``vendor_calls``, raw answers sealed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendor_calls",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("verification_id", sa.String(36), nullable=True),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("capability", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("reason_codes", sa.String(1000), nullable=False),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fault", sa.String(32), nullable=True),
        sa.Column("vendor_reference", sa.String(128), nullable=True),
        sa.Column("raw_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_vendor_calls_verification", "vendor_calls", ["verification_id"])
    op.create_index("ix_vendor_calls_created_at", "vendor_calls", ["created_at"])
    op.create_index("ix_vendor_calls_tenant_vendor", "vendor_calls", ["tenant_id", "vendor", "created_at"])


def downgrade() -> None:
    op.drop_table("vendor_calls")
