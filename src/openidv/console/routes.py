"""The console's pages: sign-in and sign-out, the home page, the account page and user administration.

Every route but the sign-in page and the static files takes a role guard (``openidv.console.auth``);
``tests/test_console_auth.py`` walks this router to keep it so. Pages are HTML; errors are HTML pages too.
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from openidv.console.auth import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    SIGN_IN_PATH,
    AdminUser,
    ConsoleUser,
    check_pre_session_csrf,
    clear_cookie,
    current_identity,
    get_accounts,
    new_pre_session_token,
    safe_next,
    set_cookie,
)
from openidv.console.render import render
from openidv.errors import OpenIDVError
from openidv.services.console_accounts import (
    MIN_PASSWORD_CHARS,
    ROLES,
    SignedIn,
    SignInThrottled,
)
from openidv.tenancy import DEFAULT_TENANT

router = APIRouter(prefix="/console", include_in_schema=False)

#: file name -> media type: the only files ``/console/static`` serves
STATIC_FILES: dict[str, str] = {"console.css": "text/css; charset=utf-8"}
#: the routes that take no role guard, by decision: signing in, and the files the sign-in page needs
PUBLIC_CONSOLE_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/console/sign-in"), ("POST", "/console/sign-in"), ("GET", "/console/static/{name}")}
)
BAD_CREDENTIALS = "The name or password is incorrect."


def _secure(request: Request) -> bool:
    return not bool(getattr(request.app.state, "console_insecure_cookies", False))


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    body = files("openidv.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC_FILES[name])


def _sign_in_form(
    request: Request,
    *,
    next_path: str,
    name: str = "",
    tenant: str = DEFAULT_TENANT,
    message: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = new_pre_session_token()
    response = render(
        request,
        "sign_in.html",
        {"pre_csrf": token, "next": next_path, "name": name, "tenant": tenant, "message": message},
        status_code=status_code,
        headers=headers,
    )
    set_cookie(response, PRE_SESSION_COOKIE, token, secure=_secure(request))
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    if await run_in_threadpool(current_identity, request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _sign_in_form(request, next_path=safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    await check_pre_session_csrf(request)
    form = await request.form()
    name = str(form.get("name") or "").strip()[:100]
    password = str(form.get("password") or "")[:1024]
    tenant = str(form.get("tenant") or DEFAULT_TENANT).strip()[:64] or DEFAULT_TENANT
    next_path = safe_next(str(form.get("next") or ""))
    client = request.client.host if request.client else ""
    result = await run_in_threadpool(
        lambda: get_accounts(request).sign_in(
            name, password, tenant=tenant, client=client, user_agent=request.headers.get("user-agent", "")
        )
    )
    if isinstance(result, SignedIn):
        response = RedirectResponse(next_path, status_code=303)
        set_cookie(response, SESSION_COOKIE, result.token, secure=_secure(request))
        clear_cookie(response, PRE_SESSION_COOKIE, secure=_secure(request))
        return response
    request.state.console_identity = None
    if isinstance(result, SignInThrottled):
        minutes = max(1, round(result.retry_after_s / 60))
        text = f"Too many failed sign-ins. Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
        return _sign_in_form(
            request,
            next_path=next_path,
            name=name,
            tenant=tenant,
            message={"kind": "error", "text": text},
            status_code=429,
            headers={"Retry-After": str(result.retry_after_s)},
        )
    return _sign_in_form(
        request,
        next_path=next_path,
        name=name,
        tenant=tenant,
        message={"kind": "error", "text": BAD_CREDENTIALS},
        status_code=401,
    )


@router.post("/sign-out")
async def sign_out(request: Request, user: ConsoleUser) -> Response:
    await run_in_threadpool(get_accounts(request).sign_out, user)
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    clear_cookie(response, SESSION_COOKIE, secure=_secure(request))
    return response


@router.get("/account")
def account(request: Request, user: ConsoleUser) -> Response:
    policy = get_accounts(request).policy
    return render(
        request,
        "account.html",
        {"idle_minutes": policy.idle_timeout_s // 60, "lifetime_hours": round(policy.lifetime_s / 3600, 1)},
    )


def _users_page(
    request: Request, user: AdminUser, message: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    users = get_accounts(request).list_users(user.tenant)
    return render(
        request,
        "admin_users.html",
        {"users": users, "roles": ROLES, "min_password": MIN_PASSWORD_CHARS, "message": message},
        status_code=status_code,
    )


@router.get("/admin/users")
def admin_users(
    request: Request, user: AdminUser, created: str | None = None, disabled: str | None = None
) -> Response:
    message = None
    if created:
        message = {"kind": "ok", "text": f"Created user {created[:100]}."}
    elif disabled:
        message = {"kind": "ok", "text": f"Disabled user {disabled[:100]}; their sessions have ended."}
    return _users_page(request, user, message)


@router.post("/admin/users")
async def admin_create_user(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "")
    password = str(form.get("password") or "")
    try:
        created = await run_in_threadpool(
            lambda: get_accounts(request).create_user(
                name, role, password, tenant=user.tenant, actor=user.name
            )
        )
    except OpenIDVError as exc:
        return _users_page(request, user, {"kind": "error", "text": str(exc)}, status_code=400)
    return RedirectResponse(f"/console/admin/users?created={quote(created.name)}", status_code=303)


@router.post("/admin/users/disable")
async def admin_disable_user(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    if name == user.name:
        return _users_page(
            request, user, {"kind": "error", "text": "You cannot disable yourself."}, status_code=400
        )
    try:
        await run_in_threadpool(
            lambda: get_accounts(request).disable_user(name, tenant=user.tenant, actor=user.name)
        )
    except OpenIDVError as exc:
        return _users_page(request, user, {"kind": "error", "text": str(exc)}, status_code=400)
    return RedirectResponse(f"/console/admin/users?disabled={quote(name)}", status_code=303)


__all__ = ["PUBLIC_CONSOLE_ROUTES", "STATIC_FILES", "router"]
