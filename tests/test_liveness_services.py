"""The liveness services and verbs: sessions remember frames only when passed, the session check asks a
service it is given, and ``check_liveness`` takes any image-like selfie."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import Engine, func, select

from openidv.api.liveness_schemas import FramesRequest
from openidv.checks.liveness.replay import Fingerprint
from openidv.checks.liveness.session_check import LivenessSessionCheck, SessionVerdict
from openidv.checks.services import LIVENESS_SESSIONS
from openidv.decision.policy import load_policy
from openidv.errors import ConfigurationError
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.library.liveness import check_liveness
from openidv.services.captures import MemoryCaptureIndex, SqlCaptureIndex
from openidv.services.liveness import LivenessConfig, LivenessService
from openidv.store.liveness_tables import CaptureHash, LivenessSession
from tests.liveness_helpers import ScriptedObserver, frames_payload, no_embedder, scripted_track

CHALLENGES = ["turn_left", "blink", "smile"]
GOOD = scripted_track([("turn_left", 800.0), ("blink", 2200.0), ("smile", 3600.0)])


class FakeSessions:
    def __init__(self, verdicts: dict[str, SessionVerdict]) -> None:
        self.verdicts = verdicts

    def session_verdict(self, session_id: str, *, tenant: str) -> SessionVerdict | None:
        return self.verdicts.get(session_id)


def test_session_check_reads_the_service_it_is_given() -> None:
    with pytest.raises(ConfigurationError, match="liveness_sessions"):
        LivenessSessionCheck()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sessions = FakeSessions(
        {
            "ok": SessionVerdict("passed", tuple(CHALLENGES), at),
            "bad": SessionVerdict("failed", tuple(CHALLENGES), at, ("LIVENESS_IDENTITY_CHANGED",)),
            "late": SessionVerdict("expired", tuple(CHALLENGES), at),
            "open": SessionVerdict("open", tuple(CHALLENGES), at),
        }
    )
    check = LivenessSessionCheck({LIVENESS_SESSIONS: sessions})

    def run(session_id: str) -> tuple[float | None, tuple[str, ...]]:
        result = check.run(Evidence(liveness_session_id=session_id))
        return result.score, result.reason_codes

    assert run("ok") == (0.0, ())
    assert run("bad") == (1.0, ("LIVENESS_IDENTITY_CHANGED",))
    assert run("late") == (1.0, ("LIVENESS_CHALLENGE_FAILED",))
    assert run("open") == (None, ("LIVENESS_SESSION_INCOMPLETE",))
    assert run("nope") == (None, ("LIVENESS_SESSION_UNKNOWN",))


def _service(engine: Engine) -> LivenessService:
    return LivenessService(
        engine,
        index=SqlCaptureIndex(engine),
        policy=load_policy(),
        observer=ScriptedObserver(GOOD),
        embedder=no_embedder,
        config=LivenessConfig(min_frames=10),
    )


def _submit(service: LivenessService, nonce: str | None = None) -> tuple[str, bool, list[str]]:
    session = service.create_session()
    with service._sessions() as s, s.begin():
        row = s.get(LivenessSession, session.id)
        assert row is not None
        row.challenges = CHALLENGES
    frames = frames_payload(GOOD)
    request = FramesRequest.model_validate({"nonce": nonce or session.nonce, "frames": frames})
    out = service.submit(session.id, request.submitted_frames(), nonce=request.nonce)
    return session.id, bool(out.body["passed"]), list(out.body["reason_codes"])


def _hashes(engine: Engine) -> int:
    with SqlCaptureIndex(engine)._sessions() as s:
        return int(s.scalar(select(func.count()).select_from(CaptureHash)) or 0)


def test_failed_session_remembers_nothing_and_passed_one_is_a_replay_later(engine: Engine) -> None:
    service = _service(engine)
    failed_id, passed, codes = _submit(service, nonce="wrong-nonce")
    assert not passed and codes == ["LIVENESS_NONCE_MISMATCH"]
    assert _hashes(engine) == 0  # a failed session's frames are not remembered
    verdict = service.session_verdict(failed_id)
    assert verdict is not None and verdict.status == "failed"
    assert verdict.reason_codes == ("LIVENESS_NONCE_MISMATCH",)
    passed_id, passed, codes = _submit(service)
    assert passed, codes
    assert _hashes(engine) > 0
    verdict = service.session_verdict(passed_id)
    assert verdict is not None and verdict.status == "passed" and verdict.challenges == tuple(CHALLENGES)
    _, passed, codes = _submit(service)  # the same video again, in a new session
    assert not passed and "REPLAYED_CAPTURE" in codes
    assert service.session_verdict("no-such-session") is None


def test_check_liveness_takes_any_image_like(shared_data: Path) -> None:
    path = shared_data / "faces/biden/biden2.jpg"
    by_path = check_liveness(path)
    assert by_path.verdict == "approve" and by_path.selfie == str(path)
    with PILImage.open(path) as pil:
        rgb = np.asarray(pil.convert("RGB"))
    by_array = check_liveness(rgb)
    scores = {r["check"]: r["score"] for r in by_path.results}
    assert {r["check"]: r["score"] for r in by_array.results}["pad"] == pytest.approx(scores["pad"], abs=1e-3)
    index = MemoryCaptureIndex()
    index.add(Fingerprint.of(load_image(path).bgr), kind="selfie", reference="earlier")
    replayed = check_liveness(path.read_bytes(), capture_index=index)
    assert "REPLAYED_CAPTURE" in replayed.reason_codes and replayed.verdict != "approve"
