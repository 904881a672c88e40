"""Tables for tenants, API keys, verifications, check results, decisions and the hash-chained audit log.

Alembic migrations in ``openidv/store/migrations`` create exactly these; a test compares the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openidv.store.db import Base, UTCDateTime
from openidv.tenancy import DEFAULT_TENANT


class Tenant(Base):
    """Who owns keys and data; its name is its id (``openidv tenants create NAME``)."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """An API key of one tenant, with its scopes and optional expiry; only its SHA-256 is stored, the key
    itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id"), index=True, server_default=DEFAULT_TENANT
    )
    #: comma-separated, from ``openidv.tenancy.SCOPES``
    scopes: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Verification(Base):
    """One applicant's verification request and its outcome, written in one transaction."""

    __tablename__ = "verifications"
    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key", name="uq_verifications_idempotency"),
        Index("ix_verifications_tenant_subject", "tenant_id", "subject_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    #: the tenant of the key that created it (``default`` for the CLI and the library)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True, server_default=DEFAULT_TENANT)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    #: ``{}`` once sealed: the summary lives encrypted in ``evidence_sealed`` (``openidv.store.sealed``)
    evidence_summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    #: the applicant's id in the caller's system, so everything held on one person can be found and erased
    subject_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    evidence_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    checks: Mapped[list[CheckResultRow]] = relationship(
        back_populates="verification", cascade="all, delete-orphan", order_by="CheckResultRow.position"
    )
    decision: Mapped[DecisionRow] = relationship(
        back_populates="verification", cascade="all, delete-orphan", uselist=False
    )


class CheckResultRow(Base):
    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    verification_id: Mapped[str] = mapped_column(
        ForeignKey("verifications.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    meaning: Mapped[str] = mapped_column(String(16))
    reason_codes: Mapped[list[str]] = mapped_column(JSON)
    #: ``{}`` once sealed: the details live encrypted in ``details_sealed``
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    details_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    verification: Mapped[Verification] = relationship(back_populates="checks")


class DecisionRow(Base):
    __tablename__ = "decisions"

    verification_id: Mapped[str] = mapped_column(
        ForeignKey("verifications.id", ondelete="CASCADE"), primary_key=True
    )
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    reason_codes: Mapped[list[str]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(100))
    fired_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    verification: Mapped[Verification] = relationship(back_populates="decision")


class AuditEntry(Base):
    """Append-only, chained: ``hash = HMAC(audit key, prev_hash || n || canonical(entry))`` for entries with a
    ``key_id`` (``openidv.store.audit``); legacy entries (``key_id`` NULL) carry a plain SHA-256 link.

    ``prev_hash`` is unique, so two writers racing to append after the same entry cannot fork the chain:
    one of them fails and retries.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    payload_text: Mapped[str] = mapped_column(Text)
    #: the id of the audit key whose HMAC ``hash`` is (NULL: a legacy, unkeyed entry)
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: the entry's position in the log (1, 2, ...), covered by the MAC
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
