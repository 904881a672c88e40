"""Liveness tables: challenge-response sessions and the perceptual-hash index of accepted captures.

``liveness_sessions`` holds each active-liveness session from creation to its single use (nonce, expiry,
challenge sequence, outcome). ``liveness_capture_hashes`` holds 64-bit perceptual hashes (DCT pHash and
difference hash) of accepted selfies and session frames, so the same capture submitted again within the tenant
is found (``REPLAYED_CAPTURE``). The pHash is also split into seven bands (9 or 10 bits each), each indexed:
two hashes within Hamming distance 6 share at least one band exactly (pigeonhole), so a lookup reads only
the rows that share a band and never scans the table. No pixels are stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime
from openidv.store.models import AuditEntry
from openidv.tenancy import DEFAULT_TENANT


class LivenessSession(Base):
    __tablename__ = "liveness_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    challenges: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: set once, when frames were submitted; a session is never evaluated twice
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: open | passed | failed | expired
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: the tenant of the key that created it; only that tenant can read, submit or use it
    tenant_id: Mapped[str] = mapped_column(
        String(64), nullable=False, index=True, server_default=DEFAULT_TENANT
    )


class CaptureHash(Base):
    __tablename__ = "liveness_capture_hashes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: 64-bit hashes stored as signed BIGINT (two's complement of the unsigned value)
    phash: Mapped[int] = mapped_column(BigInteger, nullable=False)
    dhash: Mapped[int] = mapped_column(BigInteger, nullable=False)
    band0: Mapped[int] = mapped_column(Integer, nullable=False)
    band1: Mapped[int] = mapped_column(Integer, nullable=False)
    band2: Mapped[int] = mapped_column(Integer, nullable=False)
    band3: Mapped[int] = mapped_column(Integer, nullable=False)
    band4: Mapped[int] = mapped_column(Integer, nullable=False)
    band5: Mapped[int] = mapped_column(Integer, nullable=False)
    band6: Mapped[int] = mapped_column(Integer, nullable=False)
    #: selfie | frame
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: what the capture belonged to (a liveness session id, a verification id); never the image
    reference: Mapped[str] = mapped_column(String(64), nullable=False)
    #: whose capture it is; lookups only search the caller's tenant
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False, server_default=DEFAULT_TENANT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = tuple(Index(f"ix_liveness_capture_hashes_band{i}", f"band{i}") for i in range(7))


#: for ``Base.metadata.create_all(engine, tables=list(LIVENESS_TABLES))`` in tests (with the audit log,
#: since session creation and completion are audited in their transactions)
LIVENESS_TABLES: tuple[Table, ...] = (
    cast(Table, LivenessSession.__table__),
    cast(Table, CaptureHash.__table__),
    cast(Table, AuditEntry.__table__),
)
