"""Images of rejected verifications held for a contest (issue 16): ``held_media``, sealed, purged after
``OPENIDV_REVIEW_HOLD_REJECTED_DAYS``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_media",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("verification_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("held_until", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_held_media_verification", "held_media", ["verification_id"])
    op.create_index("ix_held_media_held_until", "held_media", ["held_until"])


def downgrade() -> None:
    op.drop_table("held_media")
