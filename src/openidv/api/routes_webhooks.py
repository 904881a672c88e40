"""``/v1/webhooks``: a tenant registers, lists and removes its webhook endpoints (scope ``webhooks:manage``).

Registering answers the signing secret once; it is stored encrypted and never shown again (remove and add
the endpoint to rotate it). Another tenant's endpoint id is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from openidv.api.auth import Caller
from openidv.api.routes_async import webhook_store
from openidv.store.webhook_store import MAX_URL, WebhookStore

router = APIRouter()


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL, description="An http(s) URL that receives events.")


@router.post("/v1/webhooks", tags=["webhooks"], status_code=201)
async def add_webhook(
    body: WebhookIn, key: Caller, webhooks: Annotated[WebhookStore, Depends(webhook_store)]
) -> JSONResponse:
    """Register an endpoint; the answer holds its signing ``secret``, shown only this once."""
    info, secret = await run_in_threadpool(
        lambda: webhooks.add_endpoint(key.tenant_id, body.url, actor=f"api_key:{key.id}")
    )
    return JSONResponse(
        {**info.to_api(), "secret": secret}, status_code=201, headers={"Location": f"/v1/webhooks/{info.id}"}
    )


@router.get("/v1/webhooks", tags=["webhooks"])
def list_webhooks(key: Caller, webhooks: Annotated[WebhookStore, Depends(webhook_store)]) -> dict[str, Any]:
    return {"items": [e.to_api() for e in webhooks.list_endpoints(key.tenant_id)]}


@router.delete("/v1/webhooks/{endpoint_id}", tags=["webhooks"], status_code=204)
def remove_webhook(
    request: Request,
    key: Caller,
    webhooks: Annotated[WebhookStore, Depends(webhook_store)],
    endpoint_id: Annotated[str, Path(max_length=36)],
) -> Response:
    webhooks.remove_endpoint(key.tenant_id, endpoint_id, actor=f"api_key:{key.id}")
    return Response(status_code=204)
