"""HTTP routes of the human review queue (``openidv.services.review_cases``), within the caller's tenant.

So a team can plug in its own review tools; the console works the same queue through the same service.

- ``GET /v1/cases`` (``cases:read``): the queue, most urgent first; filters ``state`` (or ``active``),
  ``reason_code``,
  ``assignee``, ``min_age_s``, ``sla`` (breached, due_soon, ok), ``limit``, ``cursor``.
- ``GET /v1/cases/{case_id}`` (``cases:read``): the case, its trail, its images (ids), the verification.
- ``GET /v1/cases/{case_id}/media/{media_id}`` (``cases:read``): one image, ``Cache-Control: no-store``.
- ``POST /v1/cases`` (``cases:supervise``): open a case for a verification.
- ``POST /v1/cases/{case_id}/claim`` and ``/release`` (``cases:review``).
- ``POST /v1/cases/{case_id}/decision`` (``cases:review``): ``{reviewer, outcome, reason}``.
- ``POST /v1/cases/{case_id}/confirmation`` (``cases:supervise``): ``{reviewer, accept, reason}``.

Who acts: every POST names ``reviewer``, the team's own id for the person acting (letters, digits,
``._@+-``, at most 64). The actor is ``api:<reviewer>`` (one namespace per tenant, whichever key calls:
four eyes compares these ids), with the role from the key's scopes (``cases:supervise``: supervisor, else
analyst); the audit entry records the key too (``via``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openidv.api.auth import Caller
from openidv.api.routes_async import webhook_store
from openidv.services.review_cases import ANALYST, SUPERVISOR, ReviewCases, Reviewer
from openidv.store.repository import ApiKeyInfo

router = APIRouter(prefix="/v1/cases", tags=["cases"])

SUPERVISE_SCOPE = "cases:supervise"
_REVIEWER = Field(
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9._@+-]+$",
    description="Your id for the person acting (four eyes compares these ids)",
)
_REASON = Field(min_length=1, max_length=2000, description="Why, in a few words (kept with the case)")
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The case's state does not allow this (claimed by someone else...)"}
}

CaseId = Annotated[str, Path(min_length=1, max_length=36)]
MediaId = Annotated[str, Path(min_length=1, max_length=36)]


class ReviewerIn(BaseModel):
    reviewer: str = _REVIEWER


class OpenCaseIn(BaseModel):
    reviewer: str = _REVIEWER
    verification_id: str = Field(min_length=1, max_length=36)
    reason: str = _REASON


class DecisionIn(BaseModel):
    reviewer: str = _REVIEWER
    outcome: Literal["approve", "reject", "escalate"]
    reason: str = _REASON


class ConfirmationIn(BaseModel):
    reviewer: str = _REVIEWER
    accept: bool
    reason: str = _REASON


def get_review_cases(request: Request) -> ReviewCases:
    """The app's one ``ReviewCases`` (the console works the same instance, so both see one queue)."""
    state = request.app.state
    if getattr(state, "review_cases", None) is None:
        state.review_cases = ReviewCases(
            state.store,
            sla=timedelta(hours=state.settings.review_sla_hours),
            webhooks=webhook_store(request),
        )
    cases: ReviewCases = state.review_cases
    return cases


Cases = Annotated[ReviewCases, Depends(get_review_cases)]


def reviewer_of(key: ApiKeyInfo, reviewer: str) -> Reviewer:
    """The actor of an API call: the tool's reviewer id, with the role the key's scopes give."""
    role = SUPERVISOR if SUPERVISE_SCOPE in key.scopes else ANALYST
    return Reviewer(f"api:{reviewer}", role, via=f"api_key:{key.id}")


@router.get("")
async def list_cases(
    key: Caller,
    cases: Cases,
    state: Annotated[
        Literal["open", "claimed", "escalated", "awaiting_confirmation", "decided", "active"] | None,
        Query(description="a state, or active: every state but decided"),
    ] = None,
    reason_code: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Z0-9_]+$")] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    min_age_s: Annotated[int | None, Query(ge=0, le=10 * 365 * 86400)] = None,
    sla: Annotated[Literal["breached", "due_soon", "ok"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The tenant's review queue, earliest due first; ``next_cursor`` fetches the next page."""
    page = await run_in_threadpool(
        lambda: cases.list_cases(
            key.tenant_id,
            state=state,
            reason_code=reason_code,
            assignee=assignee,
            min_age=timedelta(seconds=min_age_s) if min_age_s is not None else None,
            sla=sla,
            limit=limit,
            cursor=cursor,
        )
    )
    return {"items": [i.to_api() for i in page.items], "next_cursor": page.next_cursor}


@router.post("", status_code=201, responses=_CONFLICT)
async def open_case(body: OpenCaseIn, key: Caller, cases: Cases) -> JSONResponse:
    """Open a case for one of the tenant's verifications (a supervisor's call)."""
    actor = reviewer_of(key, body.reviewer)
    detail = await run_in_threadpool(cases.open_case, key.tenant_id, body.verification_id, actor, body.reason)
    return JSONResponse(detail.to_api(), status_code=201, headers={"Location": f"/v1/cases/{detail.id}"})


@router.get("/{case_id}")
async def get_case(case_id: CaseId, key: Caller, cases: Cases) -> dict[str, Any]:
    """The case with its trail, its images (ids: fetch each from ``media``) and its verification."""
    detail = await run_in_threadpool(cases.get_case, key.tenant_id, case_id)
    return detail.to_api()


@router.get(
    "/{case_id}/media/{media_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The image"}},
)
async def get_media(case_id: CaseId, media_id: MediaId, key: Caller, cases: Cases) -> Response:
    """One image of the case (never cached: it shows the applicant)."""
    media = await run_in_threadpool(cases.media, key.tenant_id, case_id, media_id)
    return Response(
        media.data,
        media_type=media.content_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/{case_id}/claim", responses=_CONFLICT)
async def claim_case(case_id: CaseId, body: ReviewerIn, key: Caller, cases: Cases) -> dict[str, Any]:
    """Claim the case; a supervisor may take over another reviewer's claim."""
    detail = await run_in_threadpool(cases.claim, key.tenant_id, case_id, reviewer_of(key, body.reviewer))
    return detail.to_api()


@router.post("/{case_id}/release", responses=_CONFLICT)
async def release_case(case_id: CaseId, body: ReviewerIn, key: Caller, cases: Cases) -> dict[str, Any]:
    """Give the claim back; the case returns to the queue."""
    detail = await run_in_threadpool(cases.release, key.tenant_id, case_id, reviewer_of(key, body.reviewer))
    return detail.to_api()


@router.post("/{case_id}/decision", responses=_CONFLICT)
async def decide_case(case_id: CaseId, body: DecisionIn, key: Caller, cases: Cases) -> dict[str, Any]:
    """Approve, reject or escalate the case you hold; approving a rejection waits for confirmation."""
    actor = reviewer_of(key, body.reviewer)
    detail = await run_in_threadpool(cases.decide, key.tenant_id, case_id, actor, body.outcome, body.reason)
    return detail.to_api()


@router.post("/{case_id}/confirmation", responses=_CONFLICT)
async def confirm_case(case_id: CaseId, body: ConfirmationIn, key: Caller, cases: Cases) -> dict[str, Any]:
    """Accept or refuse a pending override (a supervisor other than its proposer)."""
    actor = reviewer_of(key, body.reviewer)
    detail = await run_in_threadpool(cases.confirm, key.tenant_id, case_id, actor, body.accept, body.reason)
    return detail.to_api()
