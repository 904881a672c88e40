"""HTTP routes of the browser collector: telemetry sessions and the collector script itself.

- ``POST /v1/sessions`` (API key, ``verifications:write``): a new telemetry session of the caller's tenant;
  201 with ``session_id``, ``token`` (give it to the page: it can only append telemetry to this session),
  ``expires_at``, ``collector_url`` and ``telemetry_url``.
- ``POST /v1/sessions/{session_id}/telemetry`` (the session's token as ``Authorization: Bearer``, not an API
  key): one batch in the ``openidv.telemetry/1`` schema (``openidv.telemetry.Telemetry``); 200 with counts.
  401 wrong token, 404 unknown session, 409 already used by a verification, 410 expired, 413 body over
  ``MAX_TELEMETRY_BYTES`` (refused before it is read whole) or session over ``MAX_EVENTS``, 415 not JSON,
  422 naming the field (unknown schema, negative / non-finite / unordered ``t``, non-finite coordinates,
  a batch starting before the last stored event). Every refusal stores nothing.
- ``GET /v1/sessions/{session_id}`` (API key, ``verifications:read``): status and counts, never events.
- ``GET /openidv-collector.js`` (no key: it is a static script): the collector (``docs/collector.md``).

Pages on other origins reach the telemetry route through ``CollectorCors`` (``OPENIDV_COLLECTOR_ORIGINS``).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect

from openidv.api.auth import Caller
from openidv.api.problems import problem, validation_problem
from openidv.errors import BodyTooLarge
from openidv.services.telemetry_sessions import (
    SessionExpired,
    TelemetrySessions,
    TokenRefused,
    TooManyEvents,
    paused_gc,
)
from openidv.telemetry import MAX_EVENTS_PER_BATCH, Event, Telemetry

#: one post: 50,000 events at up to ~300 bytes each (every field present, a 64-character field name)
MAX_TELEMETRY_BYTES = 16 * 1024 * 1024
COLLECTOR_PATH = "/openidv-collector.js"

router = APIRouter(tags=["telemetry"])
public_router = APIRouter(tags=["telemetry"])


class TelemetryBatchIn(Telemetry):
    """One post of ``POST /v1/sessions/{id}/telemetry``: the telemetry schema, at most
    ``MAX_EVENTS_PER_BATCH`` events."""

    model_config = ConfigDict(title="TelemetryBatch")

    events: tuple[Event, ...] = Field(default=(), max_length=MAX_EVENTS_PER_BATCH)


class SessionCreated(BaseModel):
    session_id: str
    token: str = Field(description="Bearer token for the collector's telemetry posts to this session only")
    created_at: str
    expires_at: str
    collector_url: str
    telemetry_url: str


class TelemetryAccepted(BaseModel):
    session_id: str
    accepted_events: int
    total_events: int
    batches: int
    last_t: float | None = Field(
        description="t of the last stored event: the next batch starts there or later"
    )
    device_stored: bool


class SessionStatus(BaseModel):
    session_id: str
    status: str = Field(description="open (accepting telemetry), used (read by a verification) or expired")
    created_at: str
    expires_at: str
    used_at: str | None
    source: str | None
    events: int
    batches: int
    last_t: float | None
    device_stored: bool
    device_changes: int
    viewport_width: int | None
    viewport_height: int | None


def get_telemetry_sessions(request: Request) -> TelemetrySessions:
    """Built on first use from the app's store and settings (it holds no state of its own)."""
    state = request.app.state
    if getattr(state, "telemetry_sessions", None) is None:
        state.telemetry_sessions = TelemetrySessions.from_settings(state.store, state.settings)
    service: TelemetrySessions = state.telemetry_sessions
    return service


ServiceDep = Annotated[TelemetrySessions, Depends(get_telemetry_sessions)]
SessionId = Annotated[str, Path(min_length=1, max_length=64, description="Telemetry session id")]


@router.post("/v1/sessions", status_code=201, response_model=SessionCreated)
async def create_session(key: Caller, service: ServiceDep) -> SessionCreated:
    """A telemetry session for one applicant's onboarding; hand ``session_id`` and ``token`` to the page."""
    new = await run_in_threadpool(lambda: service.create(tenant=key.tenant_id, api_key_id=key.id))
    return SessionCreated(
        session_id=new.id,
        token=new.token,
        created_at=new.created_at.isoformat(),
        expires_at=new.expires_at.isoformat(),
        collector_url=COLLECTOR_PATH,
        telemetry_url=f"/v1/sessions/{new.id}/telemetry",
    )


@router.get("/v1/sessions/{session_id}", response_model=SessionStatus)
async def get_session(session_id: SessionId, key: Caller, service: ServiceDep) -> dict[str, Any]:
    return await run_in_threadpool(lambda: service.status(session_id, tenant=key.tenant_id))


_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TelemetryBatch"}}},
    }
}


@public_router.post(
    "/v1/sessions/{session_id}/telemetry",
    response_model=TelemetryAccepted,
    openapi_extra=_BATCH_BODY,
    responses={
        401: {"description": "No telemetry token, or not this session's"},
        409: {"description": "A verification already used this session"},
        410: {"description": "The session expired"},
        413: {"description": "Body over 16 MiB, or the session would pass its event limit"},
    },
)
async def post_telemetry(
    session_id: SessionId,
    request: Request,
    service: ServiceDep,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Append one batch of events (and device attributes) from the collector."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_TELEMETRY_BYTES:
        return _too_large()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return problem(415, f"unsupported content type {media_type!r}; send application/json")
    scheme, _, token = (authorization or "").partition(" ")
    try:
        await run_in_threadpool(
            service.authorize, session_id, token.strip() if scheme.lower() == "bearer" else None
        )
        raw = await _read_capped(request, MAX_TELEMETRY_BYTES)
        try:
            batch = await run_in_threadpool(_parse, raw)  # 50,000 events take a few hundred ms
        except ValidationError as exc:
            return validation_problem(list(exc.errors()))
        accepted = await run_in_threadpool(service.append, session_id, token.strip(), batch)
    except TokenRefused as exc:
        return problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})
    except SessionExpired as exc:
        return problem(410, str(exc))
    except (TooManyEvents, BodyTooLarge) as exc:
        return problem(413, str(exc))
    except ClientDisconnect:  # the page went away mid-post: nothing was stored, nobody reads an answer
        return problem(400, "the client disconnected before the body was complete")
    return JSONResponse(accepted.to_api())


def _parse(raw: bytes) -> TelemetryBatchIn:
    with paused_gc(len(raw) // 1_000_000):  # only for bodies of two megabytes or more
        return TelemetryBatchIn.model_validate_json(raw)


def _too_large() -> JSONResponse:
    return problem(413, f"a telemetry post is at most {MAX_TELEMETRY_BYTES} bytes; send smaller batches")


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"a telemetry post is at most {limit} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def collector_script() -> bytes:
    """The collector as shipped inside the package (``openidv/api/static/openidv-collector.js``)."""
    return resources.files("openidv.api").joinpath("static", "openidv-collector.js").read_bytes()


@public_router.get(
    COLLECTOR_PATH,
    response_class=Response,
    responses={200: {"content": {"text/javascript": {"schema": {"type": "string"}}}}},
)
def get_collector() -> Response:
    """The browser collector: ``<script src="/openidv-collector.js"></script>`` (docs/collector.md)."""
    return Response(
        collector_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
