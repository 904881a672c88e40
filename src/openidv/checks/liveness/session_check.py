"""``liveness_session``: the verdict of the challenge-response session an applicant went through.

The client creates a session (``POST /v1/liveness/sessions``), submits its frames, gets the best frame back,
and then sends that frame as the selfie with ``liveness_session_id`` in ``POST /v1/verifications``. This
check reads the session's stored verdict: passed (score 0), failed or expired (score 1 with the session's
reason codes), or unknown / not yet submitted (failed to acquire). Scores mean ``attack``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from openidv.checks.base import Check
from openidv.checks.liveness.service import default_liveness_service
from openidv.errors import NotFound
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


class LivenessSessionCheck(Check):
    name = "liveness_session"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("liveness_session_id",)
    params_schema: ClassVar[dict[str, Any]] = {}

    def run(self, evidence: Evidence) -> CheckResult:
        service = default_liveness_service()
        if service is None:
            raise RuntimeError("no liveness service is configured in this process (the API configures one)")
        session_id = str(evidence.liveness_session_id)
        try:
            row = service.get_session(session_id)
        except NotFound:
            return self.result(
                Status.FAILED_TO_ACQUIRE, None, ["LIVENESS_SESSION_UNKNOWN"], {"session_id": session_id}
            )
        result: dict[str, Any] = dict(row.result or {})
        details = {
            "session_id": session_id,
            "status": row.status,
            "challenges": list(row.challenges),
            "expires_at": row.expires_at.isoformat(),
            "reason_codes": list(result.get("reason_codes", [])),
        }
        if row.status == "passed":
            return self.result(Status.OK, 0.0, (), details)
        if row.status in ("failed", "expired"):
            codes = list(result.get("reason_codes") or ["LIVENESS_CHALLENGE_FAILED"])
            return self.result(Status.OK, 1.0, codes, details)
        return self.result(Status.FAILED_TO_ACQUIRE, None, ["LIVENESS_SESSION_INCOMPLETE"], details)
