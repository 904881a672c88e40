"""Device attribute sets for the device tests: a real-looking desktop Chrome, an iPhone, and what a
Playwright-driven headless Chromium reports (navigator.webdriver, HeadlessChrome, ``__playwright*``)."""

from __future__ import annotations

from typing import Any

from openidv.evidence import ApplicantData, Evidence
from openidv.telemetry import DeviceAttributes, Event, Telemetry

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
HEADLESS_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
    "Safari/537.36"
)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
FONTS = ("Arial", "Calibri", "Cambria", "Consolas", "Segoe UI", "Tahoma", "Verdana")


def desktop(**changes: Any) -> DeviceAttributes:
    base: dict[str, Any] = {
        "user_agent": CHROME_UA.format(v=130),
        "client_hints": {"brands": ("Chromium", "Google Chrome"), "mobile": False, "platform": "Windows"},
        "platform": "Win32",
        "vendor": "Google Inc.",
        "screen": {"width": 1920, "height": 1080, "pixel_ratio": 1.0, "color_depth": 24},
        "timezone": "Europe/Berlin",
        "languages": ("de-DE", "de", "en"),
        "hardware_concurrency": 8,
        "device_memory": 8,
        "max_touch_points": 0,
        "touch_support": False,
        "canvas_hash": "c" * 64,
        "webgl_hash": "a" * 64,
        "webgl_vendor": "Google Inc. (NVIDIA)",
        "webgl_renderer": "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)",
        "audio_hash": "d" * 64,
        "fonts": FONTS,
        "automation": {"webdriver": False, "plugins": 5, "chrome_object": True},
    }
    base.update(changes)
    return DeviceAttributes.model_validate(base)


def iphone(**changes: Any) -> DeviceAttributes:
    base: dict[str, Any] = {
        "user_agent": IPHONE_UA,
        "platform": "iPhone",
        "vendor": "Apple Computer, Inc.",
        "screen": {"width": 390, "height": 844, "pixel_ratio": 3.0},
        "timezone": "Europe/Berlin",
        "languages": ("de-DE",),
        "hardware_concurrency": 6,
        "max_touch_points": 5,
        "touch_support": True,
        "canvas_hash": "1" * 64,
        "webgl_hash": "2" * 64,
        "webgl_vendor": "Apple Inc.",
        "webgl_renderer": "Apple GPU",
        "audio_hash": "3" * 64,
        "automation": {"webdriver": False},
    }
    base.update(changes)
    return DeviceAttributes.model_validate(base)


def playwright_headless() -> DeviceAttributes:
    """What the collector reads in a Playwright-launched headless Chromium (defaults, no stealth)."""
    return DeviceAttributes.model_validate(
        {
            "user_agent": HEADLESS_UA,
            "client_hints": {"brands": ("Chromium", "HeadlessChrome"), "mobile": False, "platform": "Linux"},
            "platform": "Linux x86_64",
            "vendor": "Google Inc.",
            "screen": {"width": 1280, "height": 720, "pixel_ratio": 1.0},
            "timezone": "UTC",
            "languages": ("en-US",),
            "hardware_concurrency": 2,
            "max_touch_points": 0,
            "touch_support": False,
            "canvas_hash": "e" * 64,
            "webgl_hash": "f" * 64,
            "webgl_vendor": "Google Inc. (Google)",
            "webgl_renderer": "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader)",
            "automation": {
                "webdriver": True,
                "headless_user_agent": True,
                "driver_globals": ("__playwright__binding__", "__pwInitScripts"),
                "plugins": 0,
                "chrome_object": False,
            },
        }
    )


def evidence(
    device: DeviceAttributes | None,
    *,
    events: tuple[Event, ...] = (),
    country: str | None = "DE",
    subject: str | None = None,
    tenant: str = "t1",
) -> Evidence:
    return Evidence(
        telemetry=Telemetry(device=device, events=events),
        applicant=ApplicantData(country=country) if country else None,
        subject_id=subject,
        tenant_id=tenant,
    )
