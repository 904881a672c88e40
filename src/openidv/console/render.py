"""Console pages from Jinja2 templates (autoescaped), with what every page's layout needs.

``render(request, "queue.html", {...})`` fills ``base.html``'s header from the request: the signed-in
``user`` (a ``ConsoleIdentity`` or None), its ``csrf_token`` for forms, and the ``nav`` links its role may
see. Templates live in ``openidv/console/templates``; they never load anything from another origin.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from openidv.console.auth import CSRF_FIELD, current_identity
from openidv.services.console_accounts import ConsoleIdentity

TEMPLATES = Path(__file__).parent / "templates"

#: (label, path, minimum role): the header's navigation, shown to the roles that may open each page
NAV: tuple[tuple[str, str, str], ...] = (
    ("Queue", "/console/", "analyst"),
    ("Evaluation", "/console/evaluation", "analyst"),
    ("Audit log", "/console/audit", "analyst"),
    ("Admin", "/console/admin/users", "admin"),
    ("Account", "/console/account", "analyst"),
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def nav_for(user: ConsoleIdentity | None, path: str) -> list[dict[str, Any]]:
    if user is None:
        return []
    return [
        {"label": label, "href": href, "current": path == href}
        for label, href, minimum in NAV
        if user.has_role(minimum)
    ]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``user``, ``csrf_token``, ``csrf_field`` and ``nav``."""
    user = current_identity(request)
    values: dict[str, Any] = {
        "user": user,
        "csrf_token": user.csrf_token if user is not None else "",
        "csrf_field": CSRF_FIELD,
        "nav": nav_for(user, request.url.path),
        "message": None,
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
