"""Append-only audit log whose entries are hash-chained, so editing or removing a past entry is detectable.

Each entry's hash covers its time, actor, action, subject, canonical JSON payload and the previous entry's
hash. ``verify_chain`` recomputes every hash; deleting the newest entries is only detectable against a head
hash kept elsewhere, which ``openidv audit verify --expect-head`` accepts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from openidv.store.models import AuditEntry

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 0x6F69_6476  # "oidv": serialises appends on PostgreSQL


def canonical_json(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; we only ever write UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str | None, payload_text: str
) -> str:
    material = "\x1f".join([prev_hash, _timestamp(at), actor, action, subject or "", payload_text])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append(session: Session, *, actor: str, action: str, subject: str | None, payload: Any) -> AuditEntry:
    """Add an entry in the caller's transaction, so it commits or rolls back with the change it records."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last_hash = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = last_hash or GENESIS_HASH
    at = datetime.now(UTC)
    payload_text = canonical_json(payload)
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        payload=json.loads(payload_text),
        payload_text=payload_text,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, at, actor, action, subject, payload_text),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, expect_head: str | None = None, batch: int = 1000) -> ChainReport:
    """Walk the log in order and recompute every link."""
    prev_hash = GENESIS_HASH
    count = 0
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            problem = _problem(row, prev_hash)
            if problem:
                return ChainReport(False, count, prev_hash, row.seq, problem)
            prev_hash = row.hash
            last_seq = row.seq
            count += 1
        session.expunge_all()
    if expect_head is not None and expect_head != prev_hash:
        return ChainReport(
            False,
            count,
            prev_hash,
            None,
            f"head hash {prev_hash} differs from the expected {expect_head}: entries were removed or added",
        )
    return ChainReport(True, count, prev_hash)


def _problem(row: AuditEntry, prev_hash: str) -> str | None:
    if row.prev_hash != prev_hash:
        return f"entry {row.seq} does not link to the entry before it (an entry was removed or reordered)"
    if canonical_json(row.payload) != row.payload_text:
        return f"entry {row.seq}: payload differs from the payload that was hashed"
    expected = entry_hash(row.prev_hash, row.at, row.actor, row.action, row.subject, row.payload_text)
    if expected != row.hash:
        return f"entry {row.seq}: hash mismatch (the entry was edited after it was written)"
    return None
