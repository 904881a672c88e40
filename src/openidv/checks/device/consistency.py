"""Device signals: automation, emulators and virtual machines, and attributes that contradict each other.

Each signal is a named flag with a kind (which reason code it raises) and a sentence a reviewer can read.
Strong automation evidence (``navigator.webdriver``, a headless user agent, driver globals) raises
``DEVICE_AUTOMATION``; weak hints of automation (no plugins, no ``window.chrome``) are inconsistencies of a
Chrome user agent and raise ``DEVICE_INCONSISTENT`` only, so a policy may reject on the first and merely
review the second. Weights (how much each flag adds to the score) are parameters, not set here.

No IP geolocation: no offline GeoIP database ships in an installed package, so the timezone is compared
with the applicant's declared country (``ApplicantData.country``), never with the IP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openidv.checks.device.timezones import countries_of
from openidv.checks.device.useragent import UserAgent, parse_user_agent
from openidv.telemetry import DeviceAttributes, Telemetry

Kind = Literal["automation", "emulator", "inconsistent", "velocity"]
REASON_OF_KIND: dict[str, str] = {
    "automation": "DEVICE_AUTOMATION",
    "emulator": "DEVICE_EMULATOR",
    "inconsistent": "DEVICE_INCONSISTENT",
    "velocity": "DEVICE_VELOCITY",
}

SOFTWARE_RENDERERS = ("swiftshader", "llvmpipe", "softpipe", "microsoft basic render")
VM_RENDERERS = ("virtualbox", "vmware", "svga3d", "parallels", "qxl", "virgl", "hyper-v")
#: renderer names only desktop GPUs carry (phones have Adreno, Mali, PowerVR, Apple GPU, Xclipse...)
DESKTOP_GPUS = ("geforce", "nvidia", "radeon", "intel(r) uhd", "intel(r) hd", "intel(r) iris", "iris(r) xe")
EMULATOR_MODELS = ("sdk_gphone", "android sdk built for", "emulator", "generic_x86", "genymotion", "vbox86")
#: navigator.platform prefixes each user-agent OS is expected to report
PLATFORMS: dict[str, tuple[str, ...]] = {
    "Windows": ("win",),
    "macOS": ("mac",),
    "iOS": ("iphone", "ipad", "ipod"),
    "Android": ("linux", "android"),
    "Linux": ("linux",),
    "ChromeOS": ("linux", "cros"),
}
#: client-hint platform names each user-agent OS is expected to report
HINT_PLATFORMS: dict[str, tuple[str, ...]] = {
    "Windows": ("windows",),
    "macOS": ("macos",),
    "iOS": ("ios",),
    "Android": ("android",),
    "Linux": ("linux",),
    "ChromeOS": ("chrome os", "chromeos"),
}
#: the smaller side of a phone's screen in CSS pixels is below this (tablets included: 1024)
MOBILE_MAX_SHORT_SIDE = 1100
MIN_POINTER_EVENTS = 5


@dataclass(frozen=True)
class Signal:
    name: str
    kind: Kind
    explanation: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "explanation": self.explanation}


def automation_signals(device: DeviceAttributes, ua: UserAgent | None) -> list[Signal]:
    out: list[Signal] = []
    auto = device.automation
    if auto is not None and auto.webdriver:
        out.append(
            Signal(
                "webdriver",
                "automation",
                "navigator.webdriver is true: a WebDriver/CDP driver controls the browser",
            )
        )
    if (auto is not None and auto.headless_user_agent) or (ua is not None and ua.headless):
        out.append(
            Signal("headless", "automation", "the user agent says HeadlessChrome: a browser without a window")
        )
    if auto is not None and auto.driver_globals:
        names = ", ".join(sorted(auto.driver_globals)[:5])
        out.append(Signal("driver_globals", "automation", f"automation driver globals are present ({names})"))
    chrome = ua is not None and ua.browser in ("Chrome", "Edge", "Opera") and not ua.mobile
    if chrome and auto is not None and auto.plugins == 0:
        out.append(
            Signal(
                "no_plugins",
                "inconsistent",
                "a desktop Chromium browser that lists no plugins (headless builds list none)",
            )
        )
    if chrome and auto is not None and auto.chrome_object is False:
        out.append(Signal("no_chrome_object", "inconsistent", "a Chromium user agent without window.chrome"))
    if auto is not None and auto.permissions_inconsistent:
        out.append(
            Signal(
                "permissions_inconsistent",
                "inconsistent",
                "Notification.permission and permissions.query disagree (a headless quirk)",
            )
        )
    return out


def emulator_signals(device: DeviceAttributes, ua_text: str, ua: UserAgent | None = None) -> list[Signal]:
    out: list[Signal] = []
    renderer = f"{device.webgl_renderer or ''} {device.webgl_vendor or ''}".lower()
    if any(s in renderer for s in SOFTWARE_RENDERERS):
        out.append(
            Signal(
                "software_renderer",
                "emulator",
                f"WebGL renders in software ({device.webgl_renderer}): no GPU, typical of emulators, VMs and "
                "headless servers",
            )
        )
    if any(s in renderer for s in VM_RENDERERS):
        out.append(
            Signal(
                "virtual_machine",
                "emulator",
                f"the WebGL renderer is a virtual machine's ({device.webgl_renderer})",
            )
        )
    if ua is not None and ua.os in ("Android", "iOS") and any(g in renderer for g in DESKTOP_GPUS):
        out.append(
            Signal(
                "mobile_desktop_gpu",
                "emulator",
                f"a {ua.os} user agent rendering on a desktop GPU ({device.webgl_renderer}): an emulator "
                "or a spoofed user agent",
            )
        )
    model = f"{(device.client_hints.model if device.client_hints else None) or ''} {ua_text}".lower()
    if any(s in model for s in EMULATOR_MODELS):
        out.append(
            Signal(
                "android_emulator",
                "emulator",
                "the device model is an Android emulator's (sdk_gphone, Android SDK built for x86, "
                "Genymotion...)",
            )
        )
    return out


def _pointer_kinds(telemetry: Telemetry) -> tuple[int, int]:
    """(mouse-like pointer events, touch events)."""
    mouse = touch = 0
    for event in telemetry.events:
        if event.type in ("touch_start", "touch_move", "touch_end") or event.pointer == "touch":
            touch += 1
        elif event.type in ("move", "down", "up", "click", "wheel") and event.pointer in (None, "mouse"):
            mouse += 1
    return mouse, touch


def inconsistency_signals(
    device: DeviceAttributes, ua: UserAgent | None, telemetry: Telemetry, country: str | None
) -> list[Signal]:
    out: list[Signal] = []
    platform = (device.platform or "").lower()
    # iPadOS Safari reports a Mac user agent and MacIntel: consistent (touch points tell it apart)
    if ua is not None and ua.os is not None and platform:  # noqa: SIM102
        if not any(platform.startswith(p) for p in PLATFORMS[ua.os]):
            out.append(
                Signal(
                    "ua_platform_mismatch",
                    "inconsistent",
                    f"the user agent says {ua.os} but navigator.platform is {device.platform!r}",
                )
            )
    hints = device.client_hints
    if ua is not None and hints is not None:
        if ua.os is not None and hints.platform and hints.platform.lower() not in HINT_PLATFORMS[ua.os]:
            out.append(
                Signal(
                    "ua_client_hints_mismatch",
                    "inconsistent",
                    f"the user agent says {ua.os} but the client hints say {hints.platform!r}",
                )
            )
        elif hints.mobile is not None and hints.mobile != ua.mobile:
            out.append(
                Signal(
                    "ua_client_hints_mismatch",
                    "inconsistent",
                    f"the user agent says {'mobile' if ua.mobile else 'desktop'} but the client hints say "
                    f"mobile={hints.mobile}",
                )
            )
    mouse, touch = _pointer_kinds(telemetry)
    no_touch = device.max_touch_points == 0 or device.touch_support is False
    if ua is not None and ua.mobile:
        if no_touch:
            out.append(
                Signal(
                    "mobile_without_touch",
                    "inconsistent",
                    f"a {ua.os} phone or tablet user agent on a device with no touch points",
                )
            )
        screen = device.screen
        if screen is not None and min(screen.width, screen.height) > MOBILE_MAX_SHORT_SIDE:
            out.append(
                Signal(
                    "mobile_desktop_screen",
                    "inconsistent",
                    f"a mobile user agent with a {screen.width}x{screen.height} screen",
                )
            )
        if mouse >= MIN_POINTER_EVENTS and touch == 0:
            out.append(
                Signal(
                    "mobile_mouse_pointer",
                    "inconsistent",
                    f"a mobile user agent driven by a mouse ({mouse} mouse events, no touch)",
                )
            )
    if touch > 0 and device.max_touch_points == 0:
        out.append(
            Signal(
                "touch_without_touch_points",
                "inconsistent",
                f"{touch} touch events from a device that reports 0 touch points",
            )
        )
    ipad = ua is not None and ua.os == "macOS" and (device.max_touch_points or 0) > 1
    if (
        ua is not None
        and ua.desktop
        and not ipad
        and touch >= MIN_POINTER_EVENTS
        and mouse == 0
        and device.max_touch_points == 0
    ):
        out.append(
            Signal(
                "desktop_ua_touch_only",
                "inconsistent",
                "a desktop user agent without touch points whose pointer is touch only",
            )
        )
    if device.timezone and country:
        zone_countries = countries_of(device.timezone)
        if zone_countries and country.upper() not in zone_countries:
            used = ", ".join(sorted(zone_countries)[:6])
            out.append(
                Signal(
                    "timezone_country_mismatch",
                    "inconsistent",
                    f"the browser's timezone {device.timezone} is used in {used}, not in the declared "
                    f"country {country.upper()}",
                )
            )
    if not device.languages and device.user_agent:  # the collector ran (it reads both) yet found none
        out.append(
            Signal(
                "no_languages",
                "inconsistent",
                "navigator.languages is empty (real browsers list at least one)",
            )
        )
    return out


def device_signals(telemetry: Telemetry, country: str | None) -> list[Signal]:
    """Every automation, emulator and inconsistency signal of one session's device (none without one)."""
    device = telemetry.device
    if device is None:
        return []
    ua = parse_user_agent(device.user_agent)
    return [
        *automation_signals(device, ua),
        *emulator_signals(device, device.user_agent or "", ua),
        *inconsistency_signals(device, ua, telemetry, country),
    ]
