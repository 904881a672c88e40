"""Queries and writes of human review cases (``openidv.store.review_tables``); no review rules here.

The rules (who may claim, decide, confirm) live in ``openidv.services.review_cases``; this module reads and
writes rows inside the caller's transaction. Every change of a case goes through ``record``: one
``case_events`` row (with the reviewer's free-text reason, which erasure can delete) and one audit-log entry
in the same transaction (with a keyed hash of the reason instead of its text, since the audit log is
never erased).

The queue is ordered by ``(due_at, id)``, most urgent first; its cursor is that pair of the page's last
case (keyset pagination, base64url JSON, opaque to clients).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session, defer

from openidv.crypto import KeyRing
from openidv.errors import NotFound
from openidv.store import audit
from openidv.store.keyset_cursor import decode_cursor, encode_cursor
from openidv.store.models import Verification
from openidv.store.repository import Store
from openidv.store.review_tables import (
    ACTIVE_STATES,
    DECIDED,
    CaseEvent,
    CaseMedia,
    HeldMedia,
    ReviewCase,
    held_aad,
    media_aad,
)

MAX_LIMIT = 200
#: SLA filter values: past due, due within the "due soon" window, or later
SLA_FILTERS = ("breached", "due_soon", "ok")


class MediaLike(Protocol):
    """What ``openidv.services.review_media.ReviewMedia`` holds (the store cannot import services)."""

    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def notes(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StoredMedia:
    kind: str
    title: str
    data: bytes
    content_type: str
    notes: dict[str, Any]


def reason_index(codes: Sequence[str]) -> str:
    return "," + ",".join(codes) + "," if codes else ","


def reason_digest(ring: KeyRing, reason: str | None) -> str | None:
    """What the audit log keeps of a free-text reason: a keyed hash (proves the text, reveals nothing)."""
    return None if reason is None else ring.keyed_hash("case-reason", reason)


def record(
    session: Session,
    case: ReviewCase,
    *,
    actor: str,
    action: str,
    at: datetime,
    payload: dict[str, Any],
    audit_payload: dict[str, Any] | None = None,
) -> None:
    """One event of the case and its audit entry (``case.<action>``), in the caller's transaction."""
    session.add(CaseEvent(case_id=case.id, at=at, actor=actor, action=action, payload=payload))
    audit.append(
        session,
        actor=actor,
        action=f"case.{action}",
        subject=case.id,
        payload={
            "tenant": case.tenant_id,
            "verification_id": case.verification_id,
            "state": case.state,
            **(audit_payload or {}),
        },
    )


def add_case(
    session: Session,
    ring: KeyRing,
    *,
    tenant: str,
    verification_id: str,
    opened_by: str,
    opened_reason: str | None,
    reason_codes: Sequence[str],
    automated_outcome: str,
    opened_at: datetime,
    due_at: datetime,
    media: Sequence[MediaLike] = (),
    audit_extra: dict[str, Any] | None = None,
) -> ReviewCase:
    """Insert an open case with its media (sealed) and its ``opened`` event, in the caller's transaction."""
    case = ReviewCase(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        verification_id=verification_id,
        state="open",
        escalated=False,
        opened_by=opened_by,
        opened_reason=opened_reason,
        opened_at=opened_at,
        reason_codes=list(reason_codes),
        reason_index=reason_index(reason_codes),
        automated_outcome=automated_outcome,
        due_at=due_at,
        updated_at=opened_at,
    )
    session.add(case)
    session.flush()
    for position, item in enumerate(media):
        media_id = str(uuid.uuid4())
        session.add(
            CaseMedia(
                id=media_id,
                case_id=case.id,
                position=position,
                kind=item.kind,
                title=item.title[:200],
                content_type=item.content_type,
                notes=dict(item.notes),
                data_sealed=ring.encrypt(item.data, media_aad(case.id, media_id)),
                size=len(item.data),
            )
        )
    record(
        session,
        case,
        actor=opened_by,
        action="opened",
        at=opened_at,
        payload={"reason": opened_reason, "reason_codes": list(reason_codes), "media": len(media)},
        audit_payload={
            "automated_outcome": automated_outcome,
            "reason_codes": list(reason_codes),
            "reason_hash": reason_digest(ring, opened_reason),
            "due_at": due_at.isoformat(),
            "media": len(media),
            **(audit_extra or {}),
        },
    )
    return case


def load_case(session: Session, tenant: str, case_id: str, *, lock: bool = False) -> ReviewCase:
    """The tenant's case; another tenant's id is ``NotFound`` like one that never existed. ``lock`` holds
    the row until the transaction ends (PostgreSQL), so two reviewers act on it one after the other."""
    query = select(ReviewCase).where(ReviewCase.id == case_id, ReviewCase.tenant_id == tenant)
    if lock:
        query = query.with_for_update()
    case = session.execute(query).scalar_one_or_none()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def case_of_verification(session: Session, tenant: str, verification_id: str) -> ReviewCase | None:
    return session.execute(
        select(ReviewCase).where(
            ReviewCase.tenant_id == tenant, ReviewCase.verification_id == verification_id
        )
    ).scalar_one_or_none()


def cases_of_verifications(session: Session, tenant: str, ids: Sequence[str]) -> dict[str, ReviewCase]:
    if not ids:
        return {}
    rows = session.execute(
        select(ReviewCase).where(ReviewCase.tenant_id == tenant, ReviewCase.verification_id.in_(list(ids)))
    ).scalars()
    return {row.verification_id: row for row in rows}


def verification_row(session: Session, tenant: str, verification_id: str) -> Verification:
    row = session.execute(
        select(Verification).where(Verification.id == verification_id, Verification.tenant_id == tenant)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"verification {verification_id} not found")
    return row


def events_of(session: Session, case_id: str) -> list[CaseEvent]:
    return list(
        session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).scalars()
    )


def media_of(session: Session, case_id: str) -> list[CaseMedia]:
    """The case's media rows without their (sealed) bytes."""
    return list(
        session.execute(
            select(CaseMedia)
            .options(defer(CaseMedia.data_sealed))
            .where(CaseMedia.case_id == case_id)
            .order_by(CaseMedia.position)
        ).scalars()
    )


def open_media(session: Session, ring: KeyRing, tenant: str, case_id: str, media_id: str) -> StoredMedia:
    """One image of the tenant's case, unsealed; ``NotFound`` for another tenant's or a purged one."""
    load_case(session, tenant, case_id)
    row = session.execute(
        select(CaseMedia).where(CaseMedia.id == media_id, CaseMedia.case_id == case_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"media {media_id} of case {case_id} not found")
    data = ring.decrypt(bytes(row.data_sealed), media_aad(case_id, media_id))
    return StoredMedia(row.kind, row.title, data, row.content_type, dict(row.notes or {}))


# ------------------------------------------------------------------------- images held for a contest


def hold_media(
    session: Session,
    ring: KeyRing,
    *,
    tenant: str,
    verification_id: str,
    media: Sequence[MediaLike],
    held_until: datetime,
) -> int:
    """Keep a rejected verification's images (sealed) until ``held_until``, in the caller's transaction."""
    for position, item in enumerate(media):
        media_id = str(uuid.uuid4())
        session.add(
            HeldMedia(
                id=media_id,
                tenant_id=tenant,
                verification_id=verification_id,
                position=position,
                kind=item.kind,
                title=item.title[:200],
                content_type=item.content_type,
                notes=dict(item.notes),
                data_sealed=ring.encrypt(item.data, held_aad(verification_id, media_id)),
                size=len(item.data),
                held_until=held_until,
            )
        )
    return len(media)


def take_held_media(
    session: Session, ring: KeyRing, tenant: str, verification_id: str, *, now: datetime
) -> list[StoredMedia]:
    """The held images of the tenant's verification, unsealed and removed (they move into a case);
    images past their hold are not handed out."""
    rows = list(
        session.scalars(
            select(HeldMedia)
            .where(HeldMedia.tenant_id == tenant, HeldMedia.verification_id == verification_id)
            .order_by(HeldMedia.position)
        )
    )
    out = [
        StoredMedia(
            row.kind,
            row.title,
            ring.decrypt(bytes(row.data_sealed), held_aad(verification_id, row.id)),
            row.content_type,
            dict(row.notes or {}),
        )
        for row in rows
        if row.held_until > now
    ]
    if rows:
        session.execute(delete(HeldMedia).where(HeldMedia.id.in_([r.id for r in rows])))
    return out


def purge_held_media(store: Store, now: datetime, *, dry_run: bool = False) -> int:
    """Delete the held images whose hold has ended; returns how many went (or would go)."""
    return _purge_images(
        store,
        HeldMedia,
        select(HeldMedia.id).where(HeldMedia.held_until <= now),
        dry_run=dry_run,
        action="case.held_media_purged",
        payload=lambda _session, ids: {"media": len(ids), "held_until_before": now.isoformat()},
    )


def _purge_images(
    store: Store,
    model: type[CaseMedia] | type[HeldMedia],
    expired: Select[Any],
    *,
    dry_run: bool,
    action: str,
    payload: Callable[[Session, list[str]], dict[str, Any]],
) -> int:
    """Delete the image rows ``expired`` selects (by id) with one audit entry; count them on a dry run."""
    with store.transaction() as session:
        if dry_run:
            return int(session.scalar(select(func.count()).select_from(expired.subquery())) or 0)
        ids = list(session.scalars(expired))
        if not ids:
            return 0
        audited = payload(session, ids)  # read before the rows go
        session.execute(delete(model).where(model.id.in_(ids)))
        audit.append(session, actor="purge", action=action, subject=None, payload=audited)
        return len(ids)


# ---------------------------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueueFilter:
    state: str | None = None
    reason_code: str | None = None
    assignee: str | None = None
    min_age: timedelta | None = None
    sla: str | None = None


def queue_page(
    session: Session,
    tenant: str,
    filters: QueueFilter,
    *,
    now: datetime,
    due_soon: timedelta,
    limit: int,
    cursor: str | None,
) -> tuple[list[ReviewCase], str | None]:
    """One page of the tenant's cases, most urgent first, and the next page's cursor (None on the last)."""
    query = select(ReviewCase).where(ReviewCase.tenant_id == tenant)
    if filters.state == "active":
        query = query.where(ReviewCase.state.in_(ACTIVE_STATES))
    elif filters.state is not None:
        query = query.where(ReviewCase.state == filters.state)
    if filters.reason_code is not None:
        query = query.where(ReviewCase.reason_index.like(f"%,{filters.reason_code},%"))
    if filters.assignee is not None:
        query = query.where(ReviewCase.assignee == filters.assignee)
    if filters.min_age is not None:
        query = query.where(ReviewCase.opened_at <= now - filters.min_age)
    if filters.sla is not None:
        query = query.where(ReviewCase.state.in_(ACTIVE_STATES))
        if filters.sla == "breached":
            query = query.where(ReviewCase.due_at < now)
        elif filters.sla == "due_soon":
            query = query.where(ReviewCase.due_at >= now, ReviewCase.due_at < now + due_soon)
        else:
            query = query.where(ReviewCase.due_at >= now + due_soon)
    if cursor:
        at, case_id = decode_cursor(cursor)
        query = query.where(
            or_(ReviewCase.due_at > at, and_(ReviewCase.due_at == at, ReviewCase.id > case_id))
        )
    query = query.order_by(ReviewCase.due_at, ReviewCase.id).limit(limit + 1)
    rows = list(session.execute(query).scalars())
    page = rows[:limit]
    return page, encode_cursor(page[-1].due_at, page[-1].id) if len(rows) > limit else None


def decided_cases(session: Session, tenant: str | None) -> list[ReviewCase]:
    """Decided cases (every tenant's when ``tenant`` is None), oldest decision first."""
    query = select(ReviewCase).where(ReviewCase.state == DECIDED, ReviewCase.final_outcome.is_not(None))
    if tenant is not None:
        query = query.where(ReviewCase.tenant_id == tenant)
    return list(session.execute(query.order_by(ReviewCase.decided_at, ReviewCase.id)).scalars())


# ---------------------------------------------------------------------------------------------- erasure


def export_cases(store: Store, tenant: str, verification_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The review cases of these verifications for a subject's export: what was decided and why, and
    which images are kept (not the images, nor who reviewed: that is the tenant's staff's data)."""
    if not verification_ids:
        return []
    with store.transaction() as session:
        cases = cases_of_verifications(session, tenant, verification_ids)
        return [
            {
                "case_id": case.id,
                "verification_id": case.verification_id,
                "state": case.state,
                "automated_outcome": case.automated_outcome,
                "final_outcome": case.final_outcome,
                "opened_at": case.opened_at.isoformat(),
                "decided_at": case.decided_at.isoformat() if case.decided_at else None,
                "decision_reason": case.decision_reason,
                "images": [m.kind for m in media_of(session, case.id)],
            }
            for case in sorted(cases.values(), key=lambda c: c.opened_at)
        ]


def delete_cases_of(session: Session, verification_ids: Sequence[str]) -> int:
    """Delete the cases of these verifications with their events and media, and any images held for a
    contest of them (erasure, retention); returns how many cases went. The audit log keeps its
    ``case.*`` entries, which hold no free text or images."""
    if not verification_ids:
        return 0
    session.execute(delete(HeldMedia).where(HeldMedia.verification_id.in_(list(verification_ids))))
    case_ids = list(
        session.scalars(select(ReviewCase.id).where(ReviewCase.verification_id.in_(list(verification_ids))))
    )
    if not case_ids:
        return 0
    session.execute(delete(CaseMedia).where(CaseMedia.case_id.in_(case_ids)))
    session.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(case_ids)))
    session.execute(delete(ReviewCase).where(ReviewCase.id.in_(case_ids)))
    return len(case_ids)


def purge_case_media(store: Store, before: datetime, *, dry_run: bool = False) -> int:
    """Drop the images of cases decided before ``before`` (``OPENIDV_RETENTION_CASE_MEDIA_DAYS``); the
    case, its trail and its decision stay. Returns how many images went (or would go)."""
    expired = (
        select(CaseMedia.id)
        .join(ReviewCase, ReviewCase.id == CaseMedia.case_id)
        .where(ReviewCase.state == DECIDED, ReviewCase.decided_at < before)
    )

    def payload(session: Session, ids: list[str]) -> dict[str, Any]:
        cases = list(session.scalars(select(CaseMedia.case_id).where(CaseMedia.id.in_(ids)).distinct()))
        return {"media": len(ids), "cases": len(cases), "decided_before": before.isoformat()}

    return _purge_images(
        store, CaseMedia, expired, dry_run=dry_run, action="case.media_purged", payload=payload
    )
