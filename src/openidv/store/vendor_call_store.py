"""Storage of vendor calls: add rows (raw answer sealed) in the caller's transaction, read one back, purge.

Storage only: what a call record holds is ``openidv.vendors.audit``'s business.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openidv.crypto import KeyRing
from openidv.store import audit
from openidv.store.repository import Store
from openidv.store.sealed import open_json, seal_json
from openidv.store.vendor_call_tables import VendorCall


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
