"""Document every error response in the OpenAPI schema as RFC 9457 problem+json.

FastAPI documents only what a route declares (and a 422 in its own ``HTTPValidationError`` shape, which the
app never sends). The errors the app really answers come from shared places: the exception handlers of
``openidv.api.problems``, the middleware (``RequestGuard``: 400 for a NUL in the URL; ``BodySizeLimit``:
413), authentication (401, 403), the rate limiter (429). ``document_problems`` adds them to every operation
in one post-processing step, from what the operation has (a key, a body, path parameters, an
``Idempotency-Key``), so a route added later is documented without touching this module; a test
(``tests/test_openapi_contract.py``) checks every documented response against the running app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from openidv.api.auth import PUBLIC_ROUTES, SESSION_TOKEN_ROUTES
from openidv.api.problems import PROBLEM_JSON

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `detail` says what is wrong in one line.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field (422).",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "request_id": {"type": "string", "description": "Quote it when reporting a 500."},
    },
}

#: status -> description, for the responses added to operations
DESCRIPTIONS = {
    400: "Malformed request: a body that is not valid JSON or multipart, or a NUL character in the URL",
    401: "No API key, or an unknown, revoked or expired one",
    403: "The API key lacks the scope this route needs",
    404: "Not found in the caller's tenant",
    409: "Conflicts with stored state (an Idempotency-Key reused with another body)",
    410: "Gone: the session expired",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Invalid input; `errors` names each field",
    429: "Rate limit reached; retry after `Retry-After` seconds",
    500: "Unexpected error; the body carries the request id",
    503: "A component (database, Redis, a key or a model) is unavailable or not configured",
}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` document its error responses as problem+json (call once, after the routes)."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = add_problem_responses(original())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem+json error responses to each operation of ``schema`` (in place; returned too)."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `openidv keys create`, holding the route's scope.",
    }
    components["securitySchemes"]["sessionToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A telemetry session's token (`POST /v1/sessions`): appends to that session only.",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method in _METHODS:
                _document(path, method, operation)
    _drop_unused(components["schemas"], ("HTTPValidationError", "ValidationError"), schema)
    return schema


def expected_errors(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses the app can answer for one operation, from what the operation has."""
    statuses = {400, 500, 503}  # a NUL in the URL; anything unexpected; a component down
    route = (method.upper(), path)
    if route in SESSION_TOKEN_ROUTES:  # a telemetry session's token: wrong, used, expired (no scopes)
        statuses |= {401, 404, 409, 410}
    elif route not in PUBLIC_ROUTES:
        statuses |= {401, 403, 404, 429}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 415}
    if any(p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key" for p in parameters):
        statuses.add(409)
    return statuses


def _document(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    for code in sorted(expected_errors(path, method, operation)):
        responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            # FastAPI's own 422 (HTTPValidationError) and bare declared errors: what is sent is a problem
            response["content"] = dict(problem_content)
    _fill_bare_successes(responses)
    if (method.upper(), path) in SESSION_TOKEN_ROUTES:
        operation.setdefault("security", [{"sessionToken": []}])
    elif (method.upper(), path) not in PUBLIC_ROUTES:
        operation.setdefault("security", [{"apiKey": []}])


def _drop_unused(schemas: dict[str, Any], names: tuple[str, ...], document: dict[str, Any]) -> None:
    """FastAPI's validation-error schemas, once no response refers to them (the app never sends them)."""
    for name in names:
        if f"#/components/schemas/{name}" not in json.dumps(document):
            schemas.pop(name, None)


def _fill_bare_successes(responses: dict[str, Any]) -> None:
    """A 2xx documented without a body (an idempotent replay's 200) answers the shape of its sibling 2xx."""
    shaped = next(
        (r["content"] for s, r in responses.items() if s.startswith("2") and r.get("content") and s != "204"),
        None,
    )
    for status, response in responses.items():
        if status.startswith("2") and status != "204" and not response.get("content") and shaped:
            response["content"] = dict(shaped)
