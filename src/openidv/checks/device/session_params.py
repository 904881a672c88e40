"""Parameters of the ``capture_session`` check (pydantic only: the policy validates
them without importing it)."""

from __future__ import annotations

from openidv.checks.base import CheckParams


class CaptureSessionParams(CheckParams):
    """Filled in by the capture-session check's module (issue 14)."""
