"""``check_liveness``: passive liveness of one selfie, as a library verb (``openidv liveness check`` too).

Runs the ``pad``, ``deepfake`` and ``injection`` checks and the policy's rules. The injection check looks
the selfie up in a capture index; with none given a fresh in-memory one is used, so a one-off call finds no
replay and remembers nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from openidv.checks.liveness.injection import selfie_evidence
from openidv.checks.liveness.replay import CaptureLookup
from openidv.checks.registry import create_check
from openidv.checks.services import CAPTURE_INDEX
from openidv.decision.policy import Policy, load_policy
from openidv.evidence import Evidence
from openidv.imageio import ImageLike, as_image
from openidv.pipeline import run_check_safely
from openidv.results import CheckResult, Status
from openidv.services.captures import MemoryCaptureIndex

LIVENESS_CHECKS = ("pad", "deepfake", "injection")


class LivenessResult(BaseModel):
    """The verdict on one selfie, each check's result (with the policy's ``attack`` threshold), the policy."""

    model_config = ConfigDict(frozen=True)

    selfie: str
    verdict: str
    reason_codes: list[str]
    policy_version: str
    results: list[dict[str, Any]]
    acquired: bool


def _evidence(selfie: ImageLike) -> tuple[Evidence, str]:
    """The selfie as evidence; a file or encoded bytes also give their EXIF as capture metadata."""
    if isinstance(selfie, str | Path) and Path(selfie).is_file():
        return selfie_evidence(Path(selfie).read_bytes(), name=str(selfie)), str(selfie)
    if isinstance(selfie, bytes | bytearray | memoryview):
        return selfie_evidence(bytes(selfie)), "selfie"
    image = as_image(selfie, name="selfie")
    return Evidence(selfie=image), str(selfie) if isinstance(selfie, str | Path) else image.source


def _with_threshold(result: CheckResult, policy: Policy) -> dict[str, Any]:
    item = result.model_dump(mode="json")
    cfg = policy.checks.get(result.check)
    if cfg and "attack" in cfg.thresholds:
        item["threshold"] = cfg.thresholds["attack"].value
    return item


def check_liveness(
    selfie: ImageLike,
    *,
    policy: Policy | str | Path | None = None,
    capture_index: CaptureLookup | None = None,
) -> LivenessResult:
    """Passive liveness of one selfie (path, bytes, PIL image, numpy RGB array or ``Image``).

    ``policy`` is a loaded policy or a policy file (default: ``$OPENIDV_POLICY`` or the packaged one).
    """
    loaded = policy if isinstance(policy, Policy) else load_policy(policy)
    services = {CAPTURE_INDEX: capture_index if capture_index is not None else MemoryCaptureIndex()}
    evidence, label = _evidence(selfie)
    results = [
        run_check_safely(create_check(name, loaded.params(name), services), evidence)
        for name in LIVENESS_CHECKS
    ]
    decision = loaded.decide(results, asked=LIVENESS_CHECKS)
    return LivenessResult(
        selfie=label,
        verdict=decision.outcome.value,
        reason_codes=list(decision.reason_codes),
        policy_version=decision.policy_version,
        results=[_with_threshold(r, loaded) for r in results],
        acquired=any(r.status == Status.OK for r in results),
    )
