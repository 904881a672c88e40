"""A small user-agent reader: OS family, browser family and major version, mobile, headless.

Only what the device signals compare needs; no third-party parser (their regex sets are large and change
often). Unknown parts are ``None``: a signal that needs them then stays silent rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(
    r"(Edg|EdgA|EdgiOS|OPR|SamsungBrowser|Firefox|FxiOS|CriOS|HeadlessChrome|Chrome|Version)/(\d+)"
)


@dataclass(frozen=True)
class UserAgent:
    os: str | None  # Windows, macOS, iOS, Android, Linux, ChromeOS
    browser: str | None  # Chrome, Edge, Opera, Samsung, Firefox, Safari
    major: int | None
    mobile: bool
    headless: bool

    @property
    def family(self) -> str:
        """Browser and OS without the version: stable across browser updates."""
        return f"{self.browser or '?'}/{self.os or '?'}"

    @property
    def desktop(self) -> bool:
        return self.os in ("Windows", "macOS", "Linux", "ChromeOS") and not self.mobile


def _os(ua: str) -> str | None:
    if "Windows NT" in ua or "Windows Phone" in ua:
        return "Windows"
    if "Android" in ua:
        return "Android"
    if "iPhone" in ua or "iPad" in ua or "iPod" in ua:
        return "iOS"
    if "CrOS" in ua:
        return "ChromeOS"
    if "Macintosh" in ua or "Mac OS X" in ua:
        return "macOS"
    if "Linux" in ua or "X11" in ua:
        return "Linux"
    return None


def _browser(ua: str) -> tuple[str | None, int | None]:
    found = dict(reversed(_VERSION.findall(ua)))  # first occurrence of each token wins
    for token, name in (
        ("Edg", "Edge"),
        ("EdgA", "Edge"),
        ("EdgiOS", "Edge"),
        ("OPR", "Opera"),
        ("SamsungBrowser", "Samsung"),
        ("Firefox", "Firefox"),
        ("FxiOS", "Firefox"),
        ("CriOS", "Chrome"),
        ("HeadlessChrome", "Chrome"),
        ("Chrome", "Chrome"),
    ):
        if token in found:
            return name, int(found[token])
    if "Safari" in ua and "Version" in found:
        return "Safari", int(found["Version"])
    return None, None


def parse_user_agent(ua: str | None) -> UserAgent | None:
    if not ua:
        return None
    browser, major = _browser(ua)
    os_name = _os(ua)
    mobile = "Mobile" in ua or os_name in ("Android", "iOS")
    return UserAgent(os_name, browser, major, mobile, "HeadlessChrome" in ua)
