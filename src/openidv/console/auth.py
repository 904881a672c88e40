"""Who is signed in to the console, and may they do this: sessions from cookies, roles, CSRF, origins.

- The session cookie ``openidv_console`` holds an opaque token (HttpOnly, Secure, SameSite=Strict,
  Path=/console); ``openidv.services.console_accounts`` turns it into a ``ConsoleIdentity``.
- ``require_role(minimum)`` guards every console route but sign-in and the static files: no session -> 303 to
  the sign-in page (with a ``next`` back to a GET page); a lesser role -> a 403 page. On a state-changing
  request it also checks CSRF: the request's ``Origin`` (or ``Referer``) must be this host, and the form field
  ``csrf_token`` (or the ``X-CSRF-Token`` header) must equal the session's synchronizer token.
- The sign-in form, which has no session yet, uses a double-submit token: a cookie ``openidv_console_csrf``
  set with the form, and the same value in its hidden field (``check_pre_session_csrf``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from openidv.services.console_accounts import ROLES, ConsoleAccounts, ConsoleIdentity, role_rank

SESSION_COOKIE = "openidv_console"
PRE_SESSION_COOKIE = "openidv_console_csrf"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SIGN_IN_PATH = "/console/sign-in"
HOME_PATH = "/console/"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleRedirect(Exception):
    """Answered with a 303 to ``location`` (the sign-in page, usually)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class ConsoleRefusal(Exception):
    """Answered with an HTML error page: 403 (role, CSRF, origin), 429 (throttle)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def get_accounts(request: Request) -> ConsoleAccounts:
    accounts: ConsoleAccounts = request.app.state.console_accounts
    return accounts


def safe_next(target: str | None) -> str:
    """A post-sign-in destination: a relative path under /console only (no scheme, host, ``//`` or ``\\``),
    else the home page, so ``next`` cannot send anyone to another site."""
    if not target or len(target) > 500 or "\\" in target or any(ord(c) < 32 for c in target):
        return HOME_PATH
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console/") or target.startswith("//"):
        return HOME_PATH
    if target.startswith(SIGN_IN_PATH):
        return HOME_PATH
    return target


def sign_in_location(request: Request) -> str:
    if request.method.upper() not in _SAFE_METHODS:
        return SIGN_IN_PATH
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    wanted = safe_next(here)
    return SIGN_IN_PATH if wanted == HOME_PATH else f"{SIGN_IN_PATH}?next={quote(wanted, safe='/')}"


def same_origin(request: Request) -> bool:
    """The request came from a page of this host: its ``Origin`` (else ``Referer``) names the host the
    request was sent to. Neither header (a non-browser client): allowed; the CSRF token still decides.
    ``Origin: null`` (a sandboxed or privacy-stripped request) is refused."""
    host = (request.headers.get("host") or "").lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc.lower() == host
    referer = request.headers.get("referer")
    if referer is not None:
        return urlsplit(referer).netloc.lower() == host
    return True


def _same_secret(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


async def check_csrf(request: Request, identity: ConsoleIdentity) -> None:
    """A state-changing request must come from our own page and carry the session's token."""
    if not same_origin(request):
        raise ConsoleRefusal(403, "This request came from another site and was refused.")
    given = request.headers.get(CSRF_HEADER)
    if given is None and _is_form(request):
        given = str((await request.form()).get(CSRF_FIELD) or "")
    if not _same_secret(given, identity.csrf_token):
        raise ConsoleRefusal(
            403, "The form was missing its security token or it had expired. Reload the page."
        )


async def check_pre_session_csrf(request: Request) -> None:
    """The sign-in form's double submit: the hidden field equals the cookie set with the form."""
    if not same_origin(request):
        raise ConsoleRefusal(403, "This request came from another site and was refused.")
    cookie = request.cookies.get(PRE_SESSION_COOKIE)
    given = str((await request.form()).get(CSRF_FIELD) or "") if _is_form(request) else ""
    if not cookie or not _same_secret(given, cookie):
        raise ConsoleRefusal(403, "The sign-in form had expired. Reload the page and sign in again.")


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")


def current_identity(request: Request) -> ConsoleIdentity | None:
    """The signed-in identity of this request (None: nobody), read once per request."""
    if "console_identity" in request.scope.get("state", {}):
        found: ConsoleIdentity | None = request.state.console_identity
        return found
    token = request.cookies.get(SESSION_COOKIE, "")
    identity = get_accounts(request).identify(token) if token else None
    request.state.console_identity = identity
    return identity


#: the attribute by which tests (and readers) recognise a role guard among a route's dependencies
GUARD_ATTRIBUTE = "console_minimum_role"


def require_role(minimum: str) -> Callable[[Request], Awaitable[ConsoleIdentity]]:
    """A dependency: the signed-in identity, holding ``minimum`` or a higher role (analyst < supervisor <
    admin); for POST and other unsafe methods, also a valid CSRF token from this origin."""
    role_rank(minimum)

    async def guard(request: Request) -> ConsoleIdentity:
        identity = await run_in_threadpool(current_identity, request)
        if identity is None:
            raise ConsoleRedirect(sign_in_location(request))
        if not identity.has_role(minimum):
            raise ConsoleRefusal(
                403, f"This page is for the {minimum} role; you are signed in as {identity.role}."
            )
        if request.method.upper() not in _SAFE_METHODS:
            await check_csrf(request, identity)
        return identity

    setattr(guard, GUARD_ATTRIBUTE, minimum)
    guard.__name__ = f"require_{minimum}"
    return guard


_GUARDS = {role: require_role(role) for role in ROLES}

#: route parameters: the signed-in identity with at least that role (one guard instance per role)
ConsoleUser = Annotated[ConsoleIdentity, Depends(_GUARDS["analyst"])]
SupervisorUser = Annotated[ConsoleIdentity, Depends(_GUARDS["supervisor"])]
AdminUser = Annotated[ConsoleIdentity, Depends(_GUARDS["admin"])]


def set_cookie(response: Response, name: str, value: str, *, secure: bool = True) -> None:
    response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, secure=secure, samesite="strict")


def clear_cookie(response: Response, name: str, *, secure: bool = True) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, secure=secure, samesite="strict")


def new_pre_session_token() -> str:
    return secrets.token_urlsafe(32)
