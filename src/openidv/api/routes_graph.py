"""HTTP route for investigators: one account of the identity graph, within the caller's tenant.

``GET /v1/graph/accounts/{account_id}`` (scope ``graph:read``): the account's identifiers (how many accounts
hold each, its weight, whether it is a hub), the accounts linked to it within two hops and what they share,
its ring (members and shared identifiers), its graph score with its meaning and reason codes, and ``values``:
the clear value behind each pseudonymous key mentioned (phone numbers, emails, addresses...). 404 when the
tenant's graph has no such account. The account id is the verification's ``subject_id`` (or the
verification id when it had none).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from openidv.api.auth import Caller
from openidv.errors import ConfigurationError
from openidv.services.graph_service import GraphService

router = APIRouter(prefix="/v1/graph", tags=["graph"])

AccountId = Annotated[
    str, Path(min_length=1, max_length=200, description="The account: a subject id or a verification id")
]


def _graph(request: Request) -> GraphService:
    service = getattr(getattr(request.app.state, "services", None), "identity_graph", None)
    if service is None:
        raise ConfigurationError("this deployment has no identity graph service")
    graph: GraphService = service
    return graph


@router.get("/accounts/{account_id}", responses={404: {"description": "No such account in the graph"}})
async def graph_account(
    account_id: AccountId,
    key: Caller,
    request: Request,
    reveal: Annotated[bool, Query(description="Include the clear values of the identifier keys")] = True,
) -> dict[str, Any]:
    """The account's neighbourhood, ring, graph score and the values behind its identifier keys."""
    return await run_in_threadpool(_graph(request).describe, account_id, tenant=key.tenant_id, reveal=reveal)
