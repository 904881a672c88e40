"""Every route's authorisation, from one table, on SQLite and PostgreSQL.

Each route in ``ROUTES`` is called by six callers: no key, a revoked key, an expired key, a key of tenant A
without the route's scope, a key of tenant B holding every scope, and a key of tenant A holding only the
route's scope. The first three are 401 (with ``WWW-Authenticate: Bearer``), the fourth 403, tenant B gets
the row's ``other`` status (404 for anything naming A's resources: ids do not leak across tenants) and A's
own key the row's ``own`` status. The routes that take no key (``PUBLIC``) answer every caller alike.

A route missing from the table fails ``test_every_route_has_a_row``: adding one is one line here (and its
scope in ``openidv.api.auth.ROUTE_SCOPES``). The world (tenant A's verification, gallery face and liveness
session) is built by ``tests/test_tenancy.py``'s ``world`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from openidv.api.app import create_app
from openidv.api.auth import CONSOLE_PREFIX, PUBLIC_ROUTES, ROUTE_SCOPES, SESSION_TOKEN_ROUTES
from openidv.api.readiness import check_models
from openidv.services.review_cases import ReviewCases, Reviewer
from openidv.services.telemetry_sessions import TelemetrySessions
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.tenancy import SCOPES
from tests.test_tenancy import TD3, World, bearer, world  # noqa: F401  (world: the fixture)

Build = Callable[[World], dict[str, Any]]


def _nothing(_: World) -> dict[str, Any]:
    return {}


def _case(w: World) -> str:
    """Tenant A's review case of the world's verification (opened by a supervisor when the policy did not)."""
    page = ReviewCases(w.store).list_cases("a")
    if page.items:
        return page.items[0].id
    return ReviewCases(w.store).open_case("a", w.verification_id, Reviewer("sup", "supervisor"), "authz").id


def _reviewer(**more: Any) -> Build:
    return lambda w: {"json": {"reviewer": "rev-1", **more}}


@dataclass(frozen=True)
class Row:
    """Statuses for tenant A's key (``own``) and tenant B's (``other``); ``path`` fills the route's
    parameters and ``request`` gives the request's keyword arguments (body, files), both from the world."""

    own: int
    other: int
    path: Build = field(default=_nothing)
    request: Build = field(default=_nothing)


ROUTES: dict[tuple[str, str], Row] = {
    ("POST", "/v1/verifications"): Row(201, 201, request=lambda w: {"json": {"mrz": TD3}}),
    ("GET", "/v1/verifications/{verification_id}"): Row(
        200, 404, path=lambda w: {"verification_id": w.verification_id}
    ),
    # A's gallery already holds this face under a-1: a 409 for A; B's gallery of the same name is B's own
    ("POST", "/v1/galleries/{name}/faces"): Row(
        409,
        201,
        path=lambda w: {"name": "onboarding"},
        request=lambda w: {"files": w.photo("obama", 2), "data": {"subject_id": "x-9"}},
    ),
    ("POST", "/v1/galleries/{name}/search"): Row(
        200, 404, path=lambda w: {"name": "onboarding"}, request=lambda w: {"files": w.photo("obama", 3)}
    ),
    ("GET", "/v1/galleries/{name}"): Row(200, 404, path=lambda w: {"name": "onboarding"}),
    ("DELETE", "/v1/galleries/{name}/faces/{face_id}"): Row(
        204, 404, path=lambda w: {"name": "onboarding", "face_id": w.face_id}
    ),
    ("POST", "/v1/liveness/sessions"): Row(201, 201),
    ("GET", "/v1/liveness/sessions/{session_id}"): Row(200, 404, path=lambda w: {"session_id": w.session_id}),
    # too few frames is a 422 that leaves the session usable: it shows A's request reached A's session
    ("POST", "/v1/liveness/sessions/{session_id}/frames"): Row(
        422,
        404,
        path=lambda w: {"session_id": w.session_id},
        request=lambda w: {"json": {"nonce": w.session_nonce, "frames": [{"timestamp_ms": 0, "image": ""}]}},
    ),
    ("GET", "/v1/verifications"): Row(200, 200),  # B lists its own (none of A's)
    ("GET", "/v1/subjects/{subject_id}"): Row(200, 404, path=lambda w: {"subject_id": "a-1"}),
    # idempotent: B erases nothing of A's (a 204 all the same); A's own erasure removes a-1
    ("DELETE", "/v1/subjects/{subject_id}"): Row(204, 204, path=lambda w: {"subject_id": "a-1"}),
    ("POST", "/v1/webhooks"): Row(201, 201, request=lambda w: {"json": {"url": "https://example.org/h"}}),
    ("GET", "/v1/webhooks"): Row(200, 200),
    # the world's verification (no subject id: its account is the verification) joined A's identity graph
    ("GET", "/v1/graph/accounts/{account_id}"): Row(
        200, 404, path=lambda w: {"account_id": w.verification_id}
    ),
    ("DELETE", "/v1/webhooks/{endpoint_id}"): Row(204, 404, path=lambda w: {"endpoint_id": w.webhook_id}),
    ("POST", "/v1/sessions"): Row(201, 201),
    # the test world routes to no vendors: the resource does not exist for anyone
    ("GET", "/v1/vendors/status"): Row(404, 404),
    ("GET", "/v1/sessions/{session_id}"): Row(
        200, 404, path=lambda w: {"session_id": TelemetrySessions(w.store).create(tenant="a").id}
    ),
    # human review: A's case (tenant B's key gets 404 for it); the POSTs that need a claim or a pending
    # override first answer A's own key with a 409, which shows the request reached A's case
    ("GET", "/v1/cases"): Row(200, 200),
    ("GET", "/v1/cases/{case_id}"): Row(200, 404, path=lambda w: {"case_id": _case(w)}),
    # the world's verification sent no image: its case has none
    ("GET", "/v1/cases/{case_id}/media/{media_id}"): Row(
        404, 404, path=lambda w: {"case_id": _case(w), "media_id": "no-such-media"}
    ),
    # the verification has a case already (``_case`` makes sure): a 409 for A, B cannot see it (404)
    ("POST", "/v1/cases"): Row(
        409,
        404,
        request=lambda w: {
            "json": {"reviewer": "sup-1", "verification_id": w.verification_id, "reason": "spot check"},
            "params": {"case": _case(w)},
        },
    ),
    ("POST", "/v1/cases/{case_id}/claim"): Row(
        200, 404, path=lambda w: {"case_id": _case(w)}, request=_reviewer()
    ),
    ("POST", "/v1/cases/{case_id}/release"): Row(
        409, 404, path=lambda w: {"case_id": _case(w)}, request=_reviewer()
    ),
    ("POST", "/v1/cases/{case_id}/decision"): Row(
        409, 404, path=lambda w: {"case_id": _case(w)}, request=_reviewer(outcome="approve", reason="ok")
    ),
    ("POST", "/v1/cases/{case_id}/confirmation"): Row(
        409, 404, path=lambda w: {"case_id": _case(w)}, request=_reviewer(accept=True, reason="ok")
    ),
}

#: routes that take a telemetry session's token instead of an API key (``SESSION_TOKEN_ROUTES``)
TOKEN_ROUTES: set[tuple[str, str]] = {("POST", "/v1/sessions/{session_id}/telemetry")}

#: routes that take no key, by decision (``PUBLIC_ROUTES``) or by the framework (the API's documentation)
PUBLIC: dict[tuple[str, str], int] = {
    ("GET", "/healthz"): 200,
    ("GET", "/readyz"): 200,
    ("GET", "/metrics"): 200,
    ("GET", "/openapi.json"): 200,
    ("GET", "/docs"): 200,
    ("GET", "/docs/oauth2-redirect"): 200,
    ("GET", "/redoc"): 200,
    ("GET", "/openidv-collector.js"): 200,
}


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: its documented operations and its undocumented routes."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    try:
        app = create_app(Settings(data_dir=tmp_path), store=store)
        documented = {
            (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
        }
        plain = {
            (method, route.path)
            for route in app.routes
            if isinstance(route, Route)
            for method in (route.methods or ()) - {"HEAD"}
        }
        return documented | plain
    finally:
        store.engine.dispose()


def test_every_route_has_a_row(tmp_path: Path) -> None:
    # the review console's routes take console sessions and roles, not keys (tests/test_console_auth.py)
    served = {(m, p) for m, p in _app_routes(tmp_path) if not p.startswith(CONSOLE_PREFIX + "/")}
    missing = sorted(served - set(ROUTES) - set(PUBLIC) - TOKEN_ROUTES)
    assert not missing, f"routes without a row in ROUTES or PUBLIC (tests/test_route_authz.py): {missing}"
    assert not set(ROUTES) - served and not set(PUBLIC) - served, "rows for routes the app no longer has"
    assert set(SESSION_TOKEN_ROUTES) == TOKEN_ROUTES and served >= TOKEN_ROUTES
    assert set(ROUTES) == set(ROUTE_SCOPES), "every keyed route has a scope, and only those"
    assert set(PUBLIC) >= PUBLIC_ROUTES and not set(ROUTES) & set(PUBLIC)
    assert set(ROUTE_SCOPES.values()) <= set(SCOPES)


def _callers(w: World, scope: str, row: Row) -> list[tuple[str, dict[str, str], int]]:
    """(who, headers, expected status), A's own key last: the only one that may change A's resources."""
    revoked_info, revoked = w.store.create_api_key("a-revoked", tenant="a")
    w.store.revoke_api_key(revoked_info.id)
    return [
        ("no key", {}, 401),
        ("malformed header", {"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ("revoked key", bearer(revoked), 401),
        ("expired key", bearer(w.key("a", expires_in=timedelta(seconds=-1))), 401),
        ("A without the scope", bearer(w.key("a", scopes=tuple(s for s in SCOPES if s != scope))), 403),
        ("B with every scope", bearer(w.key("b")), row.other),
        ("A with only the scope", bearer(w.key("a", scopes=(scope,))), row.own),
    ]


@pytest.mark.parametrize("route", list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_keyed_route_by_caller(world: World, route: tuple[str, str]) -> None:  # noqa: F811
    method, template = route
    row = ROUTES[route]
    path = template.format(**row.path(world))
    for who, headers, expected in _callers(world, ROUTE_SCOPES[route], row):
        answer = world.client.request(method, path, headers=headers, **row.request(world))
        assert answer.status_code == expected, (
            f"{method} {template} by {who}: {answer.status_code} {answer.text}"
        )
        if expected >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json"), who
        if expected == 401:
            assert answer.headers["www-authenticate"] == "Bearer", who


@pytest.mark.parametrize("route", list(PUBLIC), ids=[f"{m} {p}" for m, p in PUBLIC])
def test_public_route_answers_every_caller_alike(world: World, route: tuple[str, str]) -> None:  # noqa: F811
    method, path = route
    check_models()  # hash every model file once first: on a loaded machine that can outlast /readyz's 5 s
    for who, headers, _ in _callers(world, "verifications:read", Row(0, 0)):
        answer = world.client.request(method, path, headers=headers)
        assert answer.status_code == PUBLIC[route], f"{method} {path} by {who}: {answer.status_code}"


def test_telemetry_route_takes_only_its_sessions_token(world: World) -> None:  # noqa: F811
    """No key, any API key (even A's with every scope), another session's token: 401. Its own token: 200."""
    service = TelemetrySessions(world.store)
    mine, other = service.create(tenant="a"), service.create(tenant="a")
    b_session = service.create(tenant="b")
    body = {"schema": "openidv.telemetry/1", "events": [{"t": 1, "type": "move", "x": 1, "y": 2}]}
    path = f"/v1/sessions/{mine.id}/telemetry"
    callers = [
        ("no key", {}, 401),
        ("A's API key", bearer(world.key("a")), 401),
        ("B's API key", bearer(world.key("b")), 401),
        ("another session's token", bearer(other.token), 401),
        ("B's session's token", bearer(b_session.token), 401),
        ("its own token", bearer(mine.token), 200),
    ]
    for who, headers, expected in callers:
        answer = world.client.post(path, json=body, headers=headers)
        assert answer.status_code == expected, f"{who}: {answer.status_code} {answer.text}"
        if expected == 401:
            assert answer.headers["www-authenticate"] == "Bearer", who
