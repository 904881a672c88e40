"""The review console's accounts, sessions, roles, CSRF and sign-in throttle (issue 16).

Over HTTP with the real app (TestClient on ``https://testserver``, so Secure cookies travel), with an
injectable clock instead of sleeping; the accounts service and the ``openidv users`` commands on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openidv.api.app import create_app
from openidv.cli import app as cli_app
from openidv.console.auth import GUARD_ATTRIBUTE, safe_next
from openidv.console.routes import PUBLIC_CONSOLE_ROUTES, router
from openidv.errors import Conflict, InvalidInput, NotFound
from openidv.services.console_accounts import (
    ConsoleAccounts,
    ConsolePolicy,
    SignedIn,
    SignInRefused,
    SignInThrottled,
    check_password,
    hash_password,
)
from openidv.settings import Settings
from openidv.store.console_tables import ConsoleSession, ConsoleSignInFailure
from openidv.store.models import AuditEntry
from openidv.store.repository import Store

BASE = "https://testserver"
ORIGIN = {"Origin": BASE}
PASSWORD = "correct horse battery"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Console:
    client: TestClient
    store: Store
    accounts: ConsoleAccounts
    clock: Clock

    def user(self, name: str, role: str, password: str = PASSWORD) -> None:
        self.accounts.create_user(name, role, password)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path), store=store)
    accounts: ConsoleAccounts = app.state.console_accounts
    clock = Clock()
    accounts.clock = clock
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield Console(client, store, accounts, clock)
    store.engine.dispose()


def hidden(html: str, name: str = "csrf_token") -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str, **fields: str) -> Any:
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    form = {
        "csrf_token": hidden(page.text),
        "name": name,
        "password": password,
        "tenant": "default",
        **fields,
    }
    return client.post("/console/sign-in", data=form, headers=ORIGIN)


def signed_in(c: Console, name: str, role: str) -> str:
    """Create and sign in ``name``; returns the session's CSRF token."""
    c.user(name, role)
    answer = sign_in(c.client, name, PASSWORD)
    assert answer.status_code == 303, answer.text
    home = c.client.get("/console/")
    assert home.status_code == 200
    return hidden(home.text)


def audit_actions(store: Store) -> list[tuple[str, str]]:
    with Session(store.engine) as s:
        return [(e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


# ------------------------------------------------------------------------------- every route guarded


def _guards(dependant: Any) -> list[str]:
    found = [getattr(dependant.call, GUARD_ATTRIBUTE)] if hasattr(dependant.call, GUARD_ATTRIBUTE) else []
    for sub in dependant.dependencies:
        found += _guards(sub)
    return found


def test_every_console_route_but_sign_in_and_static_files_has_a_role_guard(console: Console) -> None:
    app_routes = console.client.app.routes  # type: ignore[attr-defined]
    assert any(getattr(r, "original_router", None) is router for r in app_routes), "create_app serves it"
    routes = [
        (method, route)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]
    assert all(route.path.startswith("/console/") for _, route in routes)
    assert {(m, r.path) for m, r in routes} >= PUBLIC_CONSOLE_ROUTES
    for method, route in routes:
        if (method, route.path) in PUBLIC_CONSOLE_ROUTES:
            continue
        assert _guards(route.dependant), f"{method} {route.path} has no require_role guard"
        # and it holds: nobody signed in is sent to sign in, whatever the route
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        answer = console.client.request(method, path, headers=ORIGIN)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/console/sign-in")


def test_admin_routes_need_the_admin_role(console: Console) -> None:
    admin = [r for r in router.routes if isinstance(r, APIRoute) and "/admin/" in r.path]
    assert admin and all(_guards(r.dependant) == ["admin"] for r in admin)


# ------------------------------------------------------------------------------- sign in, out, pages


def test_sign_in_shows_the_home_page_and_sign_out_ends_the_session(console: Console) -> None:
    csrf = signed_in(console, "ana", "analyst")
    home = console.client.get("/console/")
    assert "Review queue" in home.text and "ana" in home.text and "analyst" in home.text
    account = console.client.get("/console/account")
    assert account.status_code == 200 and "default" in account.text
    out = console.client.post("/console/sign-out", data={"csrf_token": csrf}, headers=ORIGIN)
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert console.client.get("/console/").status_code == 303
    actions = [a for _, a in audit_actions(console.store)]
    assert actions[-2:] == ["console.signed_in", "console.signed_out"]
    assert ("ana", "console.signed_in") in audit_actions(console.store)


def test_unauthenticated_pages_redirect_with_a_safe_next(console: Console) -> None:
    answer = console.client.get("/console/account")
    assert (
        answer.status_code == 303 and answer.headers["location"] == "/console/sign-in?next=/console/account"
    )
    console.user("ana", "analyst")
    page = console.client.get("/console/sign-in?next=/console/account")
    assert hidden(page.text, "next") == "/console/account"
    form = {"csrf_token": hidden(page.text), "name": "ana", "password": PASSWORD, "next": "/console/account"}
    signed = console.client.post("/console/sign-in", data=form, headers=ORIGIN)
    assert signed.headers["location"] == "/console/account"
    for bad in (
        "//evil.example/x",
        "https://evil.example/console/",
        "/v1/verifications",
        "/console\\..",
        "x",
    ):
        assert safe_next(bad) == "/console/"


def test_security_headers_and_cookie_flags(console: Console) -> None:
    console.user("ana", "analyst")
    page = console.client.get("/console/sign-in")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
    pre = page.headers["set-cookie"]
    signed = console.client.post(
        "/console/sign-in",
        data={"csrf_token": hidden(page.text), "name": "ana", "password": PASSWORD},
        headers=ORIGIN,
    )
    cookies = signed.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("openidv_console="))
    for cookie in (pre, session_cookie):
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "secure", "samesite=strict", "path=/console"} <= flags, cookie
    css = console.client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert console.client.get("/console/static/other.js").status_code == 404


# ------------------------------------------------------------------------------- roles


def test_an_analyst_cannot_reach_admin_pages_and_sees_no_admin_link(console: Console) -> None:
    csrf = signed_in(console, "ana", "analyst")
    assert ">Admin<" not in console.client.get("/console/").text
    assert console.client.get("/console/admin/users").status_code == 403
    posted = console.client.post(
        "/console/admin/users",
        data={"csrf_token": csrf, "name": "mallory", "role": "admin", "password": PASSWORD},
        headers=ORIGIN,
    )
    assert posted.status_code == 403 and "admin role" in posted.text
    assert [u.name for u in console.accounts.list_users()] == ["ana"]


def test_an_admin_creates_and_disables_users(console: Console) -> None:
    csrf = signed_in(console, "root", "admin")
    assert ">Admin<" in console.client.get("/console/").text
    created = console.client.post(
        "/console/admin/users",
        data={"csrf_token": csrf, "name": "bob", "role": "supervisor", "password": PASSWORD},
        headers=ORIGIN,
    )
    assert created.status_code == 303
    listing = console.client.get(created.headers["location"])
    assert "Created user bob" in listing.text and ">bob<" in listing.text
    short = console.client.post(
        "/console/admin/users",
        data={"csrf_token": csrf, "name": "carol", "role": "analyst", "password": "short"},
        headers=ORIGIN,
    )
    assert short.status_code == 400 and "too short" in short.text
    disabled = console.client.post(
        "/console/admin/users/disable", data={"csrf_token": csrf, "name": "bob"}, headers=ORIGIN
    )
    assert disabled.status_code == 303
    bob = next(u for u in console.accounts.list_users() if u.name == "bob")
    assert bob.role == "supervisor" and bob.disabled_at is not None
    assert ("root", "console.user_created") in audit_actions(console.store)
    assert ("root", "console.user_disabled") in audit_actions(console.store)


# ------------------------------------------------------------------------------- CSRF


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    csrf = signed_in(console, "ana", "analyst")
    assert console.client.post("/console/sign-out", data={}, headers=ORIGIN).status_code == 403
    wrong = console.client.post("/console/sign-out", data={"csrf_token": "x" * 43}, headers=ORIGIN)
    assert wrong.status_code == 403
    other_site = console.client.post(
        "/console/sign-out", data={"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    null_origin = console.client.post(
        "/console/sign-out", data={"csrf_token": csrf}, headers={"Origin": "null"}
    )
    assert null_origin.status_code == 403
    assert console.client.get("/console/").status_code == 200, "the refusals left the session alone"
    by_header = console.client.post("/console/sign-out", headers={**ORIGIN, "X-CSRF-Token": csrf})
    assert by_header.status_code == 303


def test_login_csrf_is_blocked_by_the_double_submit_token(console: Console) -> None:
    console.user("ana", "analyst")
    form = {"csrf_token": "forged", "name": "ana", "password": PASSWORD}
    assert console.client.post("/console/sign-in", data=form, headers=ORIGIN).status_code == 403
    page = console.client.get("/console/sign-in")
    console.client.cookies.clear()  # an attacker's page cannot send the victim's pre-session cookie
    form["csrf_token"] = hidden(page.text)
    assert console.client.post("/console/sign-in", data=form, headers=ORIGIN).status_code == 403


# ------------------------------------------------------------------------------- throttle


def test_five_wrong_passwords_slow_further_attempts(console: Console) -> None:
    console.user("ana", "analyst")
    for _ in range(5):
        wrong = sign_in(console.client, "ana", "not the password")
        assert wrong.status_code == 401
    refused = sign_in(console.client, "ana", PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
    assert "Too many failed sign-ins" in refused.text
    console.clock.advance(seconds=31)
    assert sign_in(console.client, "ana", PASSWORD).status_code == 303
    actions = [a for _, a in audit_actions(console.store)]
    assert actions.count("console.sign_in_failed") == 5 and "console.sign_in_locked" in actions
    with Session(console.store.engine) as s:  # success cleared the name's counter
        keys = set(s.scalars(select(ConsoleSignInFailure.key)))
    assert "name:default/ana" not in keys


def test_unknown_user_and_wrong_password_look_the_same(console: Console) -> None:
    console.user("ana", "analyst")
    unknown = sign_in(console.client, "nobody", PASSWORD)
    wrong = sign_in(console.client, "ana", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    message = "The name or password is incorrect."
    assert message in unknown.text and message in wrong.text
    console.accounts.disable_user("ana")
    disabled = sign_in(console.client, "ana", PASSWORD)
    assert disabled.status_code == 401 and message in disabled.text


# ------------------------------------------------------------------------------- session lifetime


def test_an_idle_session_ends(console: Console) -> None:
    signed_in(console, "ana", "analyst")
    console.clock.advance(minutes=29)
    assert console.client.get("/console/").status_code == 200
    console.clock.advance(minutes=29)  # activity moved the idle clock
    assert console.client.get("/console/").status_code == 200
    console.clock.advance(minutes=31)
    assert console.client.get("/console/").status_code == 303


def test_a_session_ends_after_its_lifetime_whatever_its_activity(console: Console) -> None:
    signed_in(console, "ana", "analyst")
    for _ in range(12 * 3 - 1):
        console.clock.advance(minutes=20)
        assert console.client.get("/console/").status_code == 200
    console.clock.advance(minutes=20)
    assert console.client.get("/console/").status_code == 303


def test_a_disabled_users_session_ends(console: Console) -> None:
    signed_in(console, "ana", "analyst")
    console.accounts.disable_user("ana", actor="admin")
    assert console.client.get("/console/").status_code == 303
    with Session(console.store.engine) as s:
        assert all(r.revoked_at is not None for r in s.scalars(select(ConsoleSession)))


# ------------------------------------------------------------------------------- store, both databases


def test_accounts_on_both_databases(store: Store) -> None:
    clock = Clock()
    accounts = ConsoleAccounts(store, ConsolePolicy(), clock=clock)
    info = accounts.create_user("ana", "analyst", PASSWORD)
    assert info.tenant == "default" and info.disabled_at is None
    with pytest.raises(Conflict):
        accounts.create_user("ana", "admin", PASSWORD)
    with pytest.raises(InvalidInput):
        accounts.create_user("bob", "analyst", "eleven char")
    with pytest.raises(InvalidInput):
        accounts.create_user("bob", "owner", PASSWORD)
    with pytest.raises(NotFound):
        accounts.create_user("bob", "analyst", PASSWORD, tenant="nowhere")
    store.create_tenant("other")
    accounts.create_user("ana", "admin", PASSWORD, tenant="other")  # names are unique per tenant only
    assert [(u.tenant, u.name) for u in accounts.list_users()] == [("default", "ana"), ("other", "ana")]

    signed = accounts.sign_in("ana", PASSWORD, client="10.0.0.1", user_agent="pytest")
    assert isinstance(signed, SignedIn) and signed.identity.role == "analyst"
    assert accounts.identify(signed.token) == signed.identity
    with Session(store.engine) as s:  # the database holds the token's hash, never the token
        row = s.scalars(select(ConsoleSession)).one()
        assert row.id != signed.token and len(row.id) == 64 and row.client == "10.0.0.1 pytest"
    accounts.set_password("ana", "another good password")
    assert accounts.identify(signed.token) is None, "setting the password ends the sessions"
    assert isinstance(accounts.sign_in("ana", PASSWORD), SignInRefused)
    assert isinstance(accounts.sign_in("ana", "another good password"), SignedIn)

    for _ in range(5):
        assert isinstance(accounts.sign_in("ana", "wrong", client="10.0.0.2"), SignInRefused)
    throttled = accounts.sign_in("ana", "another good password", client="10.0.0.3")
    assert isinstance(throttled, SignInThrottled) and throttled.retry_after_s == 30
    clock.advance(seconds=31)
    assert isinstance(accounts.sign_in("ana", "wrong", client="10.0.0.3"), SignInRefused)
    again = accounts.sign_in("ana", "another good password", client="10.0.0.3")
    assert isinstance(again, SignInThrottled) and again.retry_after_s == 60, "each failure doubles the delay"
    clock.advance(hours=2)
    assert isinstance(accounts.sign_in("ana", "another good password"), SignedIn)
    with Session(store.engine) as s:
        assert s.query(ConsoleSession).count() == 3, "sessions that ended stay a day"
        assert s.query(ConsoleSignInFailure).count() == 0, "a sign-in sweeps counters quiet since 15 min"
    clock.advance(days=2)  # a sign-in sweeps sessions that ended over a day ago
    assert isinstance(accounts.sign_in("ana", "another good password"), SignedIn)
    with Session(store.engine) as s:
        assert s.query(ConsoleSession).count() == 1
    assert store.verify_audit_chain().ok


def test_the_client_address_is_throttled_across_names(store: Store) -> None:
    accounts = ConsoleAccounts(store, ConsolePolicy(), clock=Clock())
    accounts.create_user("ana", "analyst", PASSWORD)
    for n in range(5):
        accounts.sign_in(f"guess{n}", "wrong", client="10.9.9.9")
    assert isinstance(accounts.sign_in("ana", PASSWORD, client="10.9.9.9"), SignInThrottled)
    assert isinstance(accounts.sign_in("ana", PASSWORD, client="10.1.1.1"), SignedIn)


def test_password_hashes_carry_salt_and_parameters() -> None:
    first, second = hash_password(PASSWORD, n=2**10), hash_password(PASSWORD, n=2**10)
    assert first != second and first.startswith("scrypt$1024$8$1$")
    assert check_password(PASSWORD, first) and not check_password(PASSWORD + "x", first)
    assert not check_password(PASSWORD, "garbage") and not check_password(PASSWORD, "bcrypt$1$2$3$4$5")


# ------------------------------------------------------------------------------- CLI


def test_users_commands(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIDV_DATABASE_URL", database_url)
    runner = CliRunner()
    created = runner.invoke(
        cli_app,
        ["users", "create", "--name", "ana", "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    short = runner.invoke(
        cli_app,
        ["users", "create", "--name", "bob", "--role", "analyst", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 2 and short.output.count("\n") == 1 and "too short" in short.output
    again = runner.invoke(
        cli_app, ["users", "create", "--name", "ana", "--role", "admin", "--password-stdin"], input=PASSWORD
    )
    assert again.exit_code == 2 and again.output.count("\n") == 1 and "already exists" in again.output
    no_stdin = runner.invoke(cli_app, ["users", "create", "--name", "bob", "--role", "analyst"])
    assert no_stdin.exit_code == 2
    listed = json.loads(runner.invoke(cli_app, ["users", "list", "--json"]).output)
    assert [(u["name"], u["role"], u["disabled_at"]) for u in listed] == [("ana", "analyst", None)]
    assert "scrypt" not in runner.invoke(cli_app, ["users", "list", "--json"]).output
    store = Store.from_url(database_url)
    accounts = ConsoleAccounts(store)
    assert isinstance(accounts.sign_in("ana", PASSWORD), SignedIn), "the trailing newline is not in it"
    changed = runner.invoke(
        cli_app, ["users", "set-password", "ana", "--password-stdin"], input="a new long password\n"
    )
    assert changed.exit_code == 0, changed.output
    assert isinstance(accounts.sign_in("ana", "a new long password"), SignedIn)
    signed = accounts.sign_in("ana", "a new long password")
    assert isinstance(signed, SignedIn)
    assert runner.invoke(cli_app, ["users", "disable", "ana"]).exit_code == 0
    assert accounts.identify(signed.token) is None
    assert runner.invoke(cli_app, ["users", "disable", "nobody"]).exit_code == 2
    actions = [a for _, a in audit_actions(store)]
    for action in ("console.user_created", "console.password_set", "console.user_disabled"):
        assert action in actions
    store.engine.dispose()


def test_console_settings_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIDV_CONSOLE_IDLE_TIMEOUT_S", "600")
    monkeypatch.setenv("OPENIDV_CONSOLE_THROTTLE_AFTER", "3")
    monkeypatch.setenv("OPENIDV_CONSOLE_INSECURE_COOKIES", "1")
    settings = Settings.from_env()
    policy = ConsolePolicy.from_settings(settings)
    assert policy.idle_timeout_s == 600 and policy.throttle_after == 3 and policy.lifetime_s == 12 * 3600
    assert policy.lock_for(2) is None and policy.lock_for(3) == timedelta(seconds=30)
    assert policy.lock_for(30) == timedelta(minutes=15), "capped"
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path, console_insecure_cookies=True), store=store)
    with TestClient(app, base_url="http://testserver") as client:
        cookie = client.get("/console/sign-in").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    store.engine.dispose()
