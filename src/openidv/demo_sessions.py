"""The demo's onboarding sessions: device attributes and behaviour telemetry for the ``device``,
``behaviour`` and ``capture_session`` checks.

The person's pointer movements are real (a 60 s window of a held-out user's Balabit Mouse Dynamics session
in ``../shared/data/mouse_sessions``); the browser's attributes are typed here (a plain desktop Chrome);
the bot's straight-line moves are SYNTHETIC (``openidv.synth.telemetry``, seed 2026), and so is the
automated browser (the flags a Playwright-driven headless Chromium reports).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openidv.checks.device.telemetry_formats import read_balabit, windows
from openidv.synth.capture_sessions import capture_flow_events
from openidv.synth.telemetry import pointer_bot, to_telemetry
from openidv.telemetry import POINTER_TYPES, Automation, DeviceAttributes, Telemetry

SEED = 2026
#: the user the behaviour model never saw in training (``openidv.train.bot.TEST_USERS``)
HELD_OUT_SESSION = "mouse_sessions/user35"

DESKTOP_CHROME = DeviceAttributes(
    user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    platform="Win32",
    vendor="Google Inc.",
    timezone="Europe/London",
    timezone_offset_minutes=0,
    languages=("en-GB", "en"),
    hardware_concurrency=8,
    device_memory=8,
    max_touch_points=0,
    touch_support=False,
    canvas_hash="5c0e7d1f" * 8,
    webgl_hash="a17be2c9" * 8,
    webgl_vendor="Google Inc. (Intel)",
    webgl_renderer="ANGLE (Intel, Intel(R) UHD Graphics 620 Direct3D11 vs_5_0 ps_5_0, D3D11)",
    audio_hash="0d9a44e3" * 8,
    fonts=("Arial", "Calibri", "Cambria", "Consolas", "Segoe UI", "Tahoma"),
    cookies_enabled=True,
    automation=Automation(webdriver=False, plugins=5, chrome_object=True),
)
#: the scripts' own machine (another GPU, screen and font set): the identity graph must not link the
#: genuine applicant to them through a shared device
SCRIPT_MACHINE = DESKTOP_CHROME.model_copy(
    update={
        "timezone": "Europe/Berlin",
        "timezone_offset_minutes": -60,
        "hardware_concurrency": 16,
        "device_memory": 16,
        "canvas_hash": "9e41b07a" * 8,
        "webgl_hash": "33d0f5c2" * 8,
        "webgl_vendor": "Google Inc. (NVIDIA)",
        "webgl_renderer": "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)",
        "audio_hash": "71c2e9d4" * 8,
        "fonts": ("Arial", "Consolas", "Segoe UI", "Verdana"),
    }
)
HEADLESS_DRIVEN = SCRIPT_MACHINE.model_copy(
    update={
        "user_agent": (SCRIPT_MACHINE.user_agent or "").replace("Chrome/", "HeadlessChrome/"),
        "automation": Automation(
            webdriver=True,
            headless_user_agent=True,
            driver_globals=("__playwright__binding__",),
            plugins=0,
            chrome_object=False,
        ),
    }
)


def _with_capture_flow(pointer: Telemetry, device: DeviceAttributes) -> Telemetry:
    """Pointer events plus an ordinary desktop capture flow (SYNTHETIC, ``openidv.synth.capture_sessions``;
    its own clicks are left out: the pointer events are the session's)."""
    flow = capture_flow_events(np.random.default_rng(SEED), "normal", mobile=False)
    events = sorted((*pointer.events, *(e for e in flow if e.type not in POINTER_TYPES)), key=lambda e: e.t)
    return pointer.model_copy(update={"device": device, "events": tuple(events)})


def human_session(shared_data: Path) -> Telemetry:
    """A real person's mouse movements (the first full minute of a held-out user's session)."""
    first = sorted((shared_data / HELD_OUT_SESSION).glob("session_*"))[0]
    window = windows(read_balabit(first), 60.0, 50)[0]
    return _with_capture_flow(window, DESKTOP_CHROME)


def scripted_session() -> Telemetry:
    """A SYNTHETIC script moving the pointer in straight lines at constant speed, on an ordinary browser."""
    stream = pointer_bot("straight", np.random.default_rng(SEED), duration_s=60.0, recorder="dense")
    return _with_capture_flow(to_telemetry(pointer=stream), SCRIPT_MACHINE)


def automated_session() -> Telemetry:
    """The same script in a browser that says it is driven by automation (navigator.webdriver, headless)."""
    stream = pointer_bot("straight", np.random.default_rng(SEED + 1), duration_s=60.0, recorder="dense")
    return _with_capture_flow(to_telemetry(pointer=stream), HEADLESS_DRIVEN)
