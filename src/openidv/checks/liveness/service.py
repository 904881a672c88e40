"""Liveness as a service: challenge sessions (create, submit frames once) and the one-shot selfie check.

A session is created with a random nonce, an expiry and a random sequence of challenges, and stored
(``liveness_sessions``). The client films the person performing them and posts the frames with their
timestamps, the nonce and its capture metadata. Everything about the request is validated *before* the
session is touched, so bad input stores nothing and the session can still be used. Then the session is
claimed atomically (``UPDATE ... WHERE used_at IS NULL``): a second submission finds it used
(``LIVENESS_SESSION_REUSED``), a late one finds it expired (``LIVENESS_SESSION_EXPIRED``). The frames go
through the landmark model (pose, blendshapes), face embeddings on every few frames (identity continuity),
the challenge verifier, the injection and replay signals, temporal consistency, and passive PAD and deepfake
checks on the best frame, which is returned for the face match.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, update

from openidv.checks.liveness.active import CHALLENGES, verify_track
from openidv.checks.liveness.injection import CaptureMetadata, analyse_capture, exif_summary
from openidv.checks.liveness.replay import CaptureIndex
from openidv.checks.liveness.tracks import FrameObservation, Track
from openidv.decision.policy import Policy, load_policy
from openidv.errors import InvalidInput, NotFound
from openidv.evidence import Evidence
from openidv.imageio import Image, ImageLimits, encode_jpeg, load_image
from openidv.pipeline import run_check_safely
from openidv.results import CheckResult, Status
from openidv.store.db import make_session_factory
from openidv.store.liveness_tables import LivenessSession


@dataclass(frozen=True)
class LivenessConfig:
    """Limits of the session API; a request outside them is a 4xx and stores nothing."""

    session_ttl_s: int = 120
    n_challenges: int = 3
    min_frames: int = 10
    max_frames: int = 150  # 10 s at 15 fps
    max_frame_bytes: int = 1_500_000
    max_frame_pixels: int = 2_100_000  # 1920 x 1080 and a little
    max_duration_ms: float = 60_000.0
    embed_every: int = 3  # embed every n-th frame for identity continuity (and the first and last)


class FrameIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timestamp_ms: float = Field(description="capture time in milliseconds on the client's clock")
    image: str = Field(description="the frame, JPEG or PNG, base64-encoded", max_length=2_100_000)


class FramesRequest(BaseModel):
    """``POST /v1/liveness/sessions/{id}/frames``: JSON with base64 frames (multipart is not accepted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nonce: str = Field(min_length=1, max_length=64)
    frames: list[FrameIn]
    capture: CaptureMetadata | None = None


class SessionOut(BaseModel):
    id: str
    nonce: str
    challenges: list[str]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Submission:
    """What the route returns: the HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]


Observer = Callable[[Image, float], FrameObservation]
Embedder = Callable[[Image], list[float] | None]


def default_observer(image: Image, t_ms: float) -> FrameObservation:
    from openidv.checks.liveness.landmarker import observe

    return observe(image, t_ms)


def default_embedder(image: Image) -> list[float] | None:
    from openidv.checks.face.analysis import face_embedding, find_faces

    face = find_faces(image, min_score=0.6).largest
    if face is None:
        return None
    return [float(v) for v in face_embedding(image, face).vector]


def sharpness(image: Image) -> float:
    gray = cv2.cvtColor(np.asarray(image.bgr), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


class LivenessService:
    def __init__(
        self,
        engine: Engine,
        *,
        index: CaptureIndex | None = None,
        policy: Policy | None = None,
        config: LivenessConfig | None = None,
        observer: Observer | None = None,
        embedder: Embedder | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)
        self.index = index
        self.policy = policy
        self.config = config or LivenessConfig()
        self.observer = observer or default_observer
        self.embedder = embedder or default_embedder
        self.clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ sessions

    def create_session(self, api_key_id: str | None = None) -> SessionOut:
        rng = secrets.SystemRandom()
        challenges = rng.sample(list(CHALLENGES), k=min(self.config.n_challenges, len(CHALLENGES)))
        now = self.clock()
        row = LivenessSession(
            id=str(uuid.uuid4()),
            nonce=secrets.token_urlsafe(24),
            challenges=challenges,
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.session_ttl_s),
            status="open",
            api_key_id=api_key_id,
        )
        with self._sessions() as session, session.begin():
            session.add(row)
        return SessionOut(
            id=row.id, nonce=row.nonce, challenges=challenges, created_at=now, expires_at=row.expires_at
        )

    def get_session(self, session_id: str) -> LivenessSession:
        with self._sessions() as session:
            row = session.get(LivenessSession, session_id)
            if row is None:
                raise NotFound(f"liveness session {session_id!r} does not exist")
            session.expunge(row)
            found: LivenessSession = row
            return found

    # ------------------------------------------------------------------ validation (nothing stored)

    def decode_frames(self, request: FramesRequest) -> tuple[list[Image], list[float], list[bytes]]:
        cfg = self.config
        n = len(request.frames)
        if n == 0:
            raise InvalidInput("frames: the list is empty; send the frames of the challenge video")
        if n < cfg.min_frames:
            raise InvalidInput(f"frames: {n} frames is too few; send at least {cfg.min_frames}")
        if n > cfg.max_frames:
            raise InvalidInput(f"frames: {n} frames is over the limit of {cfg.max_frames}")
        stamps = [f.timestamp_ms for f in request.frames]
        if not all(math.isfinite(t) and t >= 0 for t in stamps):
            raise InvalidInput("frames: every timestamp_ms must be a finite, non-negative number")
        if max(stamps) - min(stamps) > cfg.max_duration_ms:
            raise InvalidInput(f"frames: the frames span more than {cfg.max_duration_ms / 1000:g} s")
        limits = ImageLimits(
            max_bytes=cfg.max_frame_bytes,
            max_pixels=cfg.max_frame_pixels,
            max_source_pixels=cfg.max_frame_pixels,
        )
        images, raws = [], []
        for i, frame in enumerate(request.frames):
            try:
                raw = base64.b64decode(frame.image, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInput(f"frames[{i}].image: not valid base64") from None
            images.append(load_image(raw, limits=limits, name=f"frames[{i}].image"))
            raws.append(raw)
        sizes = {(im.width, im.height) for im in images}
        if len(sizes) > 1:
            raise InvalidInput(
                "frames: all frames must have one size; got "
                + ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
            )
        return images, stamps, raws

    # ------------------------------------------------------------------ submission

    def submit(self, session_id: str, request: FramesRequest) -> Submission:
        start = time.perf_counter()
        row = self.get_session(session_id)
        if row.used_at is not None:
            return Submission(
                409,
                {
                    "session_id": session_id,
                    "passed": False,
                    "reason_codes": ["LIVENESS_SESSION_REUSED"],
                    "detail": "this liveness session was already used; create a new one",
                },
            )
        now = self.clock()
        if now >= row.expires_at:
            body = {
                "session_id": session_id,
                "passed": False,
                "reason_codes": ["LIVENESS_SESSION_EXPIRED"],
                "detail": f"the session expired at {row.expires_at.isoformat()}",
            }
            if not self._claim(session_id, now):
                return Submission(409, {**body, "reason_codes": ["LIVENESS_SESSION_REUSED"]})
            self._finish(session_id, "expired", body)
            return Submission(200, body)
        images, stamps, raws = self.decode_frames(request)  # bad input raises here: nothing stored
        if not self._claim(session_id, now):
            return Submission(
                409,
                {
                    "session_id": session_id,
                    "passed": False,
                    "reason_codes": ["LIVENESS_SESSION_REUSED"],
                    "detail": "this liveness session was already used; create a new one",
                },
            )
        try:
            body = self._analyse(row, request, images, stamps, raws)
        except Exception:
            self._finish(session_id, "error", {"error": "analysis failed"})
            raise
        body["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        self._finish(
            session_id,
            "passed" if body["passed"] else "failed",
            {k: v for k, v in body.items() if k != "best_frame_jpeg_base64"},
        )
        return Submission(200, body)

    def _claim(self, session_id: str, now: datetime) -> bool:
        with self._sessions() as session, session.begin():
            result = session.execute(
                update(LivenessSession)
                .where(LivenessSession.id == session_id, LivenessSession.used_at.is_(None))
                .values(used_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def _finish(self, session_id: str, status: str, result: dict[str, Any]) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(LivenessSession)
                .where(LivenessSession.id == session_id)
                .values(status=status, result=result)
            )

    def observe(self, images: Sequence[Image], stamps: Sequence[float]) -> Track:
        """Per-frame measurements: landmarks/pose/blendshapes on every frame, embeddings on every n-th."""
        order = sorted(range(len(images)), key=lambda i: stamps[i])
        every = max(1, self.config.embed_every)
        embed_at = set(order[::every]) | {order[0], order[-1]}
        frames = []
        for i, (image, t) in enumerate(zip(images, stamps, strict=True)):
            obs = self.observer(image, t)
            extra: dict[str, Any] = {"sharpness": round(sharpness(image), 3)}
            if obs.face and i in embed_at and obs.embedding is None:
                extra["embedding"] = self.embedder(image)
            frames.append(obs.model_copy(update=extra))
        return Track(frames=frames, frame_size=(images[0].width, images[0].height))

    def _analyse(
        self,
        row: LivenessSession,
        request: FramesRequest,
        images: list[Image],
        stamps: list[float],
        raws: list[bytes],
    ) -> dict[str, Any]:
        codes: list[str] = []
        if not secrets.compare_digest(request.nonce, row.nonce):
            codes.append("LIVENESS_NONCE_MISMATCH")
        track = self.observe(images, stamps)
        active = verify_track(track, list(row.challenges), self._params("deepfake"))
        codes += [c for c in active.codes if c not in codes]
        capture = request.capture
        if capture is not None and capture.exif is None:
            capture = capture.model_copy(update={"exif": exif_summary(raws[0]) or None})
        injection = analyse_capture(
            images,
            metadata=capture,
            timestamps_ms=stamps,
            params=self._params("injection"),
            index=self.index,
            reference=row.id,
            kind="frame",
            record=False,
        )
        codes += [c for c in injection.codes if c not in codes]
        checks: list[CheckResult] = []
        best = active.best_frame
        if best is not None:
            evidence = Evidence(selfie=images[best])
            for name in ("pad", "deepfake"):
                result = self._run_check(name, evidence)
                checks.append(result)
                codes += [c for c in self._policy_codes(result) if c not in codes]
        passed = not codes
        if passed and self.index is not None:
            analyse_capture(
                images,
                params=self._params("injection"),
                index=self.index,
                reference=row.id,
                kind="frame",
                record=True,
                lookup=False,
            )
        body: dict[str, Any] = {
            "session_id": row.id,
            "passed": passed,
            "reason_codes": codes,
            "challenges": [c.to_dict() for c in active.challenges],
            "identity": active.details.get("temporal", {}),
            "injection": injection.to_dict(),
            "checks": [c.model_dump(mode="json") for c in checks],
            "best_frame": None if best is None else {"index": best, "timestamp_ms": stamps[best]},
            "note": "PAD and deepfake models were trained on simulated attacks only (docs/liveness.md)",
        }
        if best is not None:
            body["best_frame_jpeg_base64"] = base64.b64encode(encode_jpeg(images[best], 92)).decode("ascii")
        return body

    def _params(self, check: str) -> dict[str, Any]:
        if self.policy is None or check not in self.policy.checks:
            return {}
        return dict(self.policy.checks[check].params)

    def _run_check(self, name: str, evidence: Evidence) -> CheckResult:
        from openidv.checks.registry import create_check

        return run_check_safely(create_check(name, self._params(name)), evidence)

    def _policy_codes(self, result: CheckResult) -> list[str]:
        """The finding for a passive check on the best frame: its score at or above the policy's threshold."""
        return attack_codes(result, self.policy)


FALLBACK_CODES = {"pad": "PAD_ATTACK_SUSPECTED", "deepfake": "DEEPFAKE_SUSPECTED"}


def attack_codes(result: CheckResult, policy: Policy | None) -> list[str]:
    """Reason codes for an ``attack`` score at or above the policy's tuned ``attack`` threshold."""
    if policy is None or result.status != Status.OK or result.score is None:
        return []
    cfg = policy.checks.get(result.check)
    if cfg is None or "attack" not in cfg.thresholds or result.score < cfg.thresholds["attack"].value:
        return []
    return list(
        dict.fromkeys([*result.reason_codes, FALLBACK_CODES.get(result.check, "PAD_ATTACK_SUSPECTED")])
    )


# ---------------------------------------------------------------------------------- one-shot selfie check


def check_selfie(path: Path | str, *, policy: Path | str | None = None) -> dict[str, Any]:
    """Passive liveness on one selfie: the ``pad``, ``deepfake`` and ``injection`` checks and the policy."""
    from openidv.checks.registry import create_check

    loaded = load_policy(policy)
    data = Path(path).read_bytes() if Path(path).is_file() else b""
    image = load_image(data if data else path, name=str(path))
    evidence = Evidence(selfie=image, metadata={"capture": {"exif": exif_summary(data)}} if data else {})
    results = []
    for name in ("pad", "deepfake", "injection"):
        params = dict(loaded.checks[name].params) if name in loaded.checks else {}
        results.append(run_check_safely(create_check(name, params), evidence))
    decision = loaded.decide(results)
    out = []
    for r in results:
        item = r.model_dump(mode="json")
        cfg = loaded.checks.get(r.check)
        if cfg and "attack" in cfg.thresholds:
            item["threshold"] = cfg.thresholds["attack"].value
        out.append(item)
    statuses = {r.status for r in results}
    return {
        "selfie": str(path),
        "verdict": decision.outcome.value,
        "reason_codes": list(decision.reason_codes),
        "policy_version": decision.policy_version,
        "results": out,
        "acquired": Status.OK in statuses,
    }


_default_service: LivenessService | None = None


def set_default_liveness_service(service: LivenessService | None) -> None:
    """Make ``service`` the one the ``liveness_session`` check reads sessions from in this process."""
    global _default_service
    _default_service = service


def default_liveness_service() -> LivenessService | None:
    return _default_service
