"""Parameters of the ``behaviour`` check (pydantic only: the policy validates them
without importing the check)."""

from __future__ import annotations

from pydantic import Field

from openidv.checks.base import CheckParams

BEHAVIOUR_MODEL_ID = "behaviour-bot-v1"


class BehaviourParams(CheckParams):
    """How much telemetry the behaviour check needs, and how much of a long session it reads."""

    min_pointer_events: int = Field(
        default=30,
        ge=2,
        le=100_000,
        description="pointer events (with coordinates) needed to score the pointer",
    )
    min_key_strokes: int = Field(
        default=10, ge=2, le=100_000, description="key strokes (down/up pairs) needed to score typing"
    )
    max_window_s: float = Field(
        default=180.0,
        gt=0,
        le=86_400,
        description="only the last this many seconds of pointer events are read (the model was trained on "
        "60 s windows; onboarding pages last 30 s to 3 min)",
    )
