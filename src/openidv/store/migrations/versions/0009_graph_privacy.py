"""Identity graph privacy: sealed identifier values, account facts; the ``graph:read`` scope.

Keys that held every scope before (the upgrade default) also get the new ``graph:read``; keys with narrower
scopes do not.

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


#: every scope a key could hold after 0006 (frozen here)
ALL_SCOPES_0006 = (
    "verifications:write,verifications:read,galleries:write,galleries:read,liveness:write,liveness:read,"
    "subjects:read,subjects:erase,webhooks:manage"
)


def upgrade() -> None:
    op.execute(
        sa.text("UPDATE api_keys SET scopes = :new WHERE scopes = :old").bindparams(
            new=ALL_SCOPES_0006 + ",graph:read", old=ALL_SCOPES_0006
        )
    )
    with op.batch_alter_table("graph_accounts") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))
    op.create_table(
        "graph_identifier_values",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("value_sealed", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.execute(
        sa.text("UPDATE api_keys SET scopes = :old WHERE scopes = :new").bindparams(
            new=ALL_SCOPES_0006 + ",graph:read", old=ALL_SCOPES_0006
        )
    )
    op.drop_table("graph_identifier_values")
    with op.batch_alter_table("graph_accounts") as batch:
        batch.drop_column("facts")
