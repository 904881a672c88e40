"""HTTP routes for challenge-response liveness sessions.

The app builds the services once and sets ``app.state.services`` (with ``liveness_sessions``, a
``openidv.services.liveness.LivenessService``); ``get_liveness_service`` reads it from there, and the app
includes ``router`` behind its API-key dependency.

Routes (JSON; errors are problem+json through ``openidv.api.problems``):

- ``POST /v1/liveness/sessions``: 201 with ``id``, ``nonce``, ``challenges`` (a random sequence of
  ``turn_left``, ``turn_right``, ``look_up``, ``blink``, ``smile``, ``move_closer``), ``expires_at``.
- ``POST /v1/liveness/sessions/{id}/frames``: JSON ``{"nonce": ..., "frames": [{"timestamp_ms": ...,
  "image": "<base64 JPEG/PNG>"}, ...], "capture": {device_label, device_model, platform, width, height,
  fps, ...}}``. 10-150 frames of one size, each at most 1.5 MB and 2.1 megapixels, 64 megapixels in all;
  anything else is a 422 and stores nothing (the session stays usable). 200 with ``passed``,
  ``reason_codes``, each challenge's outcome, identity continuity, injection signals, PAD/deepfake results on
  the best frame and that frame (``best_frame``, ``best_frame_jpeg_base64``); 409 with
  ``LIVENESS_SESSION_REUSED`` for a second submission; 404 for an unknown session.
- ``GET /v1/liveness/sessions/{id}``: status and stored outcome (never the nonce).

A session belongs to the tenant (and records the key) that created it; another tenant's session is a 404,
and a verification can only use a session of its own tenant.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from openidv.api.auth import Caller
from openidv.api.liveness_schemas import FramesRequest, SessionOut
from openidv.errors import ConfigurationError
from openidv.services.liveness import LivenessService, Submission

router = APIRouter(prefix="/v1/liveness", tags=["liveness"])


def get_liveness_service(request: Request) -> LivenessService:
    """The liveness service the app built (``app.state.services.liveness_sessions``)."""
    services = getattr(request.app.state, "services", None)
    service: LivenessService | None = getattr(services, "liveness_sessions", None)
    if service is None:
        raise ConfigurationError("liveness sessions are not configured in this server")
    return service


ServiceDep = Annotated[LivenessService, Depends(get_liveness_service)]
SessionId = Annotated[str, Path(min_length=1, max_length=64, description="Liveness session id")]


def http_status(submission: Submission) -> int:
    """A second submission of a session is a conflict; every judged (or expired) submission is a 200."""
    return 409 if submission.reused else 200


@router.post("/sessions", status_code=201, response_model=SessionOut)
async def create_session(service: ServiceDep, key: Caller) -> SessionOut:
    """A new single-use session: nonce, expiry and a random challenge sequence."""
    return SessionOut.of(
        await run_in_threadpool(lambda: service.create_session(api_key_id=key.id, tenant=key.tenant_id))
    )


@router.post("/sessions/{session_id}/frames")
async def submit_frames(
    session_id: SessionId, body: FramesRequest, service: ServiceDep, key: Caller
) -> JSONResponse:
    """Judge the frames of a session (once): challenges, identity, injection, passive checks, best frame."""
    frames = body.submitted_frames()  # bad base64 is a 422 before the session is touched
    outcome = await run_in_threadpool(
        lambda: service.submit(
            session_id, frames, nonce=body.nonce, capture=body.capture, tenant=key.tenant_id
        )
    )
    return JSONResponse(outcome.body, status_code=http_status(outcome))


@router.get("/sessions/{session_id}")
async def get_session(session_id: SessionId, service: ServiceDep, key: Caller) -> dict[str, Any]:
    row = await run_in_threadpool(lambda: service.get_session(session_id, tenant=key.tenant_id))
    return {
        "id": row.id,
        "challenges": row.challenges,
        "status": row.status,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "used_at": row.used_at,
        "result": row.result,
    }
