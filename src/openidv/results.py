"""What checks and policies produce: CheckResult and Decision.

These are the wire format too: API responses and every ``--json`` output serialise a CheckResult with the
fields ``check, version, status, score, meaning, reason_codes, details, latency_ms``. Other tools read those
names, so they never change.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    """Whether a check produced a usable score (ISO/IEC 19795-1 vocabulary for failure to acquire)."""

    OK = "ok"
    FAILED_TO_ACQUIRE = "failed_to_acquire"
    ERROR = "error"


class Meaning(StrEnum):
    """Which direction a score points; metrics and policy read this instead of guessing.

    ``similarity``: higher means more likely the same person / genuine / consistent.
    ``attack``: higher means more likely an attack / forgery / fraud.
    """

    SIMILARITY = "similarity"
    ATTACK = "attack"


class Outcome(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    REJECT = "reject"

    @property
    def severity(self) -> int:
        return {"approve": 0, "review": 1, "reject": 2}[self.value]


MEANING_TEXT = {
    Meaning.SIMILARITY: "higher means more likely genuine / the same person (0..1)",
    Meaning.ATTACK: "higher means more likely an attack or fraud (0..1)",
}


class CheckResult(BaseModel):
    """One check's verdict on one applicant's evidence."""

    model_config = ConfigDict(frozen=True)

    check: str
    version: str
    status: Status
    score: float | None = None
    meaning: Meaning
    reason_codes: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)
    latency_ms: float = 0.0

    def with_latency(self, latency_ms: float) -> CheckResult:
        return self.model_copy(update={"latency_ms": round(latency_ms, 3)})


class FiredRule(BaseModel):
    """A policy rule that matched, kept with the decision so a reviewer sees why."""

    model_config = ConfigDict(frozen=True)

    rule: str
    outcome: Outcome
    reason_codes: tuple[str, ...] = ()


class Decision(BaseModel):
    """The policy's answer for one applicant; records the policy version and every reason code."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    reason_codes: tuple[str, ...]
    policy_version: str
    fired_rules: tuple[FiredRule, ...] = ()
