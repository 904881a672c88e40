"""Personal-data protection: the subject reference on verifications, and sealed (encrypted) personal fields.

``verifications.subject_id`` (indexed with the tenant) finds everything held on one person for export and
erasure. ``verifications.evidence_sealed`` and ``check_results.details_sealed`` hold the envelope-encrypted
evidence summary and check details (``openidv.store.sealed``); rows written before this revision keep their
plain JSON until ``openidv crypto rotate`` seals them (a migration holds no key).

Keys that held every scope before (the upgrade default) also get the new ``subjects:read`` and
``subjects:erase``; keys with narrower scopes do not.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: every scope before this revision, frozen here as a migration must be
EARLIER_SCOPES = (
    "verifications:write,verifications:read,galleries:write,galleries:read,liveness:write,liveness:read"
)


def upgrade() -> None:
    op.add_column("verifications", sa.Column("subject_id", sa.String(200), nullable=True))
    op.add_column("verifications", sa.Column("evidence_sealed", sa.LargeBinary(), nullable=True))
    op.create_index("ix_verifications_tenant_subject", "verifications", ["tenant_id", "subject_id"])
    op.add_column("check_results", sa.Column("details_sealed", sa.LargeBinary(), nullable=True))
    op.execute(
        sa.text("UPDATE api_keys SET scopes = :all WHERE scopes = :earlier").bindparams(
            all=EARLIER_SCOPES + ",subjects:read,subjects:erase", earlier=EARLIER_SCOPES
        )
    )


def downgrade() -> None:
    raise NotImplementedError("0005 (privacy) cannot be undone: sealed personal fields would be lost")
