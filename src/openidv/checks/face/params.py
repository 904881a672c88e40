"""Parameters of the face checks: types, ranges and defaults in one place.

Imports pydantic and the check base only, so the policy validates ``checks.<name>.params`` through the
registry without loading OpenCV, a face model or FAISS. Thresholds that decide (``match``, ``duplicate``)
are not parameters: they live in the policy and are applied by it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openidv.checks.base import CheckParams

#: YuNet confidence for a face to count; detection runs on a copy at most this many pixels long
DEFAULT_MIN_SCORE = 0.8
DEFAULT_MAX_SIDE = 640
#: printed portraits detect with lower confidence than live faces
PORTRAIT_MIN_SCORE = 0.6
#: a face counts as a second person when its inter-eye distance is at least this share of the chosen one's
OTHER_FACE_MIN_RELATIVE_SIZE = 0.3
#: the embedding backends; a threshold is tuned for one of them
Backend = Literal["sface", "dlib"]
DEFAULT_BACKEND: Backend = "sface"
#: the name rule of 1:N galleries (letters, digits, '-', '_', '.'; not starting with '.')
GALLERY_NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$"


class FaceDetectorParams(CheckParams):
    """How faces are detected; every face check takes these."""

    min_detection_score: float = Field(DEFAULT_MIN_SCORE, ge=0.0, le=1.0)
    max_detect_side: int = Field(DEFAULT_MAX_SIDE, ge=1)


class DetectionParams(FaceDetectorParams):
    """``face_detect``: which faces count, and how many are allowed."""

    max_faces: int = Field(1, ge=1)
    other_face_min_relative_size: float = Field(OTHER_FACE_MIN_RELATIVE_SIZE, ge=0.0)


class FaceQualityParams(FaceDetectorParams):
    """``face_quality``: the cut-offs of ``judge_quality`` (ISO/IEC 29794-5-style measurements)."""

    min_inter_eye_px: float = Field(60.0, ge=0.0)  # ISO/IEC 19794-5 token frontal image
    max_outside_fraction: float = Field(0.05, ge=0.0, le=1.0)
    min_sharpness: float = Field(100.0, ge=0.0)
    min_brightness: float = Field(50.0, ge=0.0, le=255.0)
    max_brightness: float = Field(210.0, ge=0.0, le=255.0)
    min_contrast: float = Field(20.0, ge=0.0)
    max_clipped_fraction: float = Field(0.3, ge=0.0, le=1.0)
    max_abs_yaw: float = Field(30.0, ge=0.0, le=180.0)
    max_abs_pitch: float = Field(30.0, ge=0.0, le=180.0)
    max_abs_roll: float = Field(30.0, ge=0.0, le=180.0)
    max_faces: int = Field(1, ge=1)
    other_face_min_relative_size: float = Field(OTHER_FACE_MIN_RELATIVE_SIZE, ge=0.0)


class PortraitParams(FaceDetectorParams):
    """``document_portrait``: the holder's portrait on the document image."""

    min_detection_score: float = Field(PORTRAIT_MIN_SCORE, ge=0.0, le=1.0)
    #: document portraits are small; below this the match is unreliable
    min_inter_eye_px: float = Field(24.0, ge=0.0)


class FaceMatchParams(FaceDetectorParams):
    """``face_match``: selfie against document portrait, 1:1."""

    backend: Backend = DEFAULT_BACKEND
    portrait_min_detection_score: float = Field(PORTRAIT_MIN_SCORE, ge=0.0, le=1.0)


class FaceDuplicateParams(FaceDetectorParams):
    """``face_duplicate``: the gallery searched at onboarding and how many hits go into details."""

    gallery: str = Field("onboarding", pattern=GALLERY_NAME_PATTERN)
    k: int = Field(5, ge=1, le=95)  # the search asks k + 5 hits (at most 100) to skip the subject's own
