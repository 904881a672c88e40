"""Human review cases (issue 16): ``review_cases``, ``case_events`` and ``case_media`` (images, sealed);
the ``cases:read``, ``cases:review`` and ``cases:supervise`` scopes.

Keys that held every scope before (the default of ``openidv keys create``) get the three new ones, as
0009 did for ``graph:read``; keys with narrower scopes keep them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


#: every scope a key could hold after 0009 (frozen here)
ALL_SCOPES_0009 = (
    "verifications:write,verifications:read,galleries:write,galleries:read,liveness:write,liveness:read,"
    "subjects:read,subjects:erase,webhooks:manage,graph:read"
)
CASE_SCOPES = ",cases:read,cases:review,cases:supervise"


def upgrade() -> None:
    op.execute(
        sa.text("UPDATE api_keys SET scopes = :new WHERE scopes = :old").bindparams(
            new=ALL_SCOPES_0009 + CASE_SCOPES, old=ALL_SCOPES_0009
        )
    )
    op.create_table(
        "review_cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("verification_id", sa.String(36), sa.ForeignKey("verifications.id"), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("opened_by", sa.String(100), nullable=False),
        sa.Column("opened_reason", sa.Text(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("reason_codes", sa.JSON(), nullable=False),
        sa.Column("reason_index", sa.String(2000), nullable=False),
        sa.Column("automated_outcome", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("final_outcome", sa.String(16), nullable=True),
        sa.Column("proposed_by", sa.String(100), nullable=True),
        sa.Column("proposed_outcome", sa.String(16), nullable=True),
        sa.Column("proposed_reason", sa.Text(), nullable=True),
        sa.Column("proposed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "verification_id", name="uq_review_cases_verification"),
    )
    op.create_index("ix_review_cases_queue", "review_cases", ["tenant_id", "state", "due_at"])
    op.create_index("ix_review_cases_decided_at", "review_cases", ["decided_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("review_cases.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id"])
    op.create_table(
        "case_media",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("review_cases.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
    )
    op.create_index("ix_case_media_case", "case_media", ["case_id"])


def downgrade() -> None:
    op.execute(
        sa.text("UPDATE api_keys SET scopes = :old WHERE scopes = :new").bindparams(
            new=ALL_SCOPES_0009 + CASE_SCOPES, old=ALL_SCOPES_0009
        )
    )
    op.drop_table("case_media")
    op.drop_table("case_events")
    op.drop_table("review_cases")
