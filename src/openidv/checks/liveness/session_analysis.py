"""The analysis of one challenge session's frames: pure, it judges and writes nothing.

Given the decoded frames, their timestamps, the session's challenges and nonce and the client's capture
metadata, ``analyse`` measures the face on every frame (landmark model: pose, blendshapes; face embeddings
on every few frames for identity continuity), verifies the challenges, looks for injection and replay
signals, and runs the passive checks (PAD, deepfake) on the best frame through a callable the caller
gives (the caller owns the policy that turns their scores into findings). Storing the session, claiming it
once and remembering its frames belong to ``openidv.services.liveness``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from openidv.checks.liveness.active import ActiveResult, verify_track
from openidv.checks.liveness.injection import CaptureMetadata, InjectionReport, analyse_capture, exif_summary
from openidv.checks.liveness.params import ActiveParams, InjectionParams
from openidv.checks.liveness.replay import CaptureLookup
from openidv.checks.liveness.tracks import FrameObservation, Track
from openidv.imageio import Image
from openidv.results import CheckResult
from openidv.tenancy import DEFAULT_TENANT

Observer = Callable[[Image, float], FrameObservation]
Embedder = Callable[[Image], list[float] | None]
#: the passive checks on the best frame: each check's result and the reason codes its score gives
PassiveJudge = Callable[[Image], Sequence[tuple[CheckResult, Sequence[str]]]]

NOTE = "PAD and deepfake models were trained on simulated attacks only (docs/liveness.md)"


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


def observe_track(
    images: Sequence[Image],
    stamps: Sequence[float],
    *,
    observer: Observer = default_observer,
    embedder: Embedder = default_embedder,
    embed_every: int = 3,
) -> Track:
    """Per-frame measurements: landmarks/pose/blendshapes on every frame, embeddings on every n-th."""
    order = sorted(range(len(images)), key=lambda i: stamps[i])
    every = max(1, embed_every)
    embed_at = set(order[::every]) | {order[0], order[-1]}
    frames = []
    for i, (image, t) in enumerate(zip(images, stamps, strict=True)):
        obs = observer(image, t)
        extra: dict[str, Any] = {"sharpness": round(sharpness(image), 3)}
        if obs.face and i in embed_at and obs.embedding is None:
            extra["embedding"] = embedder(image)
        frames.append(obs.model_copy(update=extra))
    return Track(frames=frames, frame_size=(images[0].width, images[0].height))


@dataclass(frozen=True)
class SessionAnalysis:
    """The outcome of one session's frames; ``passed`` when no reason code was found."""

    reason_codes: tuple[str, ...]
    active: ActiveResult
    injection: InjectionReport
    checks: tuple[CheckResult, ...]
    best_frame: int | None
    best_timestamp_ms: float | None

    @property
    def passed(self) -> bool:
        return not self.reason_codes

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason_codes": list(self.reason_codes),
            "challenges": [c.to_dict() for c in self.active.challenges],
            "identity": self.active.details.get("temporal", {}),
            "injection": self.injection.to_dict(),
            "checks": [c.model_dump(mode="json") for c in self.checks],
            "best_frame": None
            if self.best_frame is None
            else {"index": self.best_frame, "timestamp_ms": self.best_timestamp_ms},
            "note": NOTE,
        }


def analyse(
    images: Sequence[Image],
    stamps: Sequence[float],
    *,
    challenges: Sequence[str],
    nonce: str,
    expected_nonce: str,
    passive: PassiveJudge,
    capture: CaptureMetadata | None = None,
    first_frame: bytes | None = None,
    index: CaptureLookup | None = None,
    active_params: ActiveParams | None = None,
    injection_params: InjectionParams | None = None,
    observer: Observer = default_observer,
    embedder: Embedder = default_embedder,
    embed_every: int = 3,
    tenant: str = DEFAULT_TENANT,
) -> SessionAnalysis:
    """Judge a session's frames (nothing is stored; ``index`` is only looked up).

    ``first_frame`` (the first frame's file) gives the EXIF when the capture metadata carries none.
    """
    codes: list[str] = []
    if not secrets.compare_digest(nonce, expected_nonce):
        codes.append("LIVENESS_NONCE_MISMATCH")
    track = observe_track(images, stamps, observer=observer, embedder=embedder, embed_every=embed_every)
    active = verify_track(track, list(challenges), active_params)
    codes += [c for c in active.codes if c not in codes]
    if capture is not None and capture.exif is None and first_frame is not None:
        capture = capture.model_copy(update={"exif": exif_summary(first_frame) or None})
    injection = analyse_capture(
        images, metadata=capture, timestamps_ms=stamps, params=injection_params, index=index, tenant=tenant
    )
    codes += [c for c in injection.finding_codes if c not in codes]
    checks: list[CheckResult] = []
    best = active.best_frame
    if best is not None:
        for result, found in passive(images[best]):
            checks.append(result)
            codes += [c for c in found if c not in codes]
    return SessionAnalysis(
        tuple(codes),
        active,
        injection,
        tuple(checks),
        best,
        None if best is None else stamps[best],
    )
