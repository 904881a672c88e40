"""Face image quality, inspired by ISO/IEC 29794-5: measured values, and a separate judgement by params.

``measure_quality`` only measures; every value goes into the check's details. ``judge_quality`` turns the
measurements into reason codes with thresholds that come from the policy (``checks.<name>.params``), so
no cut-off is buried here. What is measured, and how:

- ``inter_eye_px``: distance between the eye centres in the original image, the resolution measure of
  ISO/IEC 19794-5 (a token frontal image has 60 px between the eyes, a full frontal one at least 90).
- ``outside_fraction``: share of the canonical face crop (the 112x112 region the embedder sees, mapped
  back into the photo) that lies outside the frame: a face partly outside the photo.
- ``sharpness``: variance of the Laplacian over the face region of the canonical crop; a blurred face or
  a low-resolution face blown up to the crop size scores low.
- ``brightness`` (mean grey level, 0-255), ``contrast`` (standard deviation of the grey levels),
  ``dark_fraction`` / ``bright_fraction`` (share of face pixels at or below 8 / at or above 247: clipped).
- ``yaw``, ``pitch``, ``roll`` in degrees, approximated from the five landmarks with a generic face
  geometry (not calibrated per person; good to a few degrees near frontal, coarser beyond 30 degrees).
  ``roll`` > 0: the face is rotated clockwise in the image; ``yaw`` > 0: the nose points to the image's
  right; ``pitch`` > 0: the chin is raised.
- ``face_count``: faces in the photo at least ``other_face_min_relative_size`` times the chosen face's
  inter-eye distance (so a tiny face far in the background does not count as a second person).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from openidv.checks.face.align import ARCFACE_112, ARCFACE_SIZE, FloatArray, align_arcface
from openidv.checks.face.detect import DetectedFace
from openidv.checks.face.params import OTHER_FACE_MIN_RELATIVE_SIZE, FaceQualityParams
from openidv.imageio import Image

# ---- generic face geometry used by the pose approximation, from the canonical ArcFace template
_EYE_MID = (ARCFACE_112[0] + ARCFACE_112[1]) / 2
_MOUTH_MID = (ARCFACE_112[3] + ARCFACE_112[4]) / 2
_TEMPLATE_IED = float(np.linalg.norm(ARCFACE_112[1] - ARCFACE_112[0]))
#: nose tip's height between the eye line (0) and the mouth line (1) on a frontal face
FRONTAL_NOSE_RATIO = float((ARCFACE_112[2, 1] - _EYE_MID[1]) / (_MOUTH_MID[1] - _EYE_MID[1]))
#: eye-line-to-mouth-line distance per inter-eye distance on a frontal face
EYE_MOUTH_PER_IED = float((_MOUTH_MID[1] - _EYE_MID[1]) / _TEMPLATE_IED)
#: how far the nose tip stands in front of the eye/mouth plane, per inter-eye distance (adult average,
#: about 31 mm for a 63 mm eye distance)
NOSE_DEPTH_PER_IED = 0.5

#: the face region of the 112x112 canonical crop (rows, columns) used for sharpness and exposure:
#: brows to chin, cheek to cheek
_REGION = (slice(36, 104), slice(24, 88))
_DARK = 8
_BRIGHT = 247


@dataclass(frozen=True)
class QualityReport:
    inter_eye_px: float
    detection_score: float
    face_count: int
    outside_fraction: float
    sharpness: float
    brightness: float
    contrast: float
    dark_fraction: float
    bright_fraction: float
    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def estimate_pose(landmarks: FloatArray) -> tuple[float, float, float]:
    """Approximate (yaw, pitch, roll) in degrees from five landmarks; see the module docstring."""
    pts = np.asarray(landmarks, dtype=np.float64)
    right_eye, left_eye, nose = pts[0], pts[1], pts[2]
    eye_vec = left_eye - right_eye
    ied = float(np.hypot(*eye_vec))
    if ied < 1e-6:
        return 0.0, 0.0, 0.0
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    c, s = eye_vec / ied
    rot = np.array([[c, s], [-s, c]])  # rotate by -roll
    eye_mid = (right_eye + left_eye) / 2
    local = (pts - eye_mid) @ rot.T
    nose_l = local[2]
    mouth_mid = (local[3] + local[4]) / 2
    eye_to_mouth = float(mouth_mid[1])
    if eye_to_mouth <= 1e-6:
        return 0.0, 0.0, roll
    # the face's midline at the nose's height, between the eye midpoint (origin) and the mouth midpoint
    t = nose_l[1] / eye_to_mouth
    midline_x = t * mouth_mid[0]
    yaw_ratio = (nose_l[0] - midline_x) / ied
    yaw = math.degrees(math.atan(yaw_ratio / NOSE_DEPTH_PER_IED))
    nose_ratio = float(nose_l[1] / eye_to_mouth)
    pitch_ratio = (FRONTAL_NOSE_RATIO - nose_ratio) * (eye_to_mouth / ied) / NOSE_DEPTH_PER_IED
    pitch = math.degrees(math.atan(pitch_ratio))
    _ = nose  # the nose is used through ``local``
    return yaw, pitch, roll


def _inside_mask(matrix: FloatArray, width: int, height: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    inverse = cv2.invertAffineTransform(matrix)
    grid = np.arange(ARCFACE_SIZE, dtype=np.float64) + 0.5
    xs, ys = np.meshgrid(grid, grid)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    mask: np.ndarray[Any, np.dtype[np.bool_]] = (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
    return mask


def measure_quality(
    image: Image,
    face: DetectedFace,
    faces: Sequence[DetectedFace] = (),
    *,
    other_face_min_relative_size: float = OTHER_FACE_MIN_RELATIVE_SIZE,
) -> QualityReport:
    """Measure one face's quality (no judgement)."""
    crop, matrix = align_arcface(image, face.landmarks)
    inside = _inside_mask(matrix, image.width, image.height)
    outside_fraction = float(1.0 - inside.mean())
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    # a Laplacian pixel is valid when its whole 3x3 neighbourhood came from inside the photo
    valid = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    region_valid = valid[_REGION]
    region_inside = inside[_REGION]
    lap_r = lap[_REGION][region_valid]
    gray_r = gray[_REGION][region_inside].astype(np.float64)
    sharpness = float(lap_r.var()) if lap_r.size > 16 else 0.0
    if gray_r.size:
        brightness = float(gray_r.mean())
        contrast = float(gray_r.std())
        dark = float((gray_r <= _DARK).mean())
        bright = float((gray_r >= _BRIGHT).mean())
    else:
        brightness = contrast = dark = bright = 0.0
    yaw, pitch, roll = estimate_pose(face.landmark_array())
    ied = face.inter_eye_px
    count = sum(1 for f in faces if f is face or f.inter_eye_px >= other_face_min_relative_size * ied)
    return QualityReport(
        inter_eye_px=ied,
        detection_score=face.score,
        face_count=max(count, 1),
        outside_fraction=outside_fraction,
        sharpness=sharpness,
        brightness=brightness,
        contrast=contrast,
        dark_fraction=dark,
        bright_fraction=bright,
        yaw=yaw,
        pitch=pitch,
        roll=roll,
    )


def judge_quality(
    report: QualityReport, params: FaceQualityParams, *, check_multiple: bool = True
) -> list[str]:
    """Reason codes for every measured value outside the thresholds in ``params``."""
    p = params
    codes = []
    if report.inter_eye_px < p.min_inter_eye_px:
        codes.append("FACE_TOO_SMALL")
    if report.outside_fraction > p.max_outside_fraction:
        codes.append("FACE_PARTIAL")
    if (
        abs(report.yaw) > p.max_abs_yaw
        or abs(report.pitch) > p.max_abs_pitch
        or abs(report.roll) > p.max_abs_roll
    ):
        codes.append("FACE_POSE")
    if report.sharpness < p.min_sharpness:
        codes.append("FACE_BLUR")
    if (
        not p.min_brightness <= report.brightness <= p.max_brightness
        or report.contrast < p.min_contrast
        or report.dark_fraction + report.bright_fraction > p.max_clipped_fraction
    ):
        codes.append("FACE_EXPOSURE")
    if check_multiple and report.face_count > p.max_faces:
        codes.append("FACE_MULTIPLE")
    return codes
