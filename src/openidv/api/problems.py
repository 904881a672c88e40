"""RFC 9457 problem details: every 4xx/5xx body says what is wrong, in a shape clients can parse."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from openidv.errors import (
    BodyTooLarge,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyError,
)

log = logging.getLogger(__name__)
#: what the database driver raises while the database is away (restarting, unreachable, pool exhausted)
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
#: seconds a client is asked to wait before retrying when the database is away
DATABASE_RETRY_AFTER_S = 1
PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://openidv.dev/problems/{status}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def validation_problem(errors: list[Any]) -> JSONResponse:
    """Malformed JSON is a 400; well-formed JSON with wrong fields is a 422 naming each field."""
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "malformed")
        return problem(400, f"request body is not valid JSON: {reason}")
    cleaned = [
        {
            "field": shown(".".join(str(p) for p in e.get("loc", ()) if p != "body")),
            "message": e.get("msg", ""),
        }
        for e in errors
    ]
    summary = "; ".join(f"{c['field'] or 'body'}: {c['message']}" for c in cleaned[:5])
    return problem(422, summary, errors=cleaned)


def shown(name: str, limit: int = 64) -> str:
    """A caller-supplied name (a form field, a JSON key) as a message shows it: control characters escaped
    and at most ``limit`` characters, so the message stays one line and cannot forge lines in a log."""
    text = name if name.isprintable() else repr(name)[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(list(exc.errors()))


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    return problem(exc.status_code, str(exc.detail), headers=headers)


async def _on_openidv(_: Request, exc: Exception) -> JSONResponse:
    status = {
        BodyTooLarge: 413,
        InvalidInput: 422,
        NotFound: 404,
        Conflict: 409,
        PermissionDenied: 403,
        PolicyError: 500,
        ConfigurationError: 503,
    }
    code = next((s for t, s in status.items() if isinstance(exc, t)), 500)
    return problem(code, str(exc))


async def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is away (a restart, a failover, a dropped route): a 503 with ``Retry-After``, so a
    client knows to retry (with its Idempotency-Key) rather than report a bug. A 500 said "unexpected
    error, quote the request id" for what is an outage; nothing half-written is left either way, since
    the failed transaction rolls back. The driver's message (it may quote SQL or a host) goes to the log
    only."""
    request_id = str(getattr(request.state, "request_id", "") or "")
    log.warning(
        "database unavailable (%s) serving %s %s (request_id=%s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    if request_id:
        headers["X-Request-ID"] = request_id
    return problem(
        503,
        f"the database is unavailable; retry in {DATABASE_RETRY_AFTER_S} s with the same Idempotency-Key",
        headers=headers,
        extra={"request_id": request_id} if request_id else None,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: a problem+json 500 with the request id; the exception (stack, SQL text) goes to
    the server log only."""
    request_id = str(getattr(request.state, "request_id", "") or "")
    log.error(
        "unexpected %s serving %s %s (request_id=%s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return problem(
        500,
        "an unexpected error occurred; quote the request id when reporting it",
        headers={"X-Request-ID": request_id} if request_id else None,
        extra={"request_id": request_id} if request_id else None,
    )


def install(app: Any) -> None:
    app.add_exception_handler(Exception, _on_unexpected)
    for db_exc in DATABASE_UNAVAILABLE:
        app.add_exception_handler(db_exc, _on_database_unavailable)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for exc_type in (
        BodyTooLarge,
        InvalidInput,
        NotFound,
        Conflict,
        PermissionDenied,
        PolicyError,
        ConfigurationError,
    ):
        app.add_exception_handler(exc_type, _on_openidv)
