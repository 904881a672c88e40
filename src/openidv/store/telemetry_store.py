"""Storage of telemetry sessions: create, append a batch atomically, read back, erase and purge.

Storage only (the limits and the token flow are ``openidv.services.telemetry_sessions``'s): device attributes
and each batch of events are sealed with the store's key ring, bound to their session (and batch number) by
the associated data, and events are zlib-compressed first (a batch of pointer moves compresses about 5x).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openidv.crypto import KeyRing
from openidv.errors import NotFound
from openidv.store import audit
from openidv.store.repository import Store
from openidv.store.telemetry_tables import TelemetryBatch, TelemetrySession


def device_aad(session_id: str) -> bytes:
    return f"openidv-telemetry:{session_id}:device".encode()


def batch_aad(session_id: str, seq: int) -> bytes:
    return f"openidv-telemetry:{session_id}:batch:{seq}".encode()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def seal_events(ring: KeyRing, events_json: bytes, aad: bytes) -> bytes:
    return ring.encrypt(zlib.compress(events_json, 1), aad)


def open_events(ring: KeyRing, blob: bytes, aad: bytes) -> bytes:
    """The batch's events as the JSON array text they were sealed as (parsed by the caller's schema)."""
    return zlib.decompress(ring.decrypt(bytes(blob), aad))


@dataclass(frozen=True)
class Batch:
    """One validated post, ready to store: its events as a JSON array (validated, in time order)."""

    events_json: bytes
    n_events: int
    first_t: float | None
    last_t: float | None
    device: dict[str, Any] | None
    device_sha256: str | None
    source: str
    viewport_width: int | None
    viewport_height: int | None


def add_session(store: Store, row: TelemetrySession, *, actor: str) -> None:
    """Store a new session and its audit entry (tenant and expiry only) in one transaction."""
    with store.transaction() as session:
        session.add(row)
        session.flush()
        audit.append(
            session,
            actor=actor,
            action="telemetry.session_created",
            subject=row.id,
            payload={"tenant": row.tenant_id, "expires_at": row.expires_at.isoformat()},
        )


def get_session(store: Store, session_id: str) -> TelemetrySession | None:
    with store.transaction() as session:
        row = session.get(TelemetrySession, session_id)
        if row is not None:
            session.expunge(row)
        return row


def append_batch(
    store: Store,
    session_id: str,
    batch: Batch,
    *,
    now: datetime,
    check: Callable[[TelemetrySession], None],
) -> TelemetrySession:
    """Append ``batch`` to the session in one transaction. ``check`` sees the session row as locked for this
    transaction (``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises writers) and raises to
    refuse the batch: then nothing at all is written."""
    ring = store.keyring
    with store.transaction() as session:
        row = session.execute(
            select(TelemetrySession).where(TelemetrySession.id == session_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"telemetry session {session_id!r} does not exist")
        check(row)
        seq = row.n_batches
        if batch.n_events:
            session.add(
                TelemetryBatch(
                    session_id=session_id,
                    seq=seq,
                    n_events=batch.n_events,
                    first_t=batch.first_t,
                    last_t=batch.last_t,
                    events_sealed=seal_events(ring, batch.events_json, batch_aad(session_id, seq)),
                    created_at=now,
                )
            )
            row.n_batches = seq + 1
            row.n_events += batch.n_events
            row.last_t = batch.last_t
        if batch.device is not None and batch.device_sha256 != row.device_sha256:
            if row.device_sha256 is not None:
                row.device_changes += 1
            row.device_sha256 = batch.device_sha256
            row.device_sealed = ring.encrypt(_dumps(batch.device), device_aad(session_id))
        if row.source is None:
            row.source = batch.source
        if batch.viewport_width is not None:
            row.viewport_width = batch.viewport_width
        if batch.viewport_height is not None:
            row.viewport_height = batch.viewport_height
        row.updated_at = now
        session.flush()
        session.expunge(row)
        return row


def read_session(store: Store, row: TelemetrySession) -> tuple[dict[str, Any] | None, list[bytes]]:
    """The session's device attributes and each batch's events (JSON array text), opened, in time order."""
    ring = store.keyring
    device = read_device(store, row)
    events: list[bytes] = []
    with Session(store.engine) as session:
        for seq, blob in session.execute(
            select(TelemetryBatch.seq, TelemetryBatch.events_sealed)
            .where(TelemetryBatch.session_id == row.id)
            .order_by(TelemetryBatch.seq)
        ):
            events.append(open_events(ring, blob, batch_aad(row.id, int(seq))))
    return device, events


def read_device(store: Store, row: TelemetrySession) -> dict[str, Any] | None:
    if row.device_sealed is None:
        return None
    device: dict[str, Any] = json.loads(store.keyring.decrypt(bytes(row.device_sealed), device_aad(row.id)))
    return device


def mark_used(store: Store, session_id: str, *, now: datetime, subject_id: str | None) -> None:
    """Close the session to further telemetry (a verification read it) and link it to the subject, so that
    erasing the subject erases it too (the first subject that used it keeps it)."""
    with store.transaction() as session:
        row = session.execute(
            select(TelemetrySession).where(TelemetrySession.id == session_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            return
        row.status = "used"
        row.used_at = row.used_at or now
        if row.subject_id is None and subject_id is not None:
            row.subject_id = subject_id


# ------------------------------------------------------------------------------------ privacy


def subject_sessions(store: Store, tenant: str, subject_id: str) -> list[TelemetrySession]:
    with Session(store.engine) as session:
        rows = list(
            session.scalars(
                select(TelemetrySession)
                .where(TelemetrySession.tenant_id == tenant, TelemetrySession.subject_id == subject_id)
                .order_by(TelemetrySession.created_at, TelemetrySession.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def export_session(store: Store, row: TelemetrySession) -> dict[str, Any]:
    """A session as the subject export shows it: counts and device attributes (events stay out: they are
    many, and nothing in them is readable to a person)."""
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "status": row.status,
        "events": row.n_events,
        "batches": row.n_batches,
        "device": read_device(store, row),
    }


def expired_sessions(store: Store, before: datetime) -> list[str]:
    with Session(store.engine) as session:
        return list(
            session.scalars(
                select(TelemetrySession.id)
                .where(TelemetrySession.created_at < before)
                .order_by(TelemetrySession.id)
            )
        )


def erase_sessions(store: Store, session_ids: list[str], *, reason: str, actor: str) -> int:
    """Delete the sessions and their batches, with one audit entry carrying the count, in one transaction."""
    if not session_ids:
        return 0
    with store.transaction() as session:
        session.execute(delete(TelemetryBatch).where(TelemetryBatch.session_id.in_(session_ids)))
        gone = session.execute(delete(TelemetrySession).where(TelemetrySession.id.in_(session_ids)))
        count = int(getattr(gone, "rowcount", 0) or 0)
        audit.append(
            session,
            actor=actor,
            action="telemetry_sessions.erased",
            subject=None,
            payload={"reason": reason, "telemetry_sessions": count},
        )
    return count
