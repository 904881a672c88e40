"""The human review console at ``/console`` (issue 16): server-rendered HTML pages for analysts,
supervisors and admins, signed in with console accounts (``openidv users create``), never API keys.

``install_console(app, settings)`` adds it to the API app (``openidv.api.app.create_app``): the router, its
error pages, its security headers and the accounts service. Pages are built with ``render(request,
template, context)`` and guarded with ``ConsoleUser`` (any role) / ``SupervisorUser`` / ``AdminUser`` or
``Depends(require_role(...))``. Design and settings: docs/console.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from openidv.console.auth import (
    AdminUser,
    ConsoleRedirect,
    ConsoleRefusal,
    ConsoleUser,
    SupervisorUser,
    require_role,
)
from openidv.console.headers import ConsoleHeaders
from openidv.console.render import render
from openidv.console.routes import router

# the page modules add their routes to ``router`` when imported (one router: one guard test walks it)
from openidv.console import audit_pages, case_pages, eval_pages  # noqa: F401  isort: skip
from openidv.console.eval_catalog import EvalCatalog
from openidv.services.console_accounts import ConsoleAccounts, ConsoleIdentity, ConsolePolicy
from openidv.services.review_cases import ReviewCases
from openidv.settings import Settings

_HEADINGS = {403: "Not allowed", 429: "Too many requests"}


async def _on_redirect(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRedirect)
    return RedirectResponse(exc.location, status_code=303)


async def _on_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRefusal)
    heading = _HEADINGS.get(exc.status, "Refused")
    return render(
        request,
        "error.html",
        {"heading": heading, "detail": exc.message},
        status_code=exc.status,
        headers=exc.headers,
    )


def _own_review_cases(store: Any, settings: Settings) -> Callable[[Request], ReviewCases]:
    cases = ReviewCases(store, sla=timedelta(hours=settings.review_sla_hours))
    return lambda _request: cases


def install_console(
    app: FastAPI,
    settings: Settings,
    store: Any,
    *,
    review_cases: Callable[[Request], ReviewCases] | None = None,
) -> None:
    """Serve the console from ``app``: routes, error pages, headers, and the accounts on ``store``.
    ``review_cases`` gives the app's review queue for a request (the API's, so both work one queue);
    without it the console builds its own without webhooks."""
    app.state.console_accounts = ConsoleAccounts(store, ConsolePolicy.from_settings(settings))
    app.state.console_insecure_cookies = settings.console_insecure_cookies
    app.state.eval_catalog = EvalCatalog(settings.eval_dirs)
    app.state.console_review_cases = review_cases or _own_review_cases(store, settings)
    app.include_router(router)
    app.add_exception_handler(ConsoleRedirect, _on_redirect)
    app.add_exception_handler(ConsoleRefusal, _on_refusal)
    app.add_middleware(ConsoleHeaders)


__all__ = [
    "AdminUser",
    "ConsoleIdentity",
    "ConsoleUser",
    "SupervisorUser",
    "install_console",
    "render",
    "require_role",
    "router",
]
