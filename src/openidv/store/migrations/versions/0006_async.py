"""Async verifications: the ``jobs`` queue, ``webhook_endpoints`` and the ``webhook_outbox``; keys that held
every scope also get the new ``webhooks:manage``.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


#: every scope a key could hold after 0005 (frozen here); such keys get the new scope too, so a key created
#: without ``--scopes`` keeps holding every scope after the upgrade
ALL_SCOPES_0005 = (
    "verifications:write,verifications:read,galleries:write,galleries:read,liveness:write,liveness:read,"
    "subjects:read,subjects:erase"
)


def upgrade() -> None:
    op.execute(
        sa.text("UPDATE api_keys SET scopes = :new WHERE scopes = :old").bindparams(
            new=ALL_SCOPES_0005 + ",webhooks:manage", old=ALL_SCOPES_0005
        )
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(36), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("evidence", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.UniqueConstraint("api_key_id", "idempotency_key", name="uq_jobs_idempotency"),
    )
    op.create_index("ix_jobs_status_available_at", "jobs", ["status", "available_at"])
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant_id", "created_at"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_endpoints_tenant_id", "webhook_endpoints", ["tenant_id"])

    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_webhook_outbox_status_next", "webhook_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_outbox_event_id", "webhook_outbox", ["event_id"])
    op.create_index("ix_webhook_outbox_endpoint_id", "webhook_outbox", ["endpoint_id"])


def downgrade() -> None:
    op.drop_table("webhook_outbox")
    op.drop_table("webhook_endpoints")
    op.drop_table("jobs")
