"""Storage of vendor calls: add rows (raw answer sealed) in the caller's transaction, read one back, purge;
read the recent answered calls and the drift resets back for the drift monitors' replay.

Storage only: what a call record holds is ``openidv.vendors.audit``'s business, what a replay does with the
rows ``openidv.vendors.drift``'s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from openidv.crypto import KeyRing
from openidv.store import audit
from openidv.store.repository import Store
from openidv.store.sealed import open_json, seal_json
from openidv.store.vendor_call_tables import VendorCall, VendorDriftReset


def raw_aad(call_id: str) -> bytes:
    return f"openidv-vendor-call:{call_id}:raw".encode()


def add_call(session: Session, ring: KeyRing, row: VendorCall, raw: Any) -> None:
    """Add one call, its raw answer sealed to the row, in the caller's transaction."""
    row.raw_sealed = None if raw is None else seal_json(ring, raw, raw_aad(row.id))
    session.add(row)


def read_raw(ring: KeyRing, row: VendorCall) -> Any:
    """The vendor's raw answer, opened (for an auditor or a dispute; never shown to callers)."""
    return None if row.raw_sealed is None else open_json(ring, row.raw_sealed, raw_aad(row.id))


def calls_of(store: Store, verification_id: str) -> list[VendorCall]:
    with Session(store.engine) as session:
        rows = list(
            session.scalars(
                select(VendorCall)
                .where(VendorCall.verification_id == verification_id)
                .order_by(VendorCall.created_at, VendorCall.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def purge_vendor_calls(store: Store, before: datetime, *, dry_run: bool = False) -> int:
    """Delete the calls made before ``before`` (one audit entry with the count); ``dry_run`` only counts."""
    if dry_run:
        with Session(store.engine) as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(VendorCall).where(VendorCall.created_at < before)
                )
                or 0
            )
    with store.transaction() as session:
        gone = session.execute(delete(VendorCall).where(VendorCall.created_at < before))
        count = int(getattr(gone, "rowcount", 0) or 0)
        if count:
            audit.append(
                session,
                actor="purge",
                action="vendor_calls.erased",
                subject=None,
                payload={"reason": "retention", "vendor_calls": count},
            )
    return count


@dataclass(frozen=True)
class AnsweredCall:
    """What a drift monitor reads of one stored, answered call."""

    vendor: str
    capability: str
    country: str | None
    decision: str
    score: float | None
    created_at: datetime


@dataclass(frozen=True)
class DriftReset:
    """One recorded drift reset (``capability``/``country`` None: every monitor of the vendor)."""

    id: str
    vendor: str
    capability: str | None
    country: str | None
    reset_at: datetime
    actor: str
    reason: str
    evidence: dict[str, Any]


def answered_calls(engine: Engine, *, since: datetime | None, limit: int) -> list[AnsweredCall]:
    """The most recent ``limit`` answered calls (a decision, no fault) made at or after ``since``, oldest
    first. Every role counts (routed, failover, shadow, consensus): each was a vendor outcome."""
    stmt = select(
        VendorCall.vendor,
        VendorCall.capability,
        VendorCall.country,
        VendorCall.decision,
        VendorCall.score,
        VendorCall.created_at,
    ).where(VendorCall.decision.is_not(None), VendorCall.fault.is_(None))
    if since is not None:
        stmt = stmt.where(VendorCall.created_at >= since)
    stmt = stmt.order_by(VendorCall.created_at.desc(), VendorCall.id.desc()).limit(max(0, limit))
    with Session(engine) as session:
        rows = session.execute(stmt).all()
    return [
        AnsweredCall(
            vendor=r[0], capability=r[1], country=r[2], decision=str(r[3]), score=r[4], created_at=r[5]
        )
        for r in reversed(rows)
    ]


def _reset(row: VendorDriftReset) -> DriftReset:
    return DriftReset(
        id=row.id,
        vendor=row.vendor,
        capability=row.capability,
        country=row.country,
        reset_at=row.reset_at,
        actor=row.actor,
        reason=row.reason,
        evidence=dict(row.evidence or {}),
    )


def drift_resets(engine: Engine, *, after: datetime | None = None) -> list[DriftReset]:
    """Recorded resets (those after ``after`` only, when given), oldest first."""
    stmt = select(VendorDriftReset)
    if after is not None:
        stmt = stmt.where(VendorDriftReset.reset_at > after)
    with Session(engine) as session:
        rows = session.scalars(stmt.order_by(VendorDriftReset.reset_at, VendorDriftReset.id)).all()
        return [_reset(r) for r in rows]


def add_drift_reset(
    session: Session,
    *,
    vendor: str,
    capability: str | None,
    country: str | None,
    actor: str,
    reason: str,
    evidence: dict[str, Any],
    at: datetime | None = None,
) -> DriftReset:
    """Add one reset in the caller's transaction (the caller appends the audit entry beside it)."""
    row = VendorDriftReset(
        id=str(uuid.uuid4()),
        vendor=vendor,
        capability=capability,
        country=country.upper() if country else None,
        reset_at=at or datetime.now(UTC),
        actor=actor[:128],
        reason=reason[:1000],
        evidence=evidence,
    )
    session.add(row)
    return _reset(row)
