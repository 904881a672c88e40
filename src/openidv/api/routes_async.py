"""Async verifications at the API: queueing (``mode: async`` or ``Prefer: respond-async``), job status,
and the list of a tenant's verifications (``GET /v1/verifications``).

The job queue and the webhook store need the biometric key (queued evidence and webhook secrets are
encrypted with it); they are built on first use, so an API without a key still serves synchronous
verifications, and an async request without one is a 503 naming the missing key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openidv.api.auth import Caller, get_store
from openidv.crypto import load_cipher
from openidv.errors import ConfigurationError
from openidv.evidence import Evidence
from openidv.services.review_cases import verification_review
from openidv.store.job_evidence import pack_evidence
from openidv.store.job_queue import JobQueue, JobStatus
from openidv.store.repository import ApiKeyInfo, Store
from openidv.store.verification_list import list_verifications
from openidv.store.webhook_store import WebhookStore
from openidv.verification import VerificationRecord

router = APIRouter()


class JobStatusOut(BaseModel):
    """An async verification until it completes (then ``GET`` answers the verification itself, with
    ``status: completed``)."""

    id: str
    status: Literal["queued", "running", "completed", "failed"]
    status_url: str
    created_at: str
    error: str | None = Field(default=None, description="Why it failed (no personal data)")


def job_queue(request: Request) -> JobQueue:
    state = request.app.state
    if getattr(state, "job_queue", None) is None:
        state.job_queue = JobQueue(state.store, load_cipher(state.settings))
    queue: JobQueue = state.job_queue
    return queue


def webhook_store(request: Request) -> WebhookStore:
    state = request.app.state
    if getattr(state, "webhook_store", None) is None:
        state.webhook_store = WebhookStore(
            state.store, load_cipher(state.settings), allow_private=state.settings.webhook_allow_private
        )
    webhooks: WebhookStore = state.webhook_store
    return webhooks


def wants_async(mode: str | None, prefer: str | None) -> bool:
    """An explicit ``mode`` wins; otherwise RFC 7240 ``Prefer: respond-async``."""
    if mode is not None:
        return mode == "async"
    tokens = {t.split("=")[0].strip().lower() for part in (prefer or "").split(",") for t in part.split(";")}
    return "respond-async" in tokens


def status_url(job_id: str) -> str:
    return f"/v1/verifications/{job_id}"


def job_body(job: JobStatus) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "status_url": status_url(job.id),
        "created_at": job.created_at.isoformat(),
    }
    if job.error and job.status == "failed":
        body["error"] = job.error
    return body


async def reviewed_answer(store: Store, tenant: str, record: VerificationRecord) -> dict[str, Any]:
    """The verification's answer with its human review: ``review`` (the case a ``review`` decision
    opened, or None) and ``final_outcome``; the automated ``decision`` is unchanged. Every answer that
    returns a stored verification (synchronous, replayed, or found by an async idempotent replay) uses it."""
    body = record.to_api()
    body.update(await run_in_threadpool(verification_review, store, tenant, record.id, body["decision"]))
    return body


async def enqueue_verification(
    request: Request, evidence: Evidence, digest: str, key: ApiKeyInfo, idempotency_key: str | None
) -> JSONResponse:
    """202 with the job's status URL; a repeated Idempotency-Key with the same body answers the same job
    (or the synchronous verification stored under that key)."""
    queue = job_queue(request)
    if idempotency_key:
        store: Store = request.app.state.store
        earlier = await run_in_threadpool(store.find_idempotent, key.id, idempotency_key, digest)
        if earlier is not None:
            return JSONResponse(
                await reviewed_answer(store, key.tenant_id, earlier),
                status_code=200,
                headers={"Idempotent-Replayed": "true"},
            )
    packed = await run_in_threadpool(pack_evidence, evidence)
    job, created = await run_in_threadpool(
        lambda: queue.enqueue(
            packed,
            tenant_id=key.tenant_id,
            request_hash=digest,
            api_key_id=key.id,
            idempotency_key=idempotency_key,
        )
    )
    headers = {"Location": status_url(job.id), "Preference-Applied": "respond-async"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    else:
        request.app.state.metrics.jobs_enqueued.inc()
    return JSONResponse(job_body(job), status_code=202, headers=headers)


async def replay_job(
    request: Request, key: ApiKeyInfo, idempotency_key: str, digest: str
) -> JSONResponse | None:
    """For a synchronous request: the async job already queued under this Idempotency-Key (the same key
    names the same work whichever mode asked for it), or None."""
    try:
        queue = job_queue(request)
    except ConfigurationError:  # no key configured: no job can exist
        return None
    job = await run_in_threadpool(queue.find_idempotent, key.id, idempotency_key, digest)
    if job is None:
        return None
    headers = {"Location": status_url(job.id), "Idempotent-Replayed": "true"}
    return JSONResponse(job_body(job), status_code=202, headers=headers)


def get_async_status(request: Request, verification_id: str, tenant_id: str) -> dict[str, Any] | None:
    """A job's status body while it is not completed; None when there is no such job (a synchronous
    verification, or a completed job: then the stored verification answers, with ``status``)."""
    state = request.app.state
    if getattr(state, "job_queue", None) is None:
        try:
            job_queue(request)
        except ConfigurationError:  # no key configured: no job can exist
            return None
    job = state.job_queue.status(verification_id, tenant_id)
    if job is None:
        return None
    return job_body(job)


@router.get("/v1/verifications", tags=["verifications"])
def list_route(
    key: Caller,
    store: Annotated[Store, Depends(get_store)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["queued", "running", "completed", "failed"] | None, Query()] = None,
    outcome: Annotated[Literal["approve", "review", "reject"] | None, Query()] = None,
) -> dict[str, Any]:
    """The caller's tenant's verifications, newest first, without details; pass ``next_cursor`` back as
    ``cursor`` for the next page (it is null on the last)."""
    items, next_cursor = list_verifications(
        store, key.tenant_id, limit=limit, cursor=cursor, status=status, outcome=outcome
    )
    return {"items": [i.to_api() for i in items], "next_cursor": next_cursor}
