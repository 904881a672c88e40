"""One applicant, end to end: evidence -> checks -> policy -> decision -> (store + audit).

``openidv.verify`` is the library entry point; the API and the CLI call the same function.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from openidv.decision.policy import Policy, load_policy
from openidv.decision.reason_codes import describe
from openidv.evidence import DeclaredData, Evidence
from openidv.imageio import Image
from openidv.pipeline import Pipeline
from openidv.results import CheckResult, Decision

if TYPE_CHECKING:
    from openidv.store.repository import Store


class VerificationRecord(BaseModel):
    """A finished verification as stored and as returned by the API."""

    model_config = ConfigDict(frozen=True)

    id: str
    created_at: datetime
    decision: Decision
    checks: tuple[CheckResult, ...]
    latency_ms: float

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
    return sorted(name for name in Evidence.model_fields if evidence.has(name))


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


_pipelines: dict[tuple[str, int], Pipeline] = {}


def pipeline_for(policy: Policy) -> Pipeline:
    """Checks load models once per policy, not per request."""
    key = (policy.version, id(policy))
    if key not in _pipelines:
        _pipelines.clear()
        _pipelines[key] = Pipeline(policy)
    return _pipelines[key]


def run_verification(
    evidence: Evidence,
    *,
    policy: Policy | None = None,
    store: Store | None = None,
    request_hash: str | None = None,
    api_key_id: str | None = None,
    idempotency_key: str | None = None,
    actor: str = "library",
) -> VerificationRecord:
    pipeline = pipeline_for(policy or load_policy())
    run = pipeline.run(evidence)
    record = VerificationRecord(
        id=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        decision=run.decision,
        checks=run.results,
        latency_ms=run.latency_ms,
    )
    if store is None:
        return record
    return store.save_verification(
        record,
        request_hash=request_hash or evidence_digest(evidence),
        evidence_summary=evidence_summary(evidence),
        api_key_id=api_key_id,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def verify(
    *,
    mrz: str | None = None,
    declared: DeclaredData | Mapping[str, Any] | None = None,
    as_of: date | None = None,
    policy: Policy | str | None = None,
    store: Store | None = None,
) -> VerificationRecord:
    """Verify one applicant: ``openidv.verify(mrz=..., declared={"surname": ..., "birth_date": ...})``."""
    declared_data = DeclaredData.model_validate(declared) if isinstance(declared, Mapping) else declared
    evidence = Evidence(mrz_text=mrz, declared=declared_data, as_of=as_of)
    loaded = policy if isinstance(policy, Policy) else load_policy(policy)
    return run_verification(evidence, policy=loaded, store=store)
