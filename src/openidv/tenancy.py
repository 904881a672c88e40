"""Tenants and scopes: the names every layer agrees on.

Every API key belongs to one tenant, and everything a key creates (verifications, galleries and their
templates, liveness sessions) belongs to that tenant; reads, searches, lists and deletes only ever see the
caller's tenant, and another tenant's id is answered like an unknown one (404). A key also carries scopes:
each route needs one (``openidv.api.app.ROUTE_SCOPES``). Upgrades put existing keys and data in the
``default`` tenant with every scope, so deployments keep working.
"""

from __future__ import annotations

import re

from openidv.errors import InvalidInput

#: the tenant of keys and data created before tenancy, and of library and CLI use
DEFAULT_TENANT = "default"

#: every scope a key can hold; a key created without ``--scopes`` holds them all
SCOPES: tuple[str, ...] = (
    "verifications:write",
    "verifications:read",
    "galleries:write",
    "galleries:read",
    "liveness:write",
    "liveness:read",
    "subjects:read",
    "subjects:erase",
    "webhooks:manage",
    "graph:read",
    "cases:read",
    "cases:review",
    "cases:supervise",
)

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def validate_tenant(name: str) -> str:
    """A tenant name: 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit."""
    if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
        raise InvalidInput(
            f"tenant {name!r}: 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def parse_scopes(text: str | None) -> tuple[str, ...]:
    """``"a,b"`` -> those scopes, checked against ``SCOPES``, in its order; None -> every scope."""
    if text is None:
        return SCOPES
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    if not wanted:
        raise InvalidInput(f"--scopes: give one or more of {', '.join(SCOPES)}")
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InvalidInput(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in wanted)
