"""Liveness sessions: create a challenge session, claim it once, judge its frames, store the verdict.

A session is created with a random nonce, an expiry and a random sequence of challenges, and stored
(``liveness_sessions``). The client films the person performing them and posts the frames with their
timestamps, the nonce and its capture metadata. Everything about the request is validated *before* the
session is touched, so bad input stores nothing and the session can still be used. Then the session is
claimed atomically (``UPDATE ... WHERE used_at IS NULL``): a second submission finds it used
(``LIVENESS_SESSION_REUSED``), a late one finds it expired (``LIVENESS_SESSION_EXPIRED``). The frames are
judged by the pure ``openidv.checks.liveness.session_analysis.analyse``; PAD and deepfake findings on the best
frame come from the policy (``Policy.judge``). The frames' fingerprints enter the capture index only when the
session passed, in the transaction that stores the verdict.

The service takes plain inputs (decoded frames, nonce, capture metadata) and returns a ``Submission`` whose
``outcome`` the HTTP layer maps to a status code. It also answers the ``liveness_session`` check
(``session_verdict``).
"""

from __future__ import annotations

import base64
import math
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, update

from openidv.checks.liveness.active import CHALLENGES
from openidv.checks.liveness.injection import CaptureMetadata
from openidv.checks.liveness.params import ActiveParams, DeepfakeParams, InjectionParams
from openidv.checks.liveness.replay import Fingerprint
from openidv.checks.liveness.session_analysis import (
    Embedder,
    Observer,
    analyse,
    default_embedder,
    default_observer,
    observe_track,
)
from openidv.checks.liveness.session_check import SessionVerdict
from openidv.checks.liveness.tracks import Track
from openidv.checks.registry import create_check
from openidv.decision.policy import Policy
from openidv.errors import InvalidInput, NotFound
from openidv.evidence import Evidence
from openidv.imageio import Image, ImageLimits, encode_jpeg, load_image
from openidv.pipeline import run_check_safely
from openidv.results import CheckResult
from openidv.services.captures import CaptureIndex
from openidv.store import audit
from openidv.store.audit import AuditLog, session_info
from openidv.store.db import make_session_factory
from openidv.store.liveness_tables import LivenessSession
from openidv.tenancy import DEFAULT_TENANT

PASSIVE_CHECKS = ("pad", "deepfake")
#: the finding a passive check's attack score gives when the check names no species itself
FALLBACK_CODES = {"pad": "PAD_ATTACK_SUSPECTED", "deepfake": "DEEPFAKE_SUSPECTED"}


@dataclass(frozen=True)
class LivenessConfig:
    """Limits of the session API; a request outside them is a 4xx and stores nothing."""

    session_ttl_s: int = 120
    n_challenges: int = 3
    min_frames: int = 10
    max_frames: int = 150  # 10 s at 15 fps
    max_frame_bytes: int = 1_500_000
    max_frame_pixels: int = 2_100_000  # 1920 x 1080 and a little
    #: all frames of one submission together: they are held decoded at once (3 bytes a pixel), so 150 small
    #: 1080p JPEGs (a 7 MB request) would hold 930 MB; 64 MP (190 MB) is 150 frames of 640x480 or 60 of 720p
    max_total_pixels: int = 64_000_000
    max_duration_ms: float = 60_000.0
    embed_every: int = 3  # embed every n-th frame for identity continuity (and the first and last)


@dataclass(frozen=True)
class NewSession:
    id: str
    nonce: str
    challenges: list[str]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SubmittedFrame:
    """One frame as the client sent it: its capture time and its encoded file (JPEG or PNG)."""

    timestamp_ms: float
    data: bytes


@dataclass(frozen=True)
class Submission:
    """The outcome of a submission and its body; ``reused`` is the only refusal (HTTP 409)."""

    outcome: Literal["passed", "failed", "expired", "reused"]
    body: dict[str, Any]

    @property
    def reused(self) -> bool:
        return self.outcome == "reused"


def _actor(api_key_id: str | None) -> str:
    return f"api_key:{api_key_id}" if api_key_id else "system"


def _reused(session_id: str) -> Submission:
    return Submission(
        "reused",
        {
            "session_id": session_id,
            "passed": False,
            "reason_codes": ["LIVENESS_SESSION_REUSED"],
            "detail": "this liveness session was already used; create a new one",
        },
    )


class LivenessService:
    """Challenge sessions in the store; ``index`` must live in the same database as the sessions."""

    def __init__(
        self,
        engine: Engine,
        *,
        index: CaptureIndex,
        policy: Policy,
        config: LivenessConfig | None = None,
        observer: Observer | None = None,
        embedder: Embedder | None = None,
        clock: Callable[[], datetime] | None = None,
        audit_log: AuditLog | None = None,
    ) -> None:
        self.engine = engine
        #: session creation and completion are audited, MACed with this log's key (default: the environment's)
        self.audit = audit_log or AuditLog()
        self._sessions = make_session_factory(engine, info=session_info(self.audit))
        self.index = index
        self.policy = policy
        self.config = config or LivenessConfig()
        self.observer = observer or default_observer
        self.embedder = embedder or default_embedder
        self.clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ sessions

    def create_session(self, api_key_id: str | None = None, *, tenant: str = DEFAULT_TENANT) -> NewSession:
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
            tenant_id=tenant,
        )
        with self._sessions() as session, session.begin():
            session.add(row)
            session.flush()
            audit.append(
                session,
                actor=_actor(api_key_id),
                action="liveness.session_created",
                subject=row.id,
                payload={
                    "tenant": tenant,
                    "challenges": challenges,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
        return NewSession(row.id, row.nonce, challenges, now, row.expires_at)

    def get_session(self, session_id: str, *, tenant: str = DEFAULT_TENANT) -> LivenessSession:
        """The tenant's session; another tenant's is ``NotFound``, like one that never existed."""
        with self._sessions() as session:
            row = session.get(LivenessSession, session_id)
            if row is None or row.tenant_id != tenant:
                raise NotFound(f"liveness session {session_id!r} does not exist")
            session.expunge(row)
            found: LivenessSession = row
            return found

    def session_verdict(self, session_id: str, *, tenant: str = DEFAULT_TENANT) -> SessionVerdict | None:
        """The stored verdict of the tenant's session (the ``liveness_session`` check asks this)."""
        try:
            row = self.get_session(session_id, tenant=tenant)
        except NotFound:
            return None
        result: dict[str, Any] = dict(row.result or {})
        return SessionVerdict(
            status=row.status,
            challenges=tuple(str(c) for c in row.challenges),
            expires_at=row.expires_at,
            reason_codes=tuple(str(c) for c in result.get("reason_codes") or ()),
        )

    # ------------------------------------------------------------------ validation (nothing stored)

    def decode_frames(self, frames: Sequence[SubmittedFrame]) -> tuple[list[Image], list[float], list[bytes]]:
        cfg = self.config
        n = len(frames)
        if n == 0:
            raise InvalidInput("frames: the list is empty; send the frames of the challenge video")
        if n < cfg.min_frames:
            raise InvalidInput(f"frames: {n} frames is too few; send at least {cfg.min_frames}")
        if n > cfg.max_frames:
            raise InvalidInput(f"frames: {n} frames is over the limit of {cfg.max_frames}")
        stamps = [f.timestamp_ms for f in frames]
        if not all(math.isfinite(t) and t >= 0 for t in stamps):
            raise InvalidInput("frames: every timestamp_ms must be a finite, non-negative number")
        if max(stamps) - min(stamps) > cfg.max_duration_ms:
            raise InvalidInput(f"frames: the frames span more than {cfg.max_duration_ms / 1000:g} s")
        limits = ImageLimits(
            max_bytes=cfg.max_frame_bytes,
            max_pixels=cfg.max_frame_pixels,
            max_source_pixels=cfg.max_frame_pixels,
        )
        images: list[Image] = []
        total = 0
        for i, f in enumerate(frames):
            image = load_image(f.data, limits=limits, name=f"frames[{i}].image")
            images.append(image)
            total += image.width * image.height
            # after the first frame the total is foreseen (frames share one size); the running total holds
            # against a small first frame followed by large ones
            if max(total, n * image.width * image.height if i == 0 else 0) > cfg.max_total_pixels:
                raise InvalidInput(
                    f"frames: {n} frames of {image.width}x{image.height} are over the "
                    f"{cfg.max_total_pixels / 1e6:g}-megapixel limit of one submission; send fewer or "
                    "smaller frames (640x480 is plenty)"
                )
        sizes = {(im.width, im.height) for im in images}
        if len(sizes) > 1:
            raise InvalidInput(
                "frames: all frames must have one size; got "
                + ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
            )
        return images, stamps, [f.data for f in frames]

    # ------------------------------------------------------------------ submission

    def submit(
        self,
        session_id: str,
        frames: Sequence[SubmittedFrame],
        *,
        nonce: str,
        capture: CaptureMetadata | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> Submission:
        """Judge a session's frames once. Bad input raises ``InvalidInput`` and leaves the session unused."""
        start = time.perf_counter()
        row = self.get_session(session_id, tenant=tenant)
        if row.used_at is not None:
            return _reused(session_id)
        now = self.clock()
        if now >= row.expires_at:
            body: dict[str, Any] = {
                "session_id": session_id,
                "passed": False,
                "reason_codes": ["LIVENESS_SESSION_EXPIRED"],
                "detail": f"the session expired at {row.expires_at.isoformat()}",
            }
            if not self._claim(session_id, now):
                return Submission("reused", {**body, "reason_codes": ["LIVENESS_SESSION_REUSED"]})
            self._finish(session_id, "expired", body, tenant=row.tenant_id, actor=_actor(row.api_key_id))
            return Submission("expired", body)
        images, stamps, raws = self.decode_frames(frames)  # bad input raises here: nothing stored
        if not self._claim(session_id, now):
            return _reused(session_id)
        try:
            analysis = analyse(
                images,
                stamps,
                challenges=list(row.challenges),
                nonce=nonce,
                expected_nonce=row.nonce,
                passive=self._passive,
                capture=capture,
                first_frame=raws[0],
                index=self.index,
                active_params=self._active_params(),
                injection_params=self._injection_params(),
                observer=self.observer,
                embedder=self.embedder,
                embed_every=self.config.embed_every,
                tenant=row.tenant_id,
            )
        except Exception:
            self._finish(
                session_id,
                "error",
                {"error": "analysis failed"},
                tenant=row.tenant_id,
                actor=_actor(row.api_key_id),
            )
            raise
        body = {"session_id": row.id, **analysis.to_dict()}
        best = analysis.best_frame
        if best is not None:
            body["best_frame_jpeg_base64"] = base64.b64encode(encode_jpeg(images[best], 92)).decode("ascii")
        body["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        # a passed session's frames are remembered, so the same video sent again is a replay
        remember = analysis.injection.fingerprints if analysis.passed else ()
        outcome: Literal["passed", "failed"] = "passed" if analysis.passed else "failed"
        stored = {k: v for k, v in body.items() if k != "best_frame_jpeg_base64"}
        self._finish(
            session_id, outcome, stored, remember, tenant=row.tenant_id, actor=_actor(row.api_key_id)
        )
        return Submission(outcome, body)

    def observe(self, images: Sequence[Image], stamps: Sequence[float]) -> Track:
        """Per-frame measurements with this service's observer and embedder."""
        return observe_track(
            images,
            stamps,
            observer=self.observer,
            embedder=self.embedder,
            embed_every=self.config.embed_every,
        )

    def _claim(self, session_id: str, now: datetime) -> bool:
        with self._sessions() as session, session.begin():
            result = session.execute(
                update(LivenessSession)
                .where(LivenessSession.id == session_id, LivenessSession.used_at.is_(None))
                .values(used_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def _finish(
        self,
        session_id: str,
        status: str,
        result: dict[str, Any],
        remember: Sequence[Fingerprint] = (),
        *,
        tenant: str = DEFAULT_TENANT,
        actor: str = "system",
    ) -> None:
        """Store the verdict and, in the same transaction, the fingerprints to remember (as ``tenant``'s)
        and the audit entry (status and reason codes only: no frames, no scores' inputs)."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(LivenessSession)
                .where(LivenessSession.id == session_id)
                .values(status=status, result=result)
            )
            for fp in remember:
                self.index.add(fp, kind="frame", reference=session_id, session=session, tenant=tenant)
            audit.append(
                session,
                actor=actor,
                action="liveness.session_completed",
                subject=session_id,
                payload={
                    "tenant": tenant,
                    "status": status,
                    "passed": bool(result.get("passed", False)),
                    "reason_codes": [str(c) for c in result.get("reason_codes") or ()],
                },
            )

    # ------------------------------------------------------------------ policy

    def _active_params(self) -> ActiveParams:
        """The challenge verifier's limits; identity and jitter limits are the deepfake check's."""
        deepfake = DeepfakeParams.model_validate(self.policy.params("deepfake"))
        return ActiveParams(
            min_identity_similarity=deepfake.min_identity_similarity,
            max_landmark_jitter=deepfake.max_landmark_jitter,
        )

    def _injection_params(self) -> InjectionParams:
        return InjectionParams.model_validate(self.policy.params("injection"))

    def _passive(self, image: Image) -> list[tuple[CheckResult, list[str]]]:
        """PAD and deepfake on the best frame, each with the findings its score gives under the policy."""
        evidence = Evidence(selfie=image)
        out = []
        for name in PASSIVE_CHECKS:
            result = run_check_safely(create_check(name, self.policy.params(name)), evidence)
            out.append((result, self._attack_codes(result)))
        return out

    def _attack_codes(self, result: CheckResult) -> list[str]:
        """The check's codes and its fallback finding when the policy judges its score an attack."""
        cfg = self.policy.checks.get(result.check)
        if cfg is None or "attack" not in cfg.thresholds:
            return []
        verdict = self.policy.judge(result, "attack")
        if verdict is None or not verdict.holds:
            return []
        fallback = FALLBACK_CODES.get(result.check, "PAD_ATTACK_SUSPECTED")
        return list(dict.fromkeys([*result.reason_codes, fallback]))
