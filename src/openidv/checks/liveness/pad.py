"""Passive presentation-attack detection (``pad``) on one selfie.

The score means ``attack`` (higher = more likely an attack) and is ``1 - P(bona fide)`` of the selected model
(``params.model``); the policy's tuned threshold (``checks.pad.thresholds.attack``) decides. No face means
``failed_to_acquire`` (``FACE_NOT_FOUND``).

* ``liveness-pad-v2`` (default): a two-class logistic fusion of the live-class logits of three passive PAD
  networks trained by others on REAL print and replay attacks (``backbones.py``: Silent-Face MiniFASNetV2 and
  V1SE, faceplugin fr_liveness). The fusion weights were fitted on simulated attacks with leave-subjects-out
  evaluation (models/liveness-pad-v2.yaml). It separates bona fide from attack only: it names no species
  (the policy's ``pad-attack`` rule gives ``PAD_ATTACK_SUSPECTED``). Each backbone's ``P(live)`` is in
  ``details["backbones"]``; ``details["silent_face_live"]`` is the upstream Silent-Face reading (mean of its
  two networks). Measured limit: paper cut-out masks with the wearer's real eyes (our simulator's ``mask``)
  are mostly missed; print and screen replay are what it detects.
* ``liveness-pad-v1`` (previous): a multinomial model over our hand-made texture, colour and frequency
  features (``features.py``) trained on SIMULATED attacks only. It names the most likely species
  (``PAD_PRINT``, ``PAD_SCREEN_REPLAY``, ``PAD_MASK``) when it ranks one above bona fide and reports every
  class probability. It learned our simulator: it calls some real bona fide photos attacks (docs/liveness.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from openidv.checks.base import Check
from openidv.checks.face.analysis import find_faces
from openidv.checks.face.detect import DetectedFace
from openidv.checks.liveness.artifacts import load_model
from openidv.checks.liveness.backbones import BACKBONES, backbone_live, silent_face_live
from openidv.checks.liveness.features import pad_features
from openidv.checks.liveness.model import LinearModel
from openidv.checks.liveness.params import PadParams
from openidv.checks.liveness.regions import F64, face_regions
from openidv.evidence import Evidence
from openidv.imageio import Image
from openidv.results import CheckResult, Meaning, Status

PAD_CLASSES = ("bona_fide", "print", "screen_replay", "mask")
FUSION_CLASSES = ("bona_fide", "attack")
#: the inputs of a fusion model: the logit of each backbone's P(live), clipped to [1e-6, 1 - 1e-6]
FUSION_FEATURES = tuple(f"{b.short}_live_logit" for b in BACKBONES)
LOGIT_CLIP = 1e-6
SPECIES_CODES = {"print": "PAD_PRINT", "screen_replay": "PAD_SCREEN_REPLAY", "mask": "PAD_MASK"}


def selfie_face(image: Image, min_score: float, max_side: int) -> tuple[DetectedFace | None, float]:
    """The largest face (shared with the face checks through the image's cache) and the detection time."""
    found = find_faces(image, min_score=float(min_score), max_side=int(max_side))
    return found.largest, found.detect_ms


def cached_face_features(
    image: Image, face: DetectedFace, kind: str, features: Callable[[Any], tuple[F64, list[str]]]
) -> tuple[F64, list[str]]:
    """``features`` of one face's regions, computed once per image, face and kind (checks and training share
    the image's cache)."""
    return image.memo(
        (f"liveness.{kind}_features", face), lambda: features(face_regions(image.bgr, face.landmarks))
    )


def pad_vector(image: Image, face: DetectedFace) -> tuple[F64, list[str]]:
    """The PAD features of one face, computed once per image and face."""
    return cached_face_features(image, face, "pad", pad_features)


def live_logit(p: float) -> float:
    q = min(max(float(p), LOGIT_CLIP), 1.0 - LOGIT_CLIP)
    return float(np.log(q / (1.0 - q)))


def fusion_vector(live: dict[str, float]) -> F64:
    """The fusion model's input from the backbones' ``P(live)``, in ``FUSION_FEATURES`` order."""
    return np.asarray([live_logit(live[b.short]) for b in BACKBONES], dtype=np.float64)


def is_fusion(model: LinearModel) -> bool:
    return model.feature_names == FUSION_FEATURES


class PadCheck(Check):
    """Is the selfie a live face, or a print, a screen or a paper mask held to the camera?"""

    name = "pad"
    version = "2.0.0"
    meaning = Meaning.ATTACK
    requires = ("selfie",)
    Params = PadParams
    file_fields = ("selfie",)
    params: PadParams

    def run(self, evidence: Evidence) -> CheckResult:
        image = evidence.selfie
        if not isinstance(image, Image):
            raise ValueError("pad needs evidence.selfie")
        face, detect_ms = selfie_face(image, self.params.min_detection_score, self.params.max_detect_side)
        details: dict[str, Any] = {"model": self.params.model, "timings_ms": {"detect": detect_ms}}
        if face is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        start = time.perf_counter()
        model = load_model(self.params.model)
        if is_fusion(model):
            live = backbone_live(image, face)
            probs = model.probabilities(fusion_vector(live))[0]
            details["backbones"] = {k: round(v, 6) for k, v in live.items()}
            details["silent_face_live"] = round(silent_face_live(live), 6)
        else:
            vec, names = pad_vector(image, face)
            if tuple(names) != model.feature_names:
                raise ValueError(f"model {self.params.model} expects other features than this code computes")
            probs = model.probabilities(vec)[0]
        details["timings_ms"]["pad"] = round((time.perf_counter() - start) * 1000, 3)
        details["probabilities"] = {c: round(float(p), 6) for c, p in zip(model.classes, probs, strict=True)}
        details["face"] = face.to_dict()
        top = model.classes[int(np.argmax(probs))]
        codes = [SPECIES_CODES[top]] if top in SPECIES_CODES else []
        details["likely_species"] = top if codes else None
        return self.result(Status.OK, round(float(1.0 - probs[0]), 6), codes, details)
