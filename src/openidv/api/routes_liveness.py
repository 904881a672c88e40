"""HTTP routes for challenge-response liveness sessions.

Wiring (in the app)::

    from openidv.api.routes_liveness import get_liveness_service, router as liveness_router
    from openidv.checks.liveness.replay import SqlCaptureIndex, configure_capture_index
    from openidv.checks.liveness.service import LivenessService

    index = SqlCaptureIndex(store.engine)
    configure_capture_index(index)               # the `injection` check in verifications uses the same one
    liveness = LivenessService(store.engine, index=index, policy=policy)
    app.dependency_overrides[get_liveness_service] = lambda: liveness
    app.include_router(liveness_router, dependencies=[Depends(require_api_key)])

Routes (JSON; errors are problem+json through ``openidv.api.problems``):

- ``POST /v1/liveness/sessions``: 201 with ``id``, ``nonce``, ``challenges`` (a random sequence of
  ``turn_left``, ``turn_right``, ``look_up``, ``blink``, ``smile``, ``move_closer``), ``expires_at``.
- ``POST /v1/liveness/sessions/{id}/frames``: JSON ``{"nonce": ..., "frames": [{"timestamp_ms": ...,
  "image": "<base64 JPEG/PNG>"}, ...], "capture": {device_label, device_model, platform, width, height,
  fps, ...}}``. 10-150 frames of one size, each at most 1.5 MB and 2.1 megapixels; anything else is a 422
  and stores nothing (the session stays usable). 200 with ``passed``, ``reason_codes``, each challenge's
  outcome, identity continuity, injection signals, PAD/deepfake results on the best frame and that frame
  (``best_frame``, ``best_frame_jpeg_base64``); 409 with ``LIVENESS_SESSION_REUSED`` for a second submission;
  404 for an unknown session.
- ``GET /v1/liveness/sessions/{id}``: status and stored outcome (never the nonce).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from openidv.checks.liveness.service import FramesRequest, LivenessService, SessionOut
from openidv.errors import ConfigurationError

router = APIRouter(prefix="/v1/liveness", tags=["liveness"])

_default: LivenessService | None = None


def configure_liveness_service(service: LivenessService | None) -> None:
    """Set the process-wide service (the app may instead override ``get_liveness_service``)."""
    global _default
    _default = service


def get_liveness_service() -> LivenessService:
    """The liveness service routes use; the app overrides this dependency with its own service."""
    if _default is None:
        raise ConfigurationError("liveness sessions are not configured in this server")
    return _default


ServiceDep = Annotated[LivenessService, Depends(get_liveness_service)]
SessionId = Annotated[str, Path(min_length=1, max_length=64, description="Liveness session id")]


@router.post("/sessions", status_code=201, response_model=SessionOut)
async def create_session(service: ServiceDep) -> SessionOut:
    """A new single-use session: nonce, expiry and a random challenge sequence."""
    return await run_in_threadpool(service.create_session)


@router.post("/sessions/{session_id}/frames")
async def submit_frames(session_id: SessionId, body: FramesRequest, service: ServiceDep) -> JSONResponse:
    """Judge the frames of a session (once): challenges, identity, injection, passive checks, best frame."""
    outcome = await run_in_threadpool(service.submit, session_id, body)
    return JSONResponse(outcome.body, status_code=outcome.status)


@router.get("/sessions/{session_id}")
async def get_session(session_id: SessionId, service: ServiceDep) -> dict[str, Any]:
    row = await run_in_threadpool(service.get_session, session_id)
    return {
        "id": row.id,
        "challenges": row.challenges,
        "status": row.status,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "used_at": row.used_at,
        "result": row.result,
    }
