"""Storage side of subject export, erasure and retention: find, read and delete one person's rows.

Everything here is storage only; ``openidv.services.subjects`` decides what to erase and drives the face
gallery (whose index files must be rewritten) alongside.

Erasing a verification deletes its check results, decision, the capture fingerprints that point at it and
the liveness sessions its ``liveness_session`` check used (with their fingerprints), and appends one audit
entry ``verification.erased`` (subject: the verification id; payload: the reason only), all in one
transaction. The audit log keeps no personal data to begin with, so it needs no editing and still verifies.
On SQLite, ``secure_delete`` (``openidv.store.db``) zeroes the deleted cells and ``checkpoint`` empties the
write-ahead log, so the erased values are gone from the files, not just unreachable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, selectinload

from openidv.store import audit
from openidv.store.case_store import delete_cases_of
from openidv.store.gallery_tables import FaceGallery, FaceTemplate
from openidv.store.liveness_tables import CaptureHash, LivenessSession
from openidv.store.models import CheckResultRow, DecisionRow, Verification
from openidv.store.repository import Store, details_of, evidence_of, record_of
from openidv.store.vendor_call_tables import VendorCall

#: the audit action of an erased verification (audit verification accepts a missing row it names)
ERASED_ACTION = "verification.erased"
SUBJECT_ERASED_ACTION = "subject.erased"


@dataclass(frozen=True)
class Erased:
    """How many rows one erasure removed (counts only: this is what the audit log records)."""

    verifications: int = 0
    liveness_sessions: int = 0
    captures: int = 0

    def __add__(self, other: Erased) -> Erased:
        return Erased(
            self.verifications + other.verifications,
            self.liveness_sessions + other.liveness_sessions,
            self.captures + other.captures,
        )


def subject_verification_ids(store: Store, tenant: str, subject_id: str) -> list[str]:
    with Session(store.engine) as session:
        return list(
            session.scalars(
                select(Verification.id)
                .where(Verification.tenant_id == tenant, Verification.subject_id == subject_id)
                .order_by(Verification.created_at, Verification.id)
            )
        )


def export_verifications(store: Store, tenant: str, subject_id: str) -> list[dict[str, Any]]:
    """The subject's verifications as the API shows them, plus their subject id and evidence summary."""
    ring = store.keyring
    with Session(store.engine) as session:
        rows = session.scalars(
            select(Verification)
            .options(selectinload(Verification.checks), selectinload(Verification.decision))
            .where(Verification.tenant_id == tenant, Verification.subject_id == subject_id)
            .order_by(Verification.created_at, Verification.id)
        ).all()
        return [
            {
                **record_of(row, ring).to_api(),
                "subject_id": row.subject_id,
                "evidence_summary": evidence_of(row, ring),
            }
            for row in rows
        ]


def export_enrolments(engine: Engine, tenant: str, subject_id: str) -> list[dict[str, Any]]:
    """The subject's gallery enrolments: where and when, quality and attributes; never the template."""
    with Session(engine) as session:
        rows = session.execute(
            select(FaceGallery.name, FaceTemplate)
            .join(FaceGallery, FaceGallery.id == FaceTemplate.gallery_id)
            .where(FaceGallery.tenant_id == tenant, FaceTemplate.subject_id == subject_id)
            .order_by(FaceTemplate.id)
        ).all()
        return [
            {
                "gallery": name,
                "face_id": int(t.id),
                "created_at": t.created_at.isoformat(),
                "quality": t.quality,
                "attributes": t.attributes,
            }
            for name, t in rows
        ]


def galleries_holding(engine: Engine, tenant: str, subject_id: str) -> list[str]:
    """Names of the tenant's galleries with a template of the subject."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(FaceGallery.name)
                .join(FaceTemplate, FaceGallery.id == FaceTemplate.gallery_id)
                .where(FaceGallery.tenant_id == tenant, FaceTemplate.subject_id == subject_id)
                .distinct()
                .order_by(FaceGallery.name)
            )
        )


def linked_sessions(store: Store, verification_ids: Iterable[str]) -> list[str]:
    """Liveness sessions that these verifications used (their ``liveness_session`` check names them)."""
    ids = list(verification_ids)
    if not ids:
        return []
    ring = store.keyring
    found: set[str] = set()
    with Session(store.engine) as session:
        for row in session.scalars(
            select(CheckResultRow).where(
                CheckResultRow.verification_id.in_(ids), CheckResultRow.check == "liveness_session"
            )
        ):
            session_id = details_of(row, ring).get("session_id")
            if isinstance(session_id, str):
                found.add(session_id)
    return sorted(found)


def export_sessions(engine: Engine, tenant: str, session_ids: list[str]) -> list[dict[str, Any]]:
    if not session_ids:
        return []
    with Session(engine) as session:
        rows = session.scalars(
            select(LivenessSession)
            .where(LivenessSession.tenant_id == tenant, LivenessSession.id.in_(session_ids))
            .order_by(LivenessSession.created_at)
        ).all()
        return [
            {
                "id": r.id,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "expires_at": r.expires_at.isoformat(),
                "used_at": r.used_at.isoformat() if r.used_at else None,
                "result": r.result,
            }
            for r in rows
        ]


def erase_verifications(
    store: Store,
    verification_ids: list[str],
    *,
    reason: str,
    actor: str,
    subject_entry: tuple[str, dict[str, Any]] | None = None,
) -> Erased:
    """Delete the verifications and all that hangs off them, with one ``verification.erased`` audit entry
    each, in one transaction; ``subject_entry`` (keyed subject hash, counts) adds the ``subject.erased``
    entry in the same transaction. Ids already gone are skipped, so a repeated erasure is harmless."""
    sessions = linked_sessions(store, verification_ids)
    with store.transaction() as session:
        present = (
            list(
                session.scalars(
                    select(Verification.id)
                    .where(Verification.id.in_(verification_ids))
                    .order_by(Verification.id)
                )
            )
            if verification_ids
            else []
        )
        erased = _delete_rows(session, present, sessions)
        for verification_id in present:
            audit.append(
                session,
                actor=actor,
                action=ERASED_ACTION,
                subject=verification_id,
                payload={"reason": reason},
            )
        if subject_entry is not None:
            subject_hash, counts = subject_entry
            payload = {**counts, **_counts(erased)}
            audit.append(
                session, actor=actor, action=SUBJECT_ERASED_ACTION, subject=subject_hash, payload=payload
            )
    return erased


def _counts(erased: Erased) -> dict[str, int]:
    return {
        "verifications": erased.verifications,
        "liveness_sessions": erased.liveness_sessions,
        "captures": erased.captures,
    }


def _delete_rows(session: Session, ids: list[str], sessions: list[str]) -> Erased:
    if not ids and not sessions:
        return Erased()
    references = [*ids, *sessions]
    captures = session.execute(delete(CaptureHash).where(CaptureHash.reference.in_(references)))
    gone_sessions = session.execute(delete(LivenessSession).where(LivenessSession.id.in_(sessions)))
    session.execute(delete(CheckResultRow).where(CheckResultRow.verification_id.in_(ids)))
    session.execute(delete(DecisionRow).where(DecisionRow.verification_id.in_(ids)))
    # the audit copies of vendor calls made for them (raw answers can quote the applicant's document)
    session.execute(delete(VendorCall).where(VendorCall.verification_id.in_(ids)))
    # their human review cases: trail (free-text reasons) and images (the audit keeps no text or image)
    delete_cases_of(session, ids)
    session.execute(delete(Verification).where(Verification.id.in_(ids)))
    return Erased(len(ids), _rowcount(gone_sessions), _rowcount(captures))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def checkpoint(engine: Engine) -> None:
    """On SQLite, move the write-ahead log into the database and truncate it, so the pages that held
    erased values (zeroed by ``secure_delete``) replace their old copies everywhere; elsewhere a no-op."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()


# ------------------------------------------------------------------------------------------ retention


def expired_verifications(store: Store, before: datetime, limit: int) -> list[str]:
    with Session(store.engine) as session:
        return list(
            session.scalars(
                select(Verification.id)
                .where(Verification.created_at < before)
                .order_by(Verification.created_at, Verification.id)
                .limit(limit)
            )
        )


def count_expired_verifications(store: Store, before: datetime) -> int:
    with Session(store.engine) as session:
        return int(session.scalar(select(func.count()).where(Verification.created_at < before)) or 0)


def expired_templates(engine: Engine, before: datetime) -> list[tuple[str, str, int]]:
    """(tenant, gallery, face id) of templates enrolled before ``before``."""
    with Session(engine) as session:
        return [
            (str(t), str(n), int(i))
            for t, n, i in session.execute(
                select(FaceGallery.tenant_id, FaceGallery.name, FaceTemplate.id)
                .join(FaceGallery, FaceGallery.id == FaceTemplate.gallery_id)
                .where(FaceTemplate.created_at < before)
                .order_by(FaceTemplate.id)
            )
        ]


def expired_sessions(engine: Engine, before: datetime) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(LivenessSession.id)
                .where(LivenessSession.created_at < before)
                .order_by(LivenessSession.id)
            )
        )


def erase_sessions(store: Store, session_ids: list[str], *, reason: str, actor: str) -> Erased:
    """Delete liveness sessions and their capture fingerprints, with one audit entry carrying the count."""
    if not session_ids:
        return Erased()
    with store.transaction() as session:
        erased = _delete_rows(session, [], session_ids)
        audit.append(
            session,
            actor=actor,
            action="liveness_sessions.purged",
            subject=None,
            payload={"reason": reason, **_counts(erased)},
        )
    return erased
