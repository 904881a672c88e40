"""The collector in a real browser: headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright
through an onboarding page on another origin, posting to the real API (uvicorn on a free port, embedded
SQLite), then a verification that reads the session's telemetry.

Chromium and its skip rules: tests/browser_helpers.py.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openidv.api.app import create_app
from openidv.services.telemetry_sessions import TelemetrySessions
from openidv.settings import Settings
from openidv.store.repository import Store
from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.telemetry_helpers import TD3, free_port, serve

SECRET = "S3cr3t-Pa55word!"
TYPED_NAME = "Eriksson"
CLIPBOARD = "clip-secret@example.com"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>onboarding</title></head>
<body style="margin:0">
<form id="form" onsubmit="return false" style="padding:40px">
  <label>Surname <input id="surname" name="surname" autocomplete="off"></label><br>
  <label>Email <input id="email" name="email" autocomplete="off"></label><br>
  <label>Password <input id="password" name="password" type="password"></label><br>
  <button id="next" type="button">Next</button>
  <button id="capture" type="button" data-openidv-field="selfie_button">Take photo</button>
  <div style="height:3000px"></div>
</form>
<script src="{api}/openidv-collector.js"></script>
<script>
  const q = new URLSearchParams(location.search);
  window.c = OpenIDV.collector({{endpoint: "{api}/v1", sessionId: q.get("session"), token: q.get("token"),
                                flushIntervalMs: 0}});
  c.step("details");
  document.getElementById("next").addEventListener("click", () => c.step("document"));
  document.getElementById("capture").addEventListener("click", () => {{
    c.mark("camera_start");
    c.mark("capture");
  }});
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_playwright = require_browser()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.expose_function("openidvTestHook", lambda *_: None)  # a driver global, as bots leave
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        try:
            yield context
        finally:
            context.close()


@dataclass
class World:
    api: str
    page_url: str
    store: Store
    key: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path, collector_origins=(page_origin,)), store=store)
    _, key = store.create_api_key("browser-test")
    site = tmp_path / "site"
    site.mkdir()
    with serve(app) as api:
        (site / "onboarding.html").write_text(PAGE.format(api=api), encoding="utf-8")
        handler = functools.partial(_QuietHandler, directory=str(site))
        pages = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
        thread = threading.Thread(target=pages.serve_forever, daemon=True)
        thread.start()
        try:
            yield World(api, f"{page_origin}/onboarding.html", store, key)
        finally:
            pages.shutdown()
            pages.server_close()
    store.engine.dispose()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _drive(context: Any, world: World) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Open a session, walk a person-like path through the page; returns the session, every telemetry body
    the page posted, and the collector's last flush answer."""
    session = httpx.post(f"{world.api}/v1/sessions", headers=world.headers()).json()
    page = context.new_page()
    posted: list[str] = []
    page.on(
        "request",
        lambda r: posted.append(r.post_data or "") if r.method == "POST" and "/telemetry" in r.url else None,
    )
    page.goto(f"{world.page_url}?session={session['session_id']}&token={session['token']}")
    page.mouse.move(20, 20)
    for x, y in ((200, 60), (120, 140), (320, 90)):
        page.mouse.move(x, y, steps=15)
    page.click("#surname")
    page.keyboard.type(TYPED_NAME, delay=25)
    page.evaluate(f"navigator.clipboard.writeText({json.dumps(CLIPBOARD)})")
    page.click("#email")
    page.keyboard.press("Control+V")
    page.click("#password")
    page.keyboard.type(SECRET, delay=20)
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(100)
    page.click("#next")
    page.click("#capture")
    answer: dict[str, Any] = page.evaluate("c.flush()")
    page.close()
    return session, posted, answer


def test_a_browser_session_through_the_collector_to_a_verification(
    browser_context: Any, world: World
) -> None:
    session, posted, flushed = _drive(browser_context, world)
    assert posted and flushed["total_events"] > 0 and flushed["device_stored"], flushed

    status = httpx.get(f"{world.api}/v1/sessions/{session['session_id']}", headers=world.headers()).json()
    # closing the page posts its last events (visibility hidden): at least what the flush answered
    assert status["status"] == "open" and status["events"] >= flushed["total_events"] > 30, status

    resp = httpx.post(
        f"{world.api}/v1/verifications",
        json={"mrz": TD3, "session_id": session["session_id"]},
        headers=world.headers(),
        timeout=120,
    )
    assert resp.status_code == 201, resp.text
    verification = resp.json()
    status = httpx.get(f"{world.api}/v1/sessions/{session['session_id']}", headers=world.headers()).json()
    assert status["status"] == "used"

    telemetry = TelemetrySessions(world.store).telemetry(session["session_id"])
    device = telemetry.device
    assert device is not None and device.automation is not None
    # the driven browser gives itself away
    assert device.automation.webdriver is True
    assert device.automation.headless_user_agent is True
    assert any(g.startswith("__playwright") for g in device.automation.driver_globals), device.automation
    # and the attributes a person's browser has too
    assert device.user_agent and "HeadlessChrome" in device.user_agent
    assert device.screen is not None and device.screen.width > 0
    assert device.timezone and device.languages and device.hardware_concurrency
    assert device.canvas_hash and len(device.canvas_hash) == 64
    assert device.webgl_hash or device.webgl_renderer is None
    assert device.fonts, "the fonts probe found no font at all"
    types = {e.type for e in telemetry.events}
    expected = {"move", "down", "up", "click", "key_down", "key_up", "paste", "focus", "blur", "wheel"}
    assert expected | {"step", "camera_start", "capture"} <= types, types
    assert [e.field for e in telemetry.of_type("step")] == ["details", "document"]
    assert {e.field for e in telemetry.of_type("key_down")} == {"surname", "email", "password"}  # Ctrl+V
    assert [e.field for e in telemetry.of_type("paste")] == ["email"]
    stamps = [e.t for e in telemetry.events]
    assert stamps == sorted(stamps) and stamps[0] >= 0
    assert telemetry.viewport_width and telemetry.viewport_height

    # the device and behaviour checks (merged from their own branches) judge this session
    checks = {c["check"]: c for c in verification["checks"]}
    if importlib.util.find_spec("openidv.checks.device.device_check") is None:
        pytest.xfail("the device and behaviour checks are not in this tree yet (their branches merge them)")
    assert {"device", "behaviour"} <= set(checks), sorted(checks)
    assert checks["device"]["status"] != "error" and checks["behaviour"]["status"] != "error", checks


def test_key_values_field_contents_and_clipboard_never_leave_the_page(
    browser_context: Any, world: World
) -> None:
    _, posted, flushed = _drive(browser_context, world)
    assert posted and flushed["total_events"] > 0
    keys: set[int] = set()
    for body in posted:
        for secret in (SECRET, TYPED_NAME, CLIPBOARD, "Pa55", "clip-secret"):
            assert secret not in body, f"{secret!r} left the page"
        batch = json.loads(body)
        for event in batch["events"]:
            assert set(event) <= {"t", "type", "x", "y", "button", "pointer", "key", "field", "dx", "dy"}
            if event["type"] in ("key_down", "key_up"):
                assert isinstance(event["key"], int)
                keys.add(event["key"])
    # slots, not characters: distinct physical keys of both typed strings (plus Shift and Control+V)
    assert 5 <= len(keys) <= len(set(SECRET.lower() + TYPED_NAME.lower())) + 3, keys


def test_a_flood_of_events_goes_in_batches_within_the_servers_limit(
    browser_context: Any, world: World
) -> None:
    """60,000 key events in a burst: the collector posts them in batches of at most MAX_EVENTS_PER_BATCH,
    every one accepted, and stops at its own ``maxEvents``."""
    from openidv.telemetry import MAX_EVENTS_PER_BATCH

    session = httpx.post(f"{world.api}/v1/sessions", headers=world.headers()).json()
    page = browser_context.new_page()
    sizes: list[int] = []
    page.on(
        "request",
        lambda r: (
            sizes.append(len(json.loads(r.post_data or "{}").get("events", [])))
            if r.method == "POST" and "/telemetry" in r.url
            else None
        ),
    )
    page.goto(f"{world.page_url}?session={session['session_id']}&token={session['token']}")
    answer = page.evaluate(
        """async () => {
            const field = document.getElementById("surname");
            for (let i = 0; i < 60000; i++) {
                const type = i % 2 ? "keyup" : "keydown";
                field.dispatchEvent(new KeyboardEvent(type, {code: "KeyA", bubbles: true}));
            }
            return await c.flush();
        }"""
    )
    page.close()
    assert max(sizes) <= MAX_EVENTS_PER_BATCH and len(sizes) >= 2, sizes
    assert answer["total_events"] >= 60_000, answer
    status = httpx.get(f"{world.api}/v1/sessions/{session['session_id']}", headers=world.headers()).json()
    assert status["events"] >= 60_000 and status["batches"] >= 2
