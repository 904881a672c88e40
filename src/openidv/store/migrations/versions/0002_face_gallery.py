"""Face galleries and their encrypted templates (1:N search).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TemplateId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "face_galleries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "face_templates",
        sa.Column("id", TemplateId, primary_key=True, autoincrement=True),
        sa.Column(
            "gallery_id", sa.Integer(), sa.ForeignKey("face_galleries.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_face_templates_gallery_id", "face_templates", ["gallery_id"])
    op.create_index("ix_face_templates_subject_id", "face_templates", ["subject_id"])


def downgrade() -> None:
    op.drop_table("face_templates")
    op.drop_table("face_galleries")
