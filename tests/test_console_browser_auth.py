"""The review console's sign-in in a real browser: headless Chromium (Debian's ``/usr/bin/chromium``) driven
by Playwright against the real app (uvicorn on a free port, embedded SQLite), over plain
``http://127.0.0.1``: Chromium treats loopback as a secure context, so the Secure session cookie is kept
and sent there without any setting.

Chromium and its skip rules: tests/browser_helpers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openidv.api.app import create_app
from openidv.services.console_accounts import ConsoleAccounts
from openidv.settings import Settings
from openidv.store.repository import Store
from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.telemetry_helpers import serve

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = require_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class World:
    base: str
    accounts: ConsoleAccounts
    page: Any
    #: what the browser reported: CSP violations, failed loads, script errors
    problems: list[str]


@pytest.fixture
def world(tmp_path: Path, browser: Any) -> Iterator[World]:
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path), store=store)
    accounts: ConsoleAccounts = app.state.console_accounts
    accounts.create_user("ana", "analyst", PASSWORD)
    accounts.create_user("root", "admin", PASSWORD)
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    # pages answer 401/403/429 on purpose; a subresource (the stylesheet) must never fail, nor the CSP bite
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        with serve(app) as base:
            yield World(base, accounts, page, problems)
    finally:
        context.close()
        store.engine.dispose()


def _sign_in(w: World, name: str, password: str = PASSWORD) -> None:
    w.page.goto(f"{w.base}/console/sign-in")
    w.page.get_by_label("Name").fill(name)
    w.page.get_by_label("Password").fill(password)
    w.page.get_by_role("button", name="Sign in").click()
    w.page.wait_for_load_state()


def test_an_analyst_signs_in_sees_the_queue_and_signs_out(world: World) -> None:
    w = world
    assert w.page.goto(f"{w.base}/console/").url.endswith("/console/sign-in")
    _sign_in(w, "ana")
    assert w.page.url == f"{w.base}/console/"
    assert w.page.get_by_role("heading", level=1).inner_text() == "Review queue"
    nav = w.page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ["Queue", "Evaluation", "Audit log", "Account"]
    assert w.page.locator("#signed-in-name").inner_text() == "ana"

    (cookie,) = [c for c in w.page.context.cookies() if c["name"] == "openidv_console"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert w.page.evaluate("document.cookie") == "", "no console cookie is readable by scripts"

    forbidden = w.page.goto(f"{w.base}/console/admin/users")
    assert forbidden is not None and forbidden.status == 403
    assert "admin role" in w.page.get_by_role("main").inner_text()

    w.page.goto(f"{w.base}/console/")
    w.page.get_by_role("button", name="Sign out").first.click()
    w.page.wait_for_load_state()
    assert w.page.url == f"{w.base}/console/sign-in"
    assert w.page.goto(f"{w.base}/console/account").url.endswith("/console/sign-in?next=/console/account")
    assert not w.problems, w.problems


def test_an_admin_creates_a_user_who_can_then_sign_in(world: World) -> None:
    w = world
    _sign_in(w, "root")
    w.page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    w.page.wait_for_load_state()
    w.page.get_by_label("Name", exact=True).fill("bea")
    w.page.get_by_label("Role").select_option("supervisor")
    w.page.get_by_label("Initial password").fill("a long enough password")
    w.page.get_by_role("button", name="Create user").click()
    w.page.wait_for_load_state()
    assert "Created user bea." in w.page.get_by_role("status").inner_text()
    assert w.page.get_by_role("rowheader", name="bea").is_visible()
    assert {u.name: u.role for u in w.accounts.list_users()}["bea"] == "supervisor"
    w.page.get_by_role("button", name="Sign out").first.click()
    w.page.wait_for_load_state()
    _sign_in(w, "bea", "a long enough password")
    assert w.page.locator("#signed-in-name").inner_text() == "bea"
    assert not w.problems, w.problems


def test_posts_without_the_csrf_token_are_refused_in_the_browser(world: World) -> None:
    w = world
    _sign_in(w, "ana")
    # the browser's own cookies, a POST without the token: refused, and the session lives on
    refused = w.page.request.post(f"{w.base}/console/sign-out", form={"x": "1"}, headers={"Origin": w.base})
    assert refused.status == 403
    assert w.page.goto(f"{w.base}/console/").url == f"{w.base}/console/"
    token = w.page.locator("input[name=csrf_token]").first.get_attribute("value")
    accepted = w.page.request.post(
        f"{w.base}/console/sign-out", form={"csrf_token": token}, headers={"Origin": w.base}, max_redirects=0
    )
    assert accepted.status == 303


def test_wrong_passwords_lock_the_name_in_the_browser(world: World) -> None:
    w = world
    for _ in range(5):
        _sign_in(w, "ana", "not the password")
        assert "The name or password is incorrect." in w.page.get_by_role("alert").inner_text()
    _sign_in(w, "ana")
    assert "Too many failed sign-ins" in w.page.get_by_role("alert").inner_text()
    assert w.page.url.endswith("/console/sign-in")
