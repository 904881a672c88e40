"""Who is calling: the API key, its tenant and its scopes.

``require_api_key`` authenticates ``Authorization: Bearer <key>`` (401 problem+json when it is missing,
unknown, revoked or expired) and then checks the scope the route needs, from ``ROUTE_SCOPES`` (403 when the
key lacks it). A ``/v1`` route missing from the table is refused for every key, so a new route cannot be
reached until someone decides its scope (a test checks that every route is in the table). Routes read the
caller's tenant from the returned ``ApiKeyInfo`` and pass it to the store and services, which only ever look
inside that tenant: another tenant's id is a 404, never a 403, so ids do not leak across tenants.

After the scope, the key's rate limit is counted (``openidv.api.ratelimit``; 429 with ``Retry-After``).

The operational routes in ``PUBLIC_ROUTES`` (``/healthz``, ``/readyz``, ``/metrics``) take no key: probes and
Prometheus scrapers hold none, and they say nothing about applicants (``docs/operations.md``); nor does the
static collector script (``/openidv-collector.js``). The collector's telemetry posts
(``SESSION_TOKEN_ROUTES``) take the telemetry session's own token instead of an API key. ``/metrics``
is turned off with ``OPENIDV_METRICS=0``; otherwise bind the port privately or block it at the proxy.

The review console (every route under ``CONSOLE_PREFIX``, ``/console``) takes no API key either, by design:
people sign in there with console accounts, and each console route is guarded by a console session and a
role (``openidv.console.auth.require_role``; its own test walks the console router). Those routes are not in
the OpenAPI document and not in ``ROUTE_SCOPES``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.exceptions import HTTPException

from openidv.api.ratelimit import enforce
from openidv.store.repository import ApiKeyInfo, KeyExpired, Store

#: (method, route path) -> the scope a key needs
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("POST", "/v1/verifications"): "verifications:write",
    ("GET", "/v1/verifications/{verification_id}"): "verifications:read",
    ("GET", "/v1/verifications"): "verifications:read",
    ("POST", "/v1/webhooks"): "webhooks:manage",
    ("GET", "/v1/webhooks"): "webhooks:manage",
    ("DELETE", "/v1/webhooks/{endpoint_id}"): "webhooks:manage",
    ("POST", "/v1/galleries/{name}/faces"): "galleries:write",
    ("DELETE", "/v1/galleries/{name}/faces/{face_id}"): "galleries:write",
    ("POST", "/v1/galleries/{name}/search"): "galleries:read",
    ("GET", "/v1/galleries/{name}"): "galleries:read",
    ("POST", "/v1/liveness/sessions"): "liveness:write",
    ("POST", "/v1/liveness/sessions/{session_id}/frames"): "liveness:write",
    ("GET", "/v1/liveness/sessions/{session_id}"): "liveness:read",
    ("GET", "/v1/subjects/{subject_id}"): "subjects:read",
    ("DELETE", "/v1/subjects/{subject_id}"): "subjects:erase",
    ("GET", "/v1/graph/accounts/{account_id}"): "graph:read",
    # operational state of the shared vendors (no tenant's data): any key that may read verifications
    ("GET", "/v1/vendors/status"): "verifications:read",
    # telemetry sessions exist only to feed a verification: they need the verification scopes
    ("POST", "/v1/sessions"): "verifications:write",
    ("GET", "/v1/sessions/{session_id}"): "verifications:read",
    # human review (docs/review.md): reading the queue, working cases (analyst), supervising them
    ("GET", "/v1/cases"): "cases:read",
    ("GET", "/v1/cases/{case_id}"): "cases:read",
    ("GET", "/v1/cases/{case_id}/media/{media_id}"): "cases:read",
    ("POST", "/v1/cases"): "cases:supervise",
    ("POST", "/v1/cases/{case_id}/claim"): "cases:review",
    ("POST", "/v1/cases/{case_id}/release"): "cases:review",
    ("POST", "/v1/cases/{case_id}/decision"): "cases:review",
    ("POST", "/v1/cases/{case_id}/confirmation"): "cases:supervise",
}

#: (method, route path) of the routes that take no API key, by decision (see the module's docstring)
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openidv-collector.js")}
)

#: (method, route path) of the routes that take a telemetry session's own token instead of an API key: a
#: browser cannot hold an API key (``openidv.services.telemetry_sessions``, docs/collector.md)
SESSION_TOKEN_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("POST", "/v1/sessions/{session_id}/telemetry")}
)

#: routes under this prefix are the review console's: console sessions and roles, never API keys
CONSOLE_PREFIX = "/console"

_BEARER = {"WWW-Authenticate": "Bearer"}


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def required_scope(request: Request) -> str | None:
    """The scope the matched route needs, or None when the route is not in ``ROUTE_SCOPES``."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return ROUTE_SCOPES.get((request.method.upper(), str(path)))


def require_api_key(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    authorization: Annotated[str | None, Header()] = None,
) -> ApiKeyInfo:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "send an API key as `Authorization: Bearer <key>`", _BEARER)
    try:
        key = store.authenticate(token.strip())
    except KeyExpired as exc:
        raise HTTPException(401, f"{exc}; use its replacement", _BEARER) from None
    if key is None:
        raise HTTPException(401, "the API key is unknown or revoked", _BEARER)
    scope = required_scope(request)
    if scope is None:
        raise HTTPException(403, "this route has no scope assigned; no key may call it")
    if scope not in key.scopes:
        raise HTTPException(403, f"the API key lacks the scope {scope!r} this route needs")
    enforce(request, key.id)
    return key


#: a route's parameter: the authenticated caller (FastAPI runs ``require_api_key`` once per request)
Caller = Annotated[ApiKeyInfo, Depends(require_api_key)]
