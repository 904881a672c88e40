"""``GET /v1/verifications``: a tenant's verifications, newest first, one page at a time.

A page merges stored verifications (``completed``) with async jobs not yet stored (``queued``, ``running``,
``failed``); both are ordered by ``(created_at, id)`` descending, and the cursor is the last item's pair,
so a page never repeats or skips an item while new ones arrive (keyset pagination). The cursor is opaque
to clients (base64url JSON); a malformed one is ``InvalidInput``. Items carry no details, only
``id, created_at, status, outcome``, and for a verification with a human review case ``review`` (case id
and state) and ``final_outcome`` (the human decision once the case is decided, else the automated one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from openidv.errors import InvalidInput
from openidv.results import Outcome
from openidv.store.keyset_cursor import decode_cursor, encode_cursor
from openidv.store.models import DecisionRow, Verification
from openidv.store.queue_tables import COMPLETED, FAILED, QUEUED, RUNNING, Job
from openidv.store.repository import Store
from openidv.store.review_tables import ReviewCase

STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED)
MAX_LIMIT = 100


@dataclass(frozen=True)
class ListItem:
    id: str
    created_at: datetime
    status: str
    outcome: str | None
    case_id: str | None = None
    case_state: str | None = None
    case_outcome: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
            "outcome": self.outcome,
            "final_outcome": self.case_outcome or self.outcome,
            "review": None if self.case_id is None else {"case_id": self.case_id, "state": self.case_state},
        }


def list_verifications(
    store: Store,
    tenant_id: str,
    *,
    limit: int = 20,
    cursor: str | None = None,
    status: str | None = None,
    outcome: str | None = None,
) -> tuple[list[ListItem], str | None]:
    """One page of the tenant's verifications and the cursor of the next page (None on the last)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: between 1 and {MAX_LIMIT}")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)}")
    outcomes = [o.value for o in Outcome]
    if outcome is not None and outcome not in outcomes:
        raise InvalidInput(f"outcome: one of {', '.join(outcomes)}")
    after = decode_cursor(cursor) if cursor else None
    items: list[ListItem] = []
    with store.transaction() as session:
        if status in (None, COMPLETED):
            query = (
                select(
                    Verification.id,
                    Verification.created_at,
                    DecisionRow.outcome,
                    ReviewCase.id,
                    ReviewCase.state,
                    ReviewCase.final_outcome,
                )
                .join(DecisionRow, DecisionRow.verification_id == Verification.id)
                .outerjoin(
                    ReviewCase,
                    and_(
                        ReviewCase.verification_id == Verification.id,
                        ReviewCase.tenant_id == Verification.tenant_id,
                    ),
                )
                .where(Verification.tenant_id == tenant_id)
            )
            if outcome is not None:
                query = query.where(DecisionRow.outcome == outcome)
            if after is not None:
                query = query.where(_before(Verification.created_at, Verification.id, after))
            query = query.order_by(Verification.created_at.desc(), Verification.id.desc()).limit(limit + 1)
            items += [
                ListItem(i, at, COMPLETED, o, case, state, final)
                for i, at, o, case, state, final in session.execute(query).all()
            ]
        if outcome is None and status != COMPLETED:
            wanted = [status] if status else [QUEUED, RUNNING, FAILED]
            jobs = select(Job.id, Job.created_at, Job.status).where(
                Job.tenant_id == tenant_id, Job.status.in_(wanted)
            )
            if after is not None:
                jobs = jobs.where(_before(Job.created_at, Job.id, after))
            jobs = jobs.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
            items += [ListItem(i, at, s, None) for i, at, s in session.execute(jobs).all()]
    items.sort(key=lambda it: (it.created_at, it.id), reverse=True)
    page = items[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(items) > limit else None
    return page, next_cursor


def _before(created: Any, ident: Any, after: tuple[datetime, str]) -> Any:
    at, item_id = after
    return or_(created < at, and_(created == at, ident < item_id))
