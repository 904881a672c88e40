"""``liveness_session``: the verdict of the challenge-response session an applicant went through.

The client creates a session (``POST /v1/liveness/sessions``), submits its frames, gets the best frame back,
and then sends that frame as the selfie with ``liveness_session_id`` in ``POST /v1/verifications``. This
check asks the ``liveness_sessions`` service (``LivenessSessions``, implemented by
``openidv.services.liveness.LivenessService``) for the session's stored verdict: passed (score 0), failed or
expired (score 1 with the session's reason codes), or unknown / not yet submitted (failed to acquire).
Scores mean ``attack``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from openidv.checks.base import Check
from openidv.checks.liveness.params import LivenessSessionParams
from openidv.checks.services import LIVENESS_SESSIONS
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


@dataclass(frozen=True)
class SessionVerdict:
    """What a liveness session came to: ``open`` | ``passed`` | ``failed`` | ``expired`` | ``error``."""

    status: str
    challenges: tuple[str, ...]
    expires_at: datetime
    reason_codes: tuple[str, ...] = ()


class LivenessSessions(Protocol):
    """What the ``liveness_session`` check asks the session service."""

    def session_verdict(self, session_id: str, *, tenant: str) -> SessionVerdict | None:
        """The verdict of the tenant's session, or None when the tenant has no such session."""
        ...


class LivenessSessionCheck(Check):
    name = "liveness_session"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("liveness_session_id",)
    Params = LivenessSessionParams
    needs = (LIVENESS_SESSIONS,)

    @property
    def sessions(self) -> LivenessSessions:
        service: LivenessSessions = self.services[LIVENESS_SESSIONS]
        return service

    def run(self, evidence: Evidence) -> CheckResult:
        session_id = str(evidence.liveness_session_id)
        verdict = self.sessions.session_verdict(session_id, tenant=evidence.tenant_id)
        if verdict is None:
            return self.result(
                Status.FAILED_TO_ACQUIRE, None, ["LIVENESS_SESSION_UNKNOWN"], {"session_id": session_id}
            )
        details: dict[str, Any] = {
            "session_id": session_id,
            "status": verdict.status,
            "challenges": list(verdict.challenges),
            "expires_at": verdict.expires_at.isoformat(),
            "reason_codes": list(verdict.reason_codes),
        }
        if verdict.status == "passed":
            return self.result(Status.OK, 0.0, (), details)
        if verdict.status in ("failed", "expired"):
            codes = list(verdict.reason_codes or ["LIVENESS_CHALLENGE_FAILED"])
            return self.result(Status.OK, 1.0, codes, details)
        return self.result(Status.FAILED_TO_ACQUIRE, None, ["LIVENESS_SESSION_INCOMPLETE"], details)
