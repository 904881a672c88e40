"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` (or ``OPENIDV_CHROMIUM``) driven
by the Python ``playwright`` package through ``executable_path`` (no browser download).

Where Chromium or Playwright is missing the tests skip with a message, except under
``OPENIDV_REQUIRE_SERVICES=1`` (CI; ``make test`` installs Chromium first with
``scripts/ensure_chromium.sh``), where that fails instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("OPENIDV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> Any:
    """``playwright.sync_api.sync_playwright`` once Chromium and Playwright are known to be there."""
    if not Path(CHROMIUM).is_file():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the playwright package is not installed (the dev extra has it)")
    from playwright.sync_api import sync_playwright

    return sync_playwright


def _unavailable(message: str) -> None:
    if os.environ.get("OPENIDV_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (OPENIDV_REQUIRE_SERVICES=1; scripts/ensure_chromium.sh installs it)")
    pytest.skip(message)
