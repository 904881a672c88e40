"""The review queue and the case page: the console's side of ``openidv.services.review_cases``.

The same service answers ``/v1/cases`` (``openidv.api.routes_cases``), so the queue a team reads through
the API and the one a reviewer sees here agree by construction. Forms post back and redirect (303) to the
case, so a reload never repeats an action; every POST carries the session's CSRF token (the role guards
check it). A console user acts as the reviewer ``console:<name>``: four eyes compares those ids.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from openidv.console.auth import ConsoleRefusal, ConsoleUser, SupervisorUser
from openidv.console.case_view import actions, sections
from openidv.console.render import render
from openidv.console.routes import router
from openidv.decision.reason_codes import describe
from openidv.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from openidv.services.console_accounts import ConsoleIdentity
from openidv.services.review_cases import ReviewCases, Reviewer
from openidv.store import case_store
from openidv.store.review_tables import STATES


def get_cases(request: Request) -> ReviewCases:
    cases: ReviewCases = request.app.state.console_review_cases(request)
    return cases


def reviewer(user: ConsoleIdentity) -> Reviewer:
    return Reviewer(id=f"console:{user.name}", role=user.role, via="console")


def age_text(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} days"


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {k: (q.get(k) or None) for k in ("state", "reason_code", "assignee", "sla", "min_age_h", "cursor")}


@router.get("/")
def queue(request: Request, user: ConsoleUser) -> Response:
    filters = _filters(request)
    message = None
    try:
        min_age = timedelta(hours=float(filters["min_age_h"])) if filters["min_age_h"] else None
        page = get_cases(request).list_cases(
            user.tenant,
            state={None: "active", "all": None}.get(filters["state"], filters["state"]),
            reason_code=filters["reason_code"],
            assignee=reviewer(user).id if filters["assignee"] == "me" else None,
            min_age=min_age,
            sla=filters["sla"],
            cursor=filters["cursor"],
        )
        cases, next_cursor = page.items, page.next_cursor
    except (InvalidInput, ValueError) as exc:
        cases, next_cursor = [], None
        message = {"kind": "error", "text": f"Filter not understood: {exc}"}
    query = {k: v for k, v in filters.items() if v and k != "cursor"}
    return render(
        request,
        "queue.html",
        {
            "cases": cases,
            "next_cursor": next_cursor,
            "next_href": "/console/?" + urlencode({**query, "cursor": next_cursor or ""}),
            "filters": filters,
            "states": STATES,
            "sla_filters": case_store.SLA_FILTERS,
            "describe": describe,
            "age": age_text,
            "message": message or _flash(request),
        },
        status_code=400 if message else 200,
    )


_FLASH = {
    "claimed": "You claimed this case.",
    "released": "The case is back in the queue.",
    "decided": "Decision recorded.",
    "confirmed": "Recorded.",
    "opened": "Case opened.",
}


def _flash(request: Request) -> dict[str, str] | None:
    done = request.query_params.get("done")
    return {"kind": "ok", "text": _FLASH[done]} if done in _FLASH else None


def _case_page(
    request: Request, user: ConsoleIdentity, case_id: str, message: Any = None, status: int = 200
) -> Response:
    try:
        detail = get_cases(request).get_case(user.tenant, case_id)
    except NotFound:
        raise ConsoleRefusal(404, "No such case in your tenant.") from None
    policy = request.app.state.policy
    return render(
        request,
        "case.html",
        {
            "case": detail,
            "record": detail.verification,
            "sections": sections(detail, policy),
            "actions": actions(detail, reviewer(user).id, user.role),
            "describe": describe,
            "message": message or _flash(request),
        },
        status_code=status,
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, user: ConsoleUser, case_id: str) -> Response:
    return _case_page(request, user, case_id)


@router.get("/cases/{case_id}/media/{media_id}")
def case_media(request: Request, user: ConsoleUser, case_id: str, media_id: str) -> Response:
    try:
        media = get_cases(request).media(user.tenant, case_id, media_id)
    except NotFound:
        raise ConsoleRefusal(404, "No such image.") from None
    return Response(
        media.data,
        media_type=media.content_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


async def _act(request: Request, user: ConsoleIdentity, case_id: str, done: str, action: Any) -> Response:
    """Run a case action; on success back to the case (303), on a refusal the case page with why."""
    try:
        await run_in_threadpool(action)
    except NotFound:
        raise ConsoleRefusal(404, "No such case in your tenant.") from None
    except (Conflict, PermissionDenied, InvalidInput) as exc:
        status = 403 if isinstance(exc, PermissionDenied) else 409 if isinstance(exc, Conflict) else 400
        return await run_in_threadpool(
            _case_page, request, user, case_id, {"kind": "error", "text": str(exc)}, status
        )
    return RedirectResponse(f"/console/cases/{case_id}?done={done}", status_code=303)


@router.post("/cases/{case_id}/claim")
async def claim(request: Request, user: ConsoleUser, case_id: str) -> Response:
    cases, who = get_cases(request), reviewer(user)
    return await _act(request, user, case_id, "claimed", lambda: cases.claim(user.tenant, case_id, who))


@router.post("/cases/{case_id}/release")
async def release(request: Request, user: ConsoleUser, case_id: str) -> Response:
    cases, who = get_cases(request), reviewer(user)
    return await _act(request, user, case_id, "released", lambda: cases.release(user.tenant, case_id, who))


@router.post("/cases/{case_id}/decision")
async def decide(request: Request, user: ConsoleUser, case_id: str) -> Response:
    form = await request.form()
    outcome, reason = str(form.get("outcome") or ""), str(form.get("reason") or "")
    cases, who = get_cases(request), reviewer(user)
    return await _act(
        request, user, case_id, "decided", lambda: cases.decide(user.tenant, case_id, who, outcome, reason)
    )


@router.post("/cases/{case_id}/confirmation")
async def confirm(request: Request, user: SupervisorUser, case_id: str) -> Response:
    form = await request.form()
    accept, reason = str(form.get("accept") or "") == "yes", str(form.get("reason") or "")
    cases, who = get_cases(request), reviewer(user)
    return await _act(
        request, user, case_id, "confirmed", lambda: cases.confirm(user.tenant, case_id, who, accept, reason)
    )


@router.post("/cases")
async def open_case(request: Request, user: SupervisorUser) -> Response:
    form = await request.form()
    verification_id = str(form.get("verification_id") or "").strip()
    reason = str(form.get("reason") or "")
    cases, who = get_cases(request), reviewer(user)
    try:
        detail = await run_in_threadpool(cases.open_case, user.tenant, verification_id, who, reason)
    except (NotFound, Conflict, InvalidInput, PermissionDenied) as exc:
        text = "No such verification in your tenant." if isinstance(exc, NotFound) else str(exc)
        return render(request, "error.html", {"heading": "Case not opened", "detail": text}, status_code=400)
    return RedirectResponse(f"/console/cases/{detail.id}?done=opened", status_code=303)
