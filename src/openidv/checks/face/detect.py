"""Face detection with five landmarks: YuNet (OpenCV Zoo, 2023mar int8), from the model registry.

YuNet misses faces in large photos (11 of 42 real photos with a 1200-2500 px long side were missed at
full resolution), so detection runs on a copy scaled to at most ``max_side`` pixels and the boxes and
landmarks are scaled back; images are never scaled up. Every face above ``min_score`` is returned,
largest first: the caller picks the largest for a selfie and reports the count.

Landmarks are in image pixels, in YuNet's order: the subject's right eye (image left), left eye, nose tip,
right mouth corner, left mouth corner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from openidv.checks.face.params import DEFAULT_MAX_SIDE, DEFAULT_MIN_SCORE
from openidv.imageio import Image
from openidv.models import YUNET, model_path, session_pool

#: images whose short side is below this many pixels cannot hold a detectable face (YuNet's smallest
#: anchor is 10 px); they return no face instead of being fed to the network
MIN_IMAGE_SIDE = 10

#: faces rolled more than this many degrees get their landmarks re-located upright (``refine_rolled``)
REFINE_ROLL_DEGREES = 8.0

DEFAULT_NMS = 0.3
DEFAULT_TOP_K = 50


@dataclass(frozen=True)
class DetectedFace:
    """One face: box ``(x, y, w, h)`` and five landmarks in image pixels, and the detector's confidence."""

    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    score: float

    @property
    def inter_eye_px(self) -> float:
        (rx, ry), (lx, ly) = self.landmarks[0], self.landmarks[1]
        return math.hypot(lx - rx, ly - ry)

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def landmark_array(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(self.landmarks, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [round(v, 1) for v in self.box],
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "score": round(self.score, 4),
            "inter_eye_px": round(self.inter_eye_px, 1),
        }


def _detector() -> Any:
    path = str(model_path(YUNET.id))
    return cv2.FaceDetectorYN.create(path, "", (320, 320), DEFAULT_MIN_SCORE, DEFAULT_NMS, DEFAULT_TOP_K)


def _detect_raw(
    pixels: Any,
    min_score: float,
    nms_threshold: float = DEFAULT_NMS,
    top_k: int = DEFAULT_TOP_K,
    sx: float = 1.0,
    sy: float = 1.0,
) -> list[DetectedFace]:
    """YuNet on a BGR array; boxes and landmarks scaled by (sx, sy)."""
    with session_pool(YUNET.id, _detector).session() as detector:
        detector.setInputSize((pixels.shape[1], pixels.shape[0]))
        detector.setScoreThreshold(float(min_score))
        detector.setNMSThreshold(float(nms_threshold))
        detector.setTopK(int(top_k))
        _, raw = detector.detect(pixels)
    if raw is None:
        return []
    faces = []
    for row in np.asarray(raw, dtype=np.float64):
        box = (float(row[0] * sx), float(row[1] * sy), float(row[2] * sx), float(row[3] * sy))
        landmarks = tuple((float(row[4 + 2 * i] * sx), float(row[5 + 2 * i] * sy)) for i in range(5))
        faces.append(DetectedFace(box=box, landmarks=landmarks, score=float(row[14])))
    return faces


def detect_faces(
    image: Image,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    max_side: int = DEFAULT_MAX_SIDE,
    nms_threshold: float = DEFAULT_NMS,
    top_k: int = DEFAULT_TOP_K,
) -> list[DetectedFace]:
    """All faces in ``image`` with confidence at least ``min_score``, largest first."""
    height, width = image.height, image.width
    if min(height, width) < MIN_IMAGE_SIDE:
        return []
    scale = min(1.0, max_side / max(height, width))
    pixels: Any = image.bgr
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    faces = _detect_raw(
        pixels, min_score, nms_threshold, top_k, width / pixels.shape[1], height / pixels.shape[0]
    )
    faces.sort(key=lambda f: f.area, reverse=True)
    return [refine_rolled(image, f, min_score=min_score) for f in faces]


def _roll_degrees(landmarks: tuple[tuple[float, float], ...]) -> float:
    (rx, ry), (lx, ly) = landmarks[0], landmarks[1]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def refine_rolled(
    image: Image, face: DetectedFace, *, min_score: float = DEFAULT_MIN_SCORE, passes: int = 2
) -> DetectedFace:
    """Re-locate the landmarks of a tilted face on an upright copy of its surroundings.

    YuNet's landmarks are biased towards upright faces (a face rolled by 30 degrees reads as about 18), which
    hurts both the roll measurement and the alignment. For a face rolled more than ``REFINE_ROLL_DEGREES``,
    the region around it is rotated upright, detected again, and the landmarks mapped back; twice at most.
    """
    for _ in range(passes):
        roll = _roll_degrees(face.landmarks)
        if abs(roll) < REFINE_ROLL_DEGREES:
            break
        x, y, w, h = face.box
        cx, cy = x + w / 2, y + h / 2
        size = int(min(2.2 * max(w, h), 4 * DEFAULT_MAX_SIDE))
        if size < 2 * MIN_IMAGE_SIDE:
            break
        matrix = np.asarray(cv2.getRotationMatrix2D((cx, cy), roll, 1.0), dtype=np.float64)
        matrix[0, 2] += size / 2 - cx
        matrix[1, 2] += size / 2 - cy
        upright = cv2.warpAffine(
            image.bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        local = [f for f in _detect_raw(upright, min_score) if f.area > 0]
        if not local:
            break
        centre = size / 2
        best = min(
            local,
            key=lambda f: (f.box[0] + f.box[2] / 2 - centre) ** 2 + (f.box[1] + f.box[3] / 2 - centre) ** 2,
        )
        inverse = cv2.invertAffineTransform(matrix)
        points = tuple(
            (
                float(inverse[0, 0] * px + inverse[0, 1] * py + inverse[0, 2]),
                float(inverse[1, 0] * px + inverse[1, 1] * py + inverse[1, 2]),
            )
            for px, py in best.landmarks
        )
        face = DetectedFace(box=face.box, landmarks=points, score=face.score)
    return face
