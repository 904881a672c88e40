"""The HTTP API (FastAPI). ``openidv serve`` runs it; ``create_app`` builds it for tests and embedding.

Every ``/v1`` route needs ``Authorization: Bearer <key>`` (``openidv keys create``) whose key holds the
route's scope (``openidv.api.auth.ROUTE_SCOPES``); everything is confined to the key's tenant. Errors are
RFC 9457 problem+json. ``POST /v1/verifications`` honours ``Idempotency-Key``: the same key and body return
the same verification, the same key with another body is a 409.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

import openidv
from openidv.api import problems
from openidv.api.auth import Caller, get_store, require_api_key
from openidv.api.collector_cors import CollectorCors
from openidv.api.guard import RequestGuard
from openidv.api.limits import BodySizeLimit
from openidv.api.multipart import MULTIPART_SCHEMA, evidence_from_multipart, form_session_id
from openidv.api.observability import Metrics, ObservabilityMiddleware
from openidv.api.openapi_problems import document_problems
from openidv.api.problems import problem, validation_problem
from openidv.api.ratelimit import RateLimiter
from openidv.api.readiness import readiness
from openidv.api.routes_async import (
    JobStatusOut,
    enqueue_verification,
    get_async_status,
    replay_job,
    reviewed_answer,
    wants_async,
)
from openidv.api.routes_async import router as async_router
from openidv.api.routes_cases import get_review_cases
from openidv.api.routes_cases import router as cases_router
from openidv.api.routes_faces import router as faces_router
from openidv.api.routes_graph import router as graph_router
from openidv.api.routes_liveness import router as liveness_router
from openidv.api.routes_subjects import router as subjects_router
from openidv.api.routes_telemetry import TelemetryBatchIn, get_telemetry_sessions
from openidv.api.routes_telemetry import public_router as collector_router
from openidv.api.routes_telemetry import router as telemetry_router
from openidv.api.routes_vendors import router as vendors_router
from openidv.api.routes_webhooks import router as webhooks_router
from openidv.api.schemas import VerificationOut, VerificationRequest
from openidv.console import install_console
from openidv.decision.policy import Policy, load_policy
from openidv.errors import InvalidInput
from openidv.evidence import Evidence
from openidv.services import Services, Verifier
from openidv.services.review_cases import verification_review
from openidv.settings import Settings
from openidv.store.job_queue import queue_depth
from openidv.store.repository import Store
from openidv.store.webhook_store import outbox_counts
from openidv.verification import request_digest

_REQUEST_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/VerificationRequest"}},
            "multipart/form-data": {"schema": MULTIPART_SCHEMA},
        },
    }
}


def get_policy(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


def get_verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.verifier
    return verifier


MAX_JSON_BYTES = 64 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    policy: Policy | None = None,
    services: Services | None = None,
) -> FastAPI:
    """The app and everything it owns, built once: store, policy, services (galleries, capture index,
    liveness sessions) and the verifier that runs the policy's checks with them. Routes receive them as
    FastAPI dependencies; nothing is process-wide, so two apps in one process never share state."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        lifespan=_lifespan,
        title="openidv",
        version=openidv.__version__,
        description="Open-source identity verification: evidence in, decision with reason codes out.",
    )
    app.state.settings = settings
    app.state.store = store or Store.from_settings(settings)
    app.state.policy = policy or load_policy(settings.policy_path)
    app.state.metrics = Metrics()
    app.state.metrics.watch_queue(lambda: queue_depth(app.state.store))
    app.state.metrics.watch_outbox(lambda: outbox_counts(app.state.store))
    app.state.redis = _redis_client(settings)
    app.state.rate_limiter = (
        RateLimiter(
            app.state.redis,
            settings.rate_limit,
            settings.rate_limit_window_s,
            settings.rate_limit_prefix,
            settings.rate_limit_overrides,
        )
        if app.state.redis is not None and (settings.rate_limit > 0 or settings.rate_limit_overrides)
        else None
    )
    problems.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # inside RequestGuard, so its access line has the request id; outside the size limit, so 413s are counted
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    # preflights of the collector's telemetry posts are answered before anything else reads the request
    app.add_middleware(CollectorCors, origins=settings.collector_origins)
    app.add_middleware(RequestGuard)  # outermost of ours: a request id for everything, no NUL in URLs
    app.state.services = services or Services.open(settings, app.state.store, app.state.policy)
    # face_duplicate, injection and liveness_session inside verifications use the same services as the
    # gallery and liveness routes
    app.state.verifier = Verifier(
        app.state.policy,
        app.state.services,
        app.state.store,
        review_sla=timedelta(hours=settings.review_sla_hours),
        hold_rejected=timedelta(days=settings.review_hold_rejected_days),
    )
    _register_routes(app)
    _register_ops_routes(app, metrics_enabled=settings.metrics_enabled)
    app.include_router(faces_router, dependencies=[Depends(require_api_key)])
    app.include_router(liveness_router, dependencies=[Depends(require_api_key)])
    app.include_router(subjects_router, dependencies=[Depends(require_api_key)])
    app.include_router(graph_router, dependencies=[Depends(require_api_key)])
    app.include_router(vendors_router, dependencies=[Depends(require_api_key)])
    app.include_router(async_router, dependencies=[Depends(require_api_key)])
    app.include_router(webhooks_router, dependencies=[Depends(require_api_key)])
    app.include_router(telemetry_router, dependencies=[Depends(require_api_key)])
    app.include_router(cases_router, dependencies=[Depends(require_api_key)])
    app.include_router(collector_router)  # the script (public) and telemetry posts (a session's token)
    # the review console (/console): its own sessions and roles, no API key (openidv.api.auth)
    # the console works the very ReviewCases the /v1/cases routes use (one queue, built on first use)
    install_console(app, settings, app.state.store, review_cases=get_review_cases)
    document_problems(app)  # after every route: each operation's error responses as problem+json
    return app


def _register_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["ops"])
    def healthz(store: Annotated[Store, Depends(get_store)]) -> dict[str, str]:
        store.ping()
        return {"status": "ok", "version": openidv.__version__}

    @app.post(
        "/v1/verifications",
        tags=["verifications"],
        status_code=201,
        response_model=VerificationOut,
        openapi_extra=_REQUEST_BODY_DOC,
        responses={
            200: {"description": "Idempotent replay of an earlier verification"},
            202: {"description": "Queued (`mode: async` or `Prefer: respond-async`): poll `status_url`"},
        },
    )
    async def create_verification(
        request: Request,
        key: Caller,
        store: Annotated[Store, Depends(get_store)],
        verifier: Annotated[Verifier, Depends(get_verifier)],
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
        prefer: Annotated[str | None, Header(max_length=1000)] = None,
    ) -> JSONResponse:
        media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if media_type == "application/json":
            raw = await request.body()
            if len(raw) > MAX_JSON_BYTES:
                return problem(413, f"a JSON verification body is at most {MAX_JSON_BYTES} bytes")
            try:
                body = VerificationRequest.model_validate_json(raw)
            except ValidationError as exc:
                return validation_problem(list(exc.errors()))
            evidence = Evidence(
                mrz_text=body.mrz,
                declared=body.declared,
                applicant=body.applicant,
                liveness_session_id=body.liveness_session_id,
                subject_id=body.subject_id,
            )
            # without a telemetry session the digest is what it was before session_id existed
            unhashed = {"mode"} if body.session_id is not None else {"mode", "session_id"}
            digest = request_digest(body.model_dump(mode="json", exclude=unhashed))
            mode: str | None = body.mode
            session_id = body.session_id
        elif media_type == "multipart/form-data":
            evidence, digest = await evidence_from_multipart(request)
            form = await request.form()
            mode = _form_mode(form.get("mode"))
            session_id = form_session_id(form.get("session_id"))
        else:
            return problem(
                415, f"unsupported content type {media_type!r}; send application/json or multipart/form-data"
            )
        evidence = evidence.model_copy(update={"tenant_id": key.tenant_id})
        if session_id is not None:  # the collector's telemetry, from this tenant's session only
            telemetry = await run_in_threadpool(
                lambda: get_telemetry_sessions(request).telemetry(
                    session_id, tenant=key.tenant_id, subject_id=evidence.subject_id
                )
            )
            evidence = evidence.model_copy(update={"telemetry": telemetry})
        if wants_async(mode, prefer):
            return await enqueue_verification(request, evidence, digest, key, idempotency_key)
        if idempotency_key:
            earlier = await run_in_threadpool(store.find_idempotent, key.id, idempotency_key, digest)
            if earlier is not None:
                return JSONResponse(
                    await reviewed_answer(store, key.tenant_id, earlier),
                    status_code=200,
                    headers={"Idempotent-Replayed": "true"},
                )
            queued = await replay_job(request, key, idempotency_key, digest)
            if queued is not None:
                return queued
        record = await run_in_threadpool(
            lambda: verifier.verify(
                evidence,
                request_hash=digest,
                api_key_id=key.id,
                idempotency_key=idempotency_key,
                actor=f"api_key:{key.id}",
            )
        )
        if not record.replayed:
            request.app.state.metrics.observe_verification(record)
        if record.replayed:  # lost the race to a concurrent request with the same key: answer as a replay
            return JSONResponse(
                await reviewed_answer(store, key.tenant_id, record),
                status_code=200,
                headers={"Idempotent-Replayed": "true"},
            )
        return JSONResponse(
            await reviewed_answer(store, key.tenant_id, record),
            status_code=201,
            headers={"Location": f"/v1/verifications/{record.id}"},
        )

    @app.get(
        "/v1/verifications/{verification_id}",
        tags=["verifications"],
        response_model=VerificationOut | JobStatusOut,
    )
    def get_verification(
        verification_id: str,
        key: Caller,
        request: Request,
        store: Annotated[Store, Depends(get_store)],
    ) -> JSONResponse:
        """A stored verification; for an async one, its job's ``status`` (``queued``, ``running``,
        ``failed``) until it completes, then the verification with ``status: completed``."""
        job = get_async_status(request, verification_id, key.tenant_id)
        if job is not None and job["status"] != "completed":
            return JSONResponse(job)
        body = store.get_verification(verification_id, key.tenant_id).to_api()
        # the automated decision stays as it was; a human review case adds its block and the final outcome
        body.update(verification_review(store, key.tenant_id, verification_id, body["decision"]))
        if job is not None:
            body["status"] = "completed"
        return JSONResponse(body)

    _add_schema(app)


def _form_mode(value: object) -> str | None:
    """The multipart ``mode`` field: ``sync``, ``async`` or absent."""
    if value is None:
        return None
    if value not in ("sync", "async"):
        raise InvalidInput("mode: must be 'sync' or 'async'")
    return str(value)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    client = getattr(app.state, "redis", None)
    if client is not None:  # the rate limiter's and /readyz's connections
        client.close()


def _redis_client(settings: Settings) -> Any:
    """A Redis client when ``OPENIDV_REDIS_URL`` is set (it connects on first use), else None."""
    if not settings.redis_url:
        return None
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)


def _register_ops_routes(app: FastAPI, *, metrics_enabled: bool) -> None:
    """``/readyz`` and ``/metrics``: no API key (``openidv.api.auth.PUBLIC_ROUTES``, docs/operations.md)."""

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "A component is not ready"}})
    def readyz(store: Annotated[Store, Depends(get_store)], request: Request) -> JSONResponse:
        components = readiness(store, request.app.state.redis)
        failing = [name for name, c in components.items() if c["status"] == "error"]
        if failing:
            return problem(503, f"not ready: {', '.join(failing)}", extra={"components": components})
        return JSONResponse({"status": "ready", "components": components})

    if metrics_enabled:

        @app.get("/metrics", tags=["ops"], response_class=Response)
        def metrics(request: Request) -> Response:
            from prometheus_client import CONTENT_TYPE_LATEST

            return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _add_schema(app: FastAPI) -> None:
    """Put VerificationRequest and TelemetryBatch into components so the requestBody $refs resolve."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        request_schema = VerificationRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in request_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["VerificationRequest"] = request_schema
        batch_schema = TelemetryBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in batch_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["TelemetryBatch"] = batch_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
