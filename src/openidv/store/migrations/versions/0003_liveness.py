"""Liveness sessions and the perceptual-hash index of accepted captures.

Written by the liveness engineer to keep the models-versus-migrations test green; the lead may renumber it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liveness_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("challenges", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("api_key_id", sa.String(36), nullable=True),
    )
    op.create_table(
        "liveness_capture_hashes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("phash", sa.BigInteger(), nullable=False),
        sa.Column("dhash", sa.BigInteger(), nullable=False),
        *[sa.Column(f"band{i}", sa.Integer(), nullable=False) for i in range(7)],
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    for i in range(7):
        op.create_index(f"ix_liveness_capture_hashes_band{i}", "liveness_capture_hashes", [f"band{i}"])


def downgrade() -> None:
    op.drop_table("liveness_capture_hashes")
    op.drop_table("liveness_sessions")
