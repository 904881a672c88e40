"""``vendor_calls``: one row per call made to an external IDV vendor, for audit and disputes.

What a person may need to read later (which vendor, what it decided, our reason codes, latency, cost,
attempts, the fault when it failed) is in plain columns; the vendor's raw answer, which can name the
applicant and quote their document, is sealed (``raw_sealed``, envelope-encrypted with the key ring and
bound to its row). Rows are written in the transaction that stores their verification (the vendor checks'
``RecordVendorCalls`` follow-up), erased with it (subject erasure) and purged by age
(``OPENIDV_RETENTION_VENDOR_CALLS_DAYS``). ``country``, ``document_type`` and ``score`` (migration 0012) are
what the drift monitors read when a service starts and replays stored outcomes.

``vendor_drift_resets``: one row per drift reset recorded after a re-benchmark passed the regression gate
(``openidv vendors rebenchmark``); running services apply resets newer than what they have applied.
Deployment-wide, not per tenant: vendors and their monitors are shared by every tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Float, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime
from openidv.store.models import AuditEntry


class VendorCall(Base):
    __tablename__ = "vendor_calls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: the verification the call was made for (None: a call outside a verification, e.g. a benchmark)
    verification_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    vendor: Mapped[str] = mapped_column(String(64), nullable=False)
    capability: Mapped[str] = mapped_column(String(32), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False)
    #: pass | decline | review | unprocessable; None when the call failed (``fault``)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: our reason codes, comma-separated
    reason_codes: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    #: primary | failover | shadow | consensus...: why the router made this call
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False)
    cost: Mapped[float] = mapped_column(Float, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    fault: Mapped[str | None] = mapped_column(String(32), nullable=True)
    vendor_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    raw_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: the request's routing keys and the vendor's normalised score (drift replay); None before 0012
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    document_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_vendor_calls_verification", "verification_id"),
        Index("ix_vendor_calls_created_at", "created_at"),
        Index("ix_vendor_calls_tenant_vendor", "tenant_id", "vendor", "created_at"),
    )


class VendorDriftReset(Base):
    """A drift reset of a vendor's monitors (``capability``/``country`` None: all of them)."""

    __tablename__ = "vendor_drift_resets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(64), nullable=False)
    capability: Mapped[str | None] = mapped_column(String(32), nullable=True)
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reset_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    reason: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    #: what justified it: the gate's reports and verdicts (no personal data)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_vendor_drift_resets_reset_at", "reset_at"),)


#: for ``Base.metadata.create_all(engine, tables=list(VENDOR_CALL_TABLES))`` in tests
VENDOR_CALL_TABLES: tuple[Table, ...] = (
    cast(Table, VendorCall.__table__),
    cast(Table, VendorDriftReset.__table__),
    cast(Table, AuditEntry.__table__),
)
