"""Identity graph privacy: sealed identifier values, account facts.

Links now hold keyed pseudonyms (``kind:`` + HMAC), written by the service; the clear value of each key is
kept sealed in ``graph_identifier_values``. Links written before this revision hold clear keys: re-ingest
(``openidv graph ingest``) after upgrading, or erase them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graph_accounts") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))
    op.create_table(
        "graph_identifier_values",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("value_sealed", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("graph_identifier_values")
    with op.batch_alter_table("graph_accounts") as batch:
        batch.drop_column("facts")
