"""Keyed audit chain: each audit entry records the id of the key whose HMAC it carries, and its position.

Existing entries keep ``key_id`` NULL: they are legacy (plain SHA-256 links). The first keyed append seals
them (``audit.legacy_sealed``); see ``openidv.store.audit`` and docs/audit.md.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column("audit_log", sa.Column("n", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("n")
        batch.drop_column("key_id")
