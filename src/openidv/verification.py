"""One applicant: evidence -> checks -> policy -> decision, and the record that is stored and returned.

This layer writes nothing: ``openidv.services.Verifier`` stores the record, with the follow-ups the checks
asked for, in one transaction. The API, the CLI and ``openidv.verify`` all go through that one Verifier.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from openidv.checks.base import FollowUp
from openidv.decision.reason_codes import describe
from openidv.evidence import Evidence
from openidv.imageio import Image
from openidv.pipeline import Pipeline
from openidv.results import CheckResult, Decision, Outcome, Status


class VerificationRecord(BaseModel):
    """A finished verification as stored and as returned by the API."""

    model_config = ConfigDict(frozen=True)

    id: str
    created_at: datetime
    decision: Decision
    checks: tuple[CheckResult, ...]
    latency_ms: float
    #: True when this is an earlier verification handed back for a repeated ``Idempotency-Key`` (found
    #: before running, or by losing the race to store the first one); how it was obtained, never stored
    replayed: bool = Field(default=False, exclude=True)

    def to_api(self) -> dict[str, Any]:
        """The wire shape: ``id, decision, reason_codes, checks`` are stable names other tools use."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "decision": self.decision.outcome.value,
            "reason_codes": list(self.decision.reason_codes),
            "reasons": {code: describe(code) for code in self.decision.reason_codes},
            "policy_version": self.decision.policy_version,
            "fired_rules": [f.model_dump(mode="json") for f in self.decision.fired_rules],
            "checks": [c.model_dump(mode="json") for c in self.checks],
            "latency_ms": self.latency_ms,
        }


def _present(evidence: Evidence) -> list[str]:
    """The inputs present (the tenant is who asks, not an input: it is stored beside the verification)."""
    return sorted(name for name in Evidence.model_fields if name != "tenant_id" and evidence.has(name))


def _image_digest(image: Image) -> str:
    return hashlib.sha256(image.pixels.tobytes()).hexdigest()


def evidence_summary(evidence: Evidence) -> dict[str, Any]:
    """What the store keeps about the inputs: which were present and digests, not the raw personal data."""
    summary: dict[str, Any] = {"fields": _present(evidence)}
    if evidence.mrz_text:
        summary["mrz_sha256"] = hashlib.sha256(evidence.mrz_text.encode("utf-8")).hexdigest()
    for name in summary["fields"]:
        value = getattr(evidence, name)
        if isinstance(value, Image):
            summary[name] = {**value.describe(), "pixels_sha256": _image_digest(value)}
    return summary


def evidence_digest(evidence: Evidence) -> str:
    """A digest of everything in the evidence (images by their pixels), for idempotency and the audit log."""
    payload: dict[str, Any] = {}
    for name in _present(evidence):
        value = getattr(evidence, name)
        if isinstance(value, Image):
            payload[name] = _image_digest(value)
        elif isinstance(value, BaseModel):
            payload[name] = value.model_dump(mode="json")
        else:
            payload[name] = value
    return request_digest(payload)


def request_digest(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    ).hexdigest()


@dataclass(frozen=True)
class VerificationRun:
    """A finished, not yet stored verification, and the writes its checks asked for once it is stored."""

    record: VerificationRecord
    follow_ups: tuple[tuple[str, FollowUp], ...]  # (service name, follow-up), in check order

    @property
    def leaves_trace(self) -> bool:
        """Follow-ups (capture fingerprints, enrolments) apply only when the applicant is not rejected."""
        return self.record.decision.outcome != Outcome.REJECT

    def applicable_follow_ups(self) -> tuple[tuple[str, FollowUp], ...]:
        """The follow-ups to apply once stored: all of them, or when rejected only those marked
        ``on_reject`` (the identity graph's, the device reputation's); each told the outcome (``decided``)."""
        outcome = self.record.decision.outcome.value
        return tuple(
            (name, f.decided(outcome)) for name, f in self.follow_ups if self.leaves_trace or f.on_reject
        )


def run_verification(evidence: Evidence, pipeline: Pipeline) -> VerificationRun:
    """Checks -> policy -> decision for one applicant; writes nothing (``services.Verifier`` stores it)."""
    run = pipeline.run(evidence)
    record = VerificationRecord(
        id=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        decision=run.decision,
        checks=run.results,
        latency_ms=run.latency_ms,
    )
    by_name = {c.name: c for c in pipeline.checks}
    follow_ups: list[tuple[str, FollowUp]] = []
    for result in run.results:
        check = by_name.get(result.check)
        if check is None or (result.status == Status.ERROR and not check.follow_ups_on_error):
            continue
        follow_ups += [(f.service, f) for f in check.follow_ups(evidence, result)]
    return VerificationRun(record, tuple(follow_ups))
