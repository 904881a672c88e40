"""Tenancy: a ``tenants`` table; every API key belongs to a tenant and has scopes and an optional expiry;
verifications, face galleries (names are unique per tenant), liveness sessions and remembered captures carry
their tenant.

Existing keys and data go to the ``default`` tenant, and existing keys get every scope, so an upgraded
deployment keeps working. On SQLite, ``api_keys`` and ``face_galleries`` are rebuilt (batch mode) with
foreign-key enforcement off (``openidv.store.migrate``), so no cascade fires while a table is copied.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from openidv.store.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEFAULT_TENANT = "default"  # openidv.tenancy.DEFAULT_TENANT, frozen here as a migration must be
ALL_SCOPES = (
    "verifications:write,verifications:read,galleries:write,galleries:read,liveness:write,liveness:read"
)


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.bulk_insert(tenants, [{"id": DEFAULT_TENANT, "created_at": datetime.now(UTC)}])

    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT))
        batch.add_column(sa.Column("scopes", sa.String(500), nullable=False, server_default=ALL_SCOPES))
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key("fk_api_keys_tenant_id_tenants", "tenants", ["tenant_id"], ["id"])
        batch.create_index("ix_api_keys_tenant_id", ["tenant_id"])
    with op.batch_alter_table("api_keys") as batch:  # new keys always name their scopes
        batch.alter_column("scopes", server_default=None)

    op.add_column(
        "verifications",
        sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT),
    )
    op.create_index("ix_verifications_tenant_id", "verifications", ["tenant_id"])

    op.add_column(
        "liveness_sessions",
        sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT),
    )
    op.create_index("ix_liveness_sessions_tenant_id", "liveness_sessions", ["tenant_id"])
    op.add_column(
        "liveness_capture_hashes",
        sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT),
    )

    if op.get_bind().dialect.name == "sqlite":
        # the unnamed UNIQUE(name) of 0002 gets a name from the convention, so it can be dropped
        with op.batch_alter_table(
            "face_galleries",
            recreate="always",
            naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
            table_kwargs={"sqlite_autoincrement": True},
        ) as batch:
            batch.add_column(
                sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT)
            )
            batch.drop_constraint("uq_face_galleries_name", type_="unique")
            batch.create_unique_constraint("uq_face_galleries_tenant_name", ["tenant_id", "name"])
    else:
        op.add_column(
            "face_galleries",
            sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT),
        )
        op.drop_constraint("face_galleries_name_key", "face_galleries", type_="unique")
        op.create_unique_constraint("uq_face_galleries_tenant_name", "face_galleries", ["tenant_id", "name"])


def downgrade() -> None:
    raise NotImplementedError("0004 (tenancy) cannot be undone: galleries of two tenants may share a name")
