"""Identity graph: ``graph_accounts`` and their identifier keys, ``graph_links``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graph_accounts",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("verification_id", sa.String(36), nullable=True),
    )
    op.create_table(
        "graph_links",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["graph_accounts.tenant_id", "graph_accounts.account_id"],
            ondelete="CASCADE",
            name="fk_graph_links_account",
        ),
    )
    op.create_index("ix_graph_links_tenant_key", "graph_links", ["tenant_id", "key"])


def downgrade() -> None:
    op.drop_table("graph_links")
    op.drop_table("graph_accounts")
