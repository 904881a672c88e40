"""``capture_session``: does this onboarding capture flow behave like a person's?

Session-level features (``session_features``: time to capture, retries, camera switches, focus losses and
time away, orientation changes, pastes into identity fields, duration, time per step) scored by the
``capture-session-v1`` model (``session_model``: how rare the rarest feature is among normal sessions).
The score means ``attack``; the policy flags it at ``checks.capture_session.thresholds.anomaly`` (rule
``capture-session-anomaly`` -> review, ``SESSION_ANOMALY``). The check never compares the score itself.

A session without any flow event (no step, camera or capture: pointer-only telemetry, a Balabit
recording) is ``failed_to_acquire``: there is no capture flow to judge.
"""

from __future__ import annotations

from typing import Any, ClassVar

from openidv.checks.base import Check, CheckParams
from openidv.checks.device.session_features import has_capture_flow, session_features
from openidv.checks.device.session_model import MODEL_ID, SessionModel, load_model
from openidv.checks.device.session_params import CaptureSessionParams
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


class CaptureSessionCheck(Check):
    name: ClassVar[str] = "capture_session"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.ATTACK
    requires: ClassVar[tuple[str, ...]] = ("telemetry",)
    Params: ClassVar[type[CheckParams]] = CaptureSessionParams

    params: CaptureSessionParams

    def __init__(self, services: Any = None, **params: Any) -> None:
        super().__init__(services, **params)
        self.model: SessionModel = load_model()

    def run(self, evidence: Evidence) -> CheckResult:
        telemetry = evidence.telemetry
        if telemetry is None or not has_capture_flow(telemetry):
            return self.result(
                Status.FAILED_TO_ACQUIRE, None, (), {"note": "no capture-flow events (step, camera, capture)"}
            )
        features = session_features(telemetry, self.params.identity_fields)
        score = self.model.score(features)
        details = {
            "model": MODEL_ID,
            "features": {k: round(v, 3) for k, v in features.items()},
            "unusual": self.model.unusual(features),
        }
        return self.result(Status.OK, round(score, 6), (), details)
