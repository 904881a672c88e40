"""Telemetry sessions of the browser collector (issue 14): sessions and their sealed event batches.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telemetry_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(36), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("subject_id", sa.String(200), nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("n_batches", sa.Integer(), nullable=False),
        sa.Column("last_t", sa.Float(), nullable=True),
        sa.Column("device_changes", sa.Integer(), nullable=False),
        sa.Column("device_sha256", sa.String(64), nullable=True),
        sa.Column("viewport_width", sa.Integer(), nullable=True),
        sa.Column("viewport_height", sa.Integer(), nullable=True),
        sa.Column("device_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_telemetry_sessions_tenant_subject", "telemetry_sessions", ["tenant_id", "subject_id"])
    op.create_index("ix_telemetry_sessions_created_at", "telemetry_sessions", ["created_at"])
    op.create_table(
        "telemetry_batches",
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("telemetry_sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("first_t", sa.Float(), nullable=True),
        sa.Column("last_t", sa.Float(), nullable=True),
        sa.Column("events_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telemetry_batches")
    op.drop_table("telemetry_sessions")
