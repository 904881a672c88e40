"""Parameters of the ``behaviour`` check (pydantic only: the policy validates them
without importing the check)."""

from __future__ import annotations

from openidv.checks.base import CheckParams


class BehaviourParams(CheckParams):
    """Filled in by the behaviour check's module (issue 14)."""
