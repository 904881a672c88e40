"""Deepfake (face-swap) detection: per-image swap artifacts, and consistency over a frame sequence.

``deepfake`` (the check) scores one selfie: ``P(swap)`` from a small model over blending-boundary, colour and
frequency mismatch between the face and its surroundings (``features.deepfake_features``), meaning
``attack``; the policy's tuned threshold decides (``DEEPFAKE_SUSPECTED``). The model was trained on
SIMULATED swaps (landmark-aligned, colour-transferred, feathered or Poisson-blended): it has not seen the
output of a real generator (GAN, diffusion, reenactment), see docs/liveness.md.

``temporal_consistency`` judges a frame sequence: a swapped face drifts in identity from frame to frame and
its landmarks jitter relative to the head, because each frame is generated on its own. Its limits are policy
parameters (``checks.deepfake.params``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openidv.checks.base import Check
from openidv.checks.face.detect import DetectedFace
from openidv.checks.liveness.artifacts import load_model
from openidv.checks.liveness.features import deepfake_features
from openidv.checks.liveness.pad import cached_face_features, selfie_face
from openidv.checks.liveness.params import DeepfakeParams, TemporalParams
from openidv.checks.liveness.regions import F64
from openidv.evidence import Evidence
from openidv.imageio import Image
from openidv.results import CheckResult, Meaning, Status


def deepfake_vector(image: Image, face: DetectedFace) -> tuple[F64, list[str]]:
    """The face-swap features of one face, computed once per image and face."""
    return cached_face_features(image, face, "deepfake", deepfake_features)


class DeepfakeCheck(Check):
    """Is the face in the selfie pasted onto someone else's head (a face swap)?"""

    name = "deepfake"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("selfie",)
    Params = DeepfakeParams
    file_fields = ("selfie",)
    params: DeepfakeParams

    def run(self, evidence: Evidence) -> CheckResult:
        image = evidence.selfie
        if not isinstance(image, Image):
            raise ValueError("deepfake needs evidence.selfie")
        face, detect_ms = selfie_face(image, self.params.min_detection_score, self.params.max_detect_side)
        details: dict[str, Any] = {"model": self.params.model, "timings_ms": {"detect": detect_ms}}
        if face is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        start = time.perf_counter()
        model = load_model(self.params.model)
        vec, names = deepfake_vector(image, face)
        if tuple(names) != model.feature_names:
            raise ValueError(f"model {self.params.model} expects other features than this code computes")
        score = float(model.attack_score(vec)[0])
        details["timings_ms"]["deepfake"] = round((time.perf_counter() - start) * 1000, 3)
        return self.result(Status.OK, round(score, 6), (), details)


@dataclass(frozen=True)
class TemporalReport:
    """Identity and landmark stability over a sequence; ``codes`` is empty when consistent."""

    n_frames: int
    min_identity_similarity: float | None
    max_identity_step: float | None
    landmark_jitter: float | None
    codes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_frames": self.n_frames,
            "min_identity_similarity": self.min_identity_similarity,
            "max_identity_step": self.max_identity_step,
            "landmark_jitter": self.landmark_jitter,
            "codes": list(self.codes),
        }


def _rigid_residual(prev: F64, cur: F64) -> F64:
    """``cur`` after removing the similarity motion that best maps ``prev`` onto it."""
    from openidv.checks.face.align import similarity_transform

    try:
        m = similarity_transform(cur, prev)
    except ValueError:
        return cur
    out: F64 = cur @ m[:, :2].T + m[:, 2]
    return out


def landmark_jitter(tracks: Sequence[F64]) -> float | None:
    """Median over frames of the largest landmark acceleration after head motion is removed (in IEDs).

    A live face moves smoothly, so second differences of head-aligned landmarks are small; a per-frame
    generated face wobbles.
    """
    if len(tracks) < 3:
        return None
    aligned = [np.asarray(tracks[0], dtype=np.float64)]
    for pts in tracks[1:]:
        aligned.append(_rigid_residual(aligned[-1], np.asarray(pts, dtype=np.float64)))
    arr = np.stack(aligned)
    ied = (
        float(np.median(np.linalg.norm(arr[:, 1] - arr[:, 0], axis=1)))
        if arr.shape[1] == 5
        else float(np.median(np.ptp(arr[:, :, 0], axis=1)) / 2.5)
    )
    acc = np.linalg.norm(arr[2:] - 2 * arr[1:-1] + arr[:-2], axis=2).max(axis=1)
    return round(float(np.median(acc)) / max(ied, 1e-6), 5)


def reference_identity(stack: F64) -> F64:
    """The identity that started the session: the mean of the first two embeddings, normalised.

    Not the median of all frames: when the person changes halfway, a median sits between both people.
    """
    ref: F64 = stack[: min(2, len(stack))].mean(axis=0)
    out: F64 = ref / (np.linalg.norm(ref) + 1e-12)
    return out


def temporal_consistency(
    embeddings: Sequence[F64 | None],
    landmarks: Sequence[F64 | None],
    params: TemporalParams | None = None,
) -> TemporalReport:
    """Identity drift (cosine to the starting identity) and landmark jitter over a frame sequence."""
    p = params or TemporalParams()
    vecs = [np.asarray(e, dtype=np.float64).reshape(-1) for e in embeddings if e is not None]
    codes: list[str] = []
    min_sim = max_step = None
    if len(vecs) >= 2:
        stack = np.stack([v / (np.linalg.norm(v) + 1e-12) for v in vecs])
        centre = reference_identity(stack)
        sims = stack @ centre
        steps = 1 - np.sum(stack[1:] * stack[:-1], axis=1)
        min_sim, max_step = round(float(sims.min()), 4), round(float(steps.max()), 4)
        if min_sim < p.min_identity_similarity:
            codes.append("LIVENESS_IDENTITY_CHANGED")
    jitter = landmark_jitter([np.asarray(t, dtype=np.float64) for t in landmarks if t is not None])
    if jitter is not None and jitter > p.max_landmark_jitter:
        codes.append("DEEPFAKE_SUSPECTED")
    return TemporalReport(len(embeddings), min_sim, max_step, jitter, tuple(codes))
