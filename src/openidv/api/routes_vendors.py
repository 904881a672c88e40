"""``GET /v1/vendors/status`` (scope ``verifications:read``): the external vendors this deployment routes to,
each with its circuit breaker's state, measured median latency, cost and what it serves, and the drift
monitors' standing alerts (docs/vendors.md). A deployment without ``OPENIDV_VENDORS`` has no such resource:
404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from openidv.api.auth import Caller
from openidv.errors import NotFound

router = APIRouter(prefix="/v1/vendors", tags=["vendors"])


@router.get("/status", responses={404: {"description": "This deployment routes to no vendors"}})
async def vendors_status(key: Caller, request: Request) -> dict[str, Any]:
    """Circuits, latency, cost and drift alerts of the configured vendors."""
    service = getattr(getattr(request.app.state, "services", None), "vendor_router", None)
    status = getattr(service, "status", None)
    if status is None:
        raise NotFound("this deployment routes to no vendors (set OPENIDV_VENDORS)")
    result: dict[str, Any] = status()
    return result
