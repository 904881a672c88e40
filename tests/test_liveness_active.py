"""Challenge-response liveness on recorded (scripted) tracks, and the session rules of the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from openidv.api.liveness_schemas import FramesRequest
from openidv.api.routes_liveness import http_status
from openidv.checks.liveness.active import verify_track
from openidv.checks.liveness.tracks import Track
from openidv.decision.policy import load_policy
from openidv.services.captures import MemoryCaptureIndex
from openidv.services.liveness import LivenessConfig, LivenessService, Submission
from openidv.store.liveness_tables import LivenessSession
from tests.liveness_helpers import ScriptedObserver, frames_payload, identity, no_embedder, scripted_track

CHALLENGES = ["turn_left", "blink", "smile"]
GOOD = [("turn_left", 800.0), ("blink", 2200.0), ("smile", 3600.0)]


def test_track_meeting_the_challenges_passes(tmp_path: Path) -> None:
    track = scripted_track(GOOD)
    track.dump(tmp_path / "track.json")
    recorded = Track.load(tmp_path / "track.json")  # recorded tracks round-trip through JSON
    result = verify_track(recorded, CHALLENGES)
    assert result.passed, result.to_dict()
    assert [c.met for c in result.challenges] == [True, True, True]
    assert result.best_frame is not None
    best = recorded.frames[result.best_frame]
    assert abs(best.yaw or 0) < 5 and best.shape("eyeBlinkLeft") < 0.3  # frontal, eyes open


def test_wrong_order_fails() -> None:
    track = scripted_track([("smile", 800.0), ("turn_left", 2200.0), ("blink", 3600.0)])
    result = verify_track(track, CHALLENGES)
    assert not result.passed
    assert result.codes == ("LIVENESS_CHALLENGE_FAILED",)
    assert result.challenges[0].reason == "out_of_order"


def test_too_late_fails() -> None:
    track = scripted_track([("turn_left", 800.0), ("blink", 7500.0), ("smile", 8000.0)], total_ms=9000)
    result = verify_track(track, CHALLENGES)
    assert "LIVENESS_CHALLENGE_FAILED" in result.codes
    assert result.challenges[1].reason == "too_late"


def test_different_face_mid_session_fails() -> None:
    track = scripted_track(GOOD, switch_at_ms=3000.0, other=identity(99))
    result = verify_track(track, CHALLENGES)
    assert "LIVENESS_IDENTITY_CHANGED" in result.codes
    assert not result.passed


def test_static_photo_fails() -> None:
    result = verify_track(scripted_track([]), CHALLENGES)
    assert result.codes == ("LIVENESS_CHALLENGE_FAILED",)
    assert result.challenges[0].reason == "not_performed"


# ------------------------------------------------------------------ the service: nonce, expiry, single use


def service_for(engine: Engine, track: Track, clock: list[datetime] | None = None) -> LivenessService:
    now = clock or [datetime.now(UTC)]
    return LivenessService(
        engine,
        index=MemoryCaptureIndex(),
        policy=load_policy(),
        observer=ScriptedObserver(track),
        embedder=no_embedder,
        config=LivenessConfig(min_frames=10),
        clock=lambda: now[0],
    )


def request_for(service: LivenessService, session_id: str, track: Track, **kw: object) -> FramesRequest:
    nonce = service.get_session(session_id).nonce
    return FramesRequest.model_validate({"nonce": nonce, "frames": frames_payload(track, **kw)})  # type: ignore[arg-type]


def submit(service: LivenessService, session_id: str, request: FramesRequest) -> Submission:
    """What the route does: decode the body, submit plain frames."""
    return service.submit(
        session_id, request.submitted_frames(), nonce=request.nonce, capture=request.capture
    )


def test_session_pass_then_reuse_is_refused(engine: Engine) -> None:
    track = scripted_track(GOOD)
    service = service_for(engine, track)
    session = service.create_session()
    assert len(session.challenges) == 3 and len(session.nonce) >= 24
    # the random sequence is the session's; score this track against the challenges it performs
    with service._sessions() as s, s.begin():
        s.get(LivenessSession, session.id).challenges = CHALLENGES  # type: ignore[union-attr,unused-ignore]
    first = submit(service, session.id, request_for(service, session.id, track))
    assert http_status(first) == 200 and first.body["passed"], first.body["reason_codes"]
    assert first.body["best_frame"]["index"] is not None and first.body["best_frame_jpeg_base64"]
    second = submit(service, session.id, request_for(service, session.id, track))
    assert http_status(second) == 409 and second.reused
    assert second.body["reason_codes"] == ["LIVENESS_SESSION_REUSED"]
    assert service.get_session(session.id).status == "passed"


def test_expired_session_fails(engine: Engine) -> None:
    track = scripted_track(GOOD)
    clock = [datetime.now(UTC)]
    service = service_for(engine, track, clock)
    session = service.create_session()
    clock[0] += timedelta(seconds=LivenessConfig().session_ttl_s + 1)
    out = submit(service, session.id, request_for(service, session.id, track))
    assert out.body["reason_codes"] == ["LIVENESS_SESSION_EXPIRED"] and not out.body["passed"]


def test_wrong_nonce_and_static_frames_fail(engine: Engine) -> None:
    track = scripted_track([])
    service = service_for(engine, track)
    session = service.create_session()
    req = FramesRequest.model_validate(
        {"nonce": "not-the-nonce", "frames": frames_payload(track, identical=True)}
    )
    out = submit(service, session.id, req)
    codes = out.body["reason_codes"]
    assert not out.body["passed"]
    assert {"LIVENESS_NONCE_MISMATCH", "LIVENESS_CHALLENGE_FAILED", "INJECTION_SUSPECTED"} <= set(codes)
    signals = {s["signal"] for s in out.body["injection"]["signals"]}
    assert "frames_identical" in signals
