"""Parameters of the ``device`` check (pydantic only: the policy validates them
without importing the check)."""

from __future__ import annotations

from openidv.checks.base import CheckParams


class DeviceParams(CheckParams):
    """Filled in by the device check's module (issue 14)."""
