"""Telemetry session tables: one row per collector session, one row per accepted batch of events.

Why a row per batch: appending never rewrites what is stored (a session of 200,000 events arrives in many
posts; rewriting one growing blob would cost O(n^2)), and each batch is written with the session's counters
in one transaction, so a refused or failed post leaves nothing half-written. Device attributes and events
are behaviour biometrics' neighbours: both are sealed (``telemetry_*_sealed``, envelope-encrypted with the
key ring, bound to their row), never stored in plain text. The session token is stored only as its SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Float

from openidv.store.db import Base, UTCDateTime
from openidv.store.models import AuditEntry


class TelemetrySession(Base):
    __tablename__ = "telemetry_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False)
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: SHA-256 of the per-session bearer token the collector sends (never the token)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: telemetry is accepted until then
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: open | used (a verification read it: no more telemetry is accepted)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the subject of the first verification that used it, so erasing the subject erases this too
    subject_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    n_events: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    n_batches: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: ``t`` of the last stored event: the next batch must not start before it
    last_t: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: how many posts carried device attributes that differ from the stored ones (the last ones win)
    device_changes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    device_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    viewport_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    viewport_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_telemetry_sessions_tenant_subject", "tenant_id", "subject_id"),
        Index("ix_telemetry_sessions_created_at", "created_at"),
    )


class TelemetryBatch(Base):
    __tablename__ = "telemetry_batches"

    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("telemetry_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    n_events: Mapped[int] = mapped_column(Integer, nullable=False)
    first_t: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_t: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: zlib-compressed JSON list of the batch's events, sealed with the key ring
    events_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


#: for ``Base.metadata.create_all(engine, tables=list(TELEMETRY_TABLES))`` in tests
TELEMETRY_TABLES: tuple[Table, ...] = (
    cast(Table, TelemetrySession.__table__),
    cast(Table, TelemetryBatch.__table__),
    cast(Table, AuditEntry.__table__),
)
