"""Parameters of the liveness checks (``checks.<name>.params`` in a policy): types, ranges and defaults.

This module imports pydantic and ``openidv.checks.base`` only, so a policy is validated without loading a
model. The limits of ``injection`` and of the challenge verifier are engineering limits of real cameras and
faces, not tuned score thresholds (those are ``checks.<name>.thresholds``).
"""

from __future__ import annotations

from pydantic import Field

from openidv.checks.base import CheckParams

#: the default PAD model: logistic fusion of three backbones trained by others on real attacks (backbones.py)
PAD_MODEL_ID = "liveness-pad-v2"
#: the previous PAD model (hand-made features, trained on simulated attacks only); still selectable
PAD_V1_MODEL_ID = "liveness-pad-v1"
DEEPFAKE_MODEL_ID = "liveness-deepfake-v1"


class DetectionParams(CheckParams):
    """Face detection on the selfie. A local copy of ``openidv.checks.face.params.DetectionParams`` with the
    liveness default: attacks detect with lower confidence than live faces, and a missed face is a failure
    to acquire, so liveness accepts weaker detections than the face checks (0.6, not 0.8)."""

    min_detection_score: float = Field(default=0.6, ge=0.0, le=1.0)
    max_detect_side: int = Field(default=640, ge=64, le=8192)


class PadParams(DetectionParams):
    model: str = Field(
        default=PAD_MODEL_ID,
        min_length=1,
        description="registry id: liveness-pad-v2 (backbone fusion, default) or liveness-pad-v1 (previous)",
    )


class TemporalParams(CheckParams):
    """Consistency of a face over a frame sequence (a swapped face drifts and jitters)."""

    # lowest cosine between a frame's face embedding and the identity that started (SFace); the same person
    # across a selfie video stays well above this on the real clip in shared/data/video
    min_identity_similarity: float = Field(default=0.45, ge=-1.0, le=1.0)
    # largest landmark jitter (second difference after removing head motion, in inter-eye distances)
    max_landmark_jitter: float = Field(default=0.08, gt=0.0)


class DeepfakeParams(DetectionParams, TemporalParams):
    model: str = Field(default=DEEPFAKE_MODEL_ID, min_length=1, description="model registry id")


class ActiveParams(TemporalParams):
    """Limits of the challenge verifier (``active.verify_track``), judged against the person's own start."""

    turn_degrees: float = Field(default=18.0, gt=0.0, le=90.0)
    look_up_degrees: float = Field(default=12.0, gt=0.0, le=90.0)
    blink_closed: float = Field(default=0.5, ge=0.0, le=1.0)
    blink_open: float = Field(default=0.3, ge=0.0, le=1.0)
    smile_level: float = Field(default=0.55, ge=0.0, le=1.0)
    closer_ratio: float = Field(default=1.2, gt=1.0)
    challenge_window_ms: float = Field(default=5000.0, gt=0.0)
    baseline_frames: int = Field(default=3, ge=1)
    min_face_frames: int = Field(default=5, ge=1)


class InjectionParams(CheckParams):
    # phone and webcam sensors stream at most this many frames per second for selfies
    max_fps: float = Field(default=120.0, gt=0.0)
    min_fps: float = Field(default=5.0, ge=0.0)
    max_stream_side: int = Field(default=4096, ge=1)  # no front camera streams beyond 4K
    min_stream_side: int = Field(default=120, ge=1)
    # real sensor clocks jitter by more than this between frames
    min_timestamp_jitter_ms: float = Field(default=0.05, ge=0.0)
    # share of consecutive frame pairs that may be (near-)identical
    max_identical_frame_share: float = Field(default=0.5, ge=0.0, le=1.0)
    # mean absolute pixel difference below which two frames are the same
    identical_frame_mae: float = Field(default=0.5, ge=0.0)
    # grey levels of noise in the flattest unclipped blocks; below it, no sensor left noise. Real web photos
    # (downscaled, denoised, compressed) measured 0.003-1.0, so only digitally clean images are flagged
    min_noise_sigma: float = Field(default=0.002, ge=0.0)
    #: look the capture up in the index of accepted captures (``REPLAYED_CAPTURE``)
    check_replay: bool = True
    #: remember captures without findings (a follow-up, applied only when the verification is stored)
    record_captures: bool = True


class LivenessSessionParams(CheckParams):
    """``liveness_session`` reads a stored verdict; it takes no parameters."""
