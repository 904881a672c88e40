"""MediaPipe's FaceLandmarker graph rebuilt on ``ai-edge-litert``: the same three TFLite models, no mediapipe.

Every mediapipe release asks for the non-headless ``opencv-contrib-python`` (docs/packaging.md), so the
graph around the models in ``face_landmarker.task`` is reproduced here step for step from MediaPipe's
source, because the active-liveness thresholds were tuned on its outputs:

1. face detector (BlazeFace short range, 128x128, whole image letterboxed, linear resampling), SSD anchors,
   sigmoid scores >= 0.5, weighted non-maximum suppression (IoU 0.5: FaceDetectorGraphOptions' default, which
   the FaceLandmarker keeps; the FaceDetector task sets 0.3), the best face kept;
2. region of interest: the detector box scaled 1.5x (not squared), rotated so the eyes (keypoints 0, 1) lie
   level, stretched onto 256x256 with replicated borders, pixels in [0, 1];
3. face mesh: 478 (x, y, z) points projected back as MediaPipe's LandmarkProjection does (z on the scale of
   x), a face-presence logit (sigmoid >= 0.5);
4. blendshapes: the 146-landmark subset in pixels into the blendshapes model, 52 scores;
5. pose: the facial transformation matrix by MediaPipe's geometry pipeline (``face_geometry.py``).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from openidv.checks.liveness.face_geometry import CanonicalFace, parse_metadata, pose_matrix

#: MediaPipe's ``kLandmarksSubsetIdxs`` (face_blendshapes_graph.cc): the landmarks the blendshapes model reads
BLENDSHAPE_LANDMARKS = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70,
    78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149,
    150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195,
    197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300,
    308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375,
    377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
)  # fmt: skip
#: MediaPipe's ``kBlendshapeNames``, in the model's output order
BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)  # fmt: skip

_DETECTOR_SIZE = 128
_MESH_SIZE = 256
_MIN_SCORE = 0.5
_NMS_IOU = 0.5
_ROI_SCALE = 1.5


@dataclass(frozen=True)
class MeshResult:
    """One face: landmarks normalised to the image (478 x 3, z on x's scale), 52 blendshapes, 4x4 pose."""

    landmarks: np.ndarray
    blendshapes: dict[str, float]
    matrix: np.ndarray


def _anchors() -> np.ndarray:
    """Centres (x, y) of BlazeFace short range's 896 SSD anchors: 16x16 x 2, then 8x8 x 6 (all unit size)."""
    rows = []
    for grid, per_cell in ((16, 2), (8, 6)):
        centres = (np.arange(grid) + 0.5) / grid
        for y in centres:
            for x in centres:
                rows.extend([(x, y)] * per_cell)
    return np.asarray(rows, dtype=np.float64)


_ANCHORS = _anchors()


def _interpreter(content: bytes) -> Any:
    from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]

    interpreter = Interpreter(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _run(interpreter: Any, tensor: np.ndarray) -> list[np.ndarray]:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
    interpreter.invoke()
    return [np.array(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()]


def _crop(
    rgb: np.ndarray,
    centre: tuple[float, float],
    size: tuple[float, float],
    angle: float,
    out: int,
    border: int,
) -> np.ndarray:
    """A rotated rectangle of the image onto an out x out square, as MediaPipe's ImageToTensor (OpenCV) does.

    Same corner order, perspective transform and linear interpolation: an equivalent affine warp resamples on
    a slightly different fixed-point grid, which moved landmarks of small, rotated faces by up to 1% of the
    eye distance.
    """
    corners = cv2.boxPoints((centre, size, math.degrees(angle))).astype(np.float32)
    target = np.array([[0, out], [0, 0], [out, 0], [out, out]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(
        rgb, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=(0, 0, 0)
    )


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray | None:
    """The best face after MediaPipe's weighted NMS: the top box averaged with its IoU > 0.5 neighbours."""
    if not len(scores):
        return None
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    top = boxes[0, :4]
    x0 = np.maximum(boxes[:, 0], top[0])
    y0 = np.maximum(boxes[:, 1], top[1])
    x1 = np.minimum(boxes[:, 2], top[2])
    y1 = np.minimum(boxes[:, 3], top[3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    iou = inter / np.maximum(areas + areas[0] - inter, 1e-12)
    group = iou > _NMS_IOU
    group[0] = True
    w = scores[group]
    return np.asarray((boxes[group] * w[:, None]).sum(axis=0) / w.sum())


class FaceMesh:
    """The three models of one ``face_landmarker.task``; not thread-safe: one per worker, from a pool."""

    def __init__(self, task: Path) -> None:
        with zipfile.ZipFile(task) as bundle:
            self._detector = _interpreter(bundle.read("face_detector.tflite"))
            self._mesh = _interpreter(bundle.read("face_landmarks_detector.tflite"))
            self._shapes = _interpreter(bundle.read("face_blendshapes.tflite"))
            self._face: CanonicalFace = parse_metadata(
                bundle.read("geometry_pipeline_metadata_landmarks.binarypb")
            )

    def _detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """Best face as (xmin, ymin, xmax, ymax, 6 keypoints x/y) in pixels, or None."""
        h, w = rgb.shape[:2]
        side = float(max(w, h))
        crop = _crop(rgb, (w / 2, h / 2), (side, side), 0.0, _DETECTOR_SIZE, cv2.BORDER_CONSTANT)
        tensor = (crop.astype(np.float32) / 127.5 - 1.0)[None]
        outputs = _run(self._detector, tensor)
        raw = next(o for o in outputs if o.shape[-1] == 16)[0].astype(np.float64)
        logits = next(o for o in outputs if o.shape[-1] == 1)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
        keep = scores >= _MIN_SCORE
        if not keep.any():
            return None
        raw, anchors, scores = raw[keep], _ANCHORS[keep], scores[keep]
        cx = raw[:, 0] / _DETECTOR_SIZE + anchors[:, 0]
        cy = raw[:, 1] / _DETECTOR_SIZE + anchors[:, 1]
        bw = raw[:, 2] / _DETECTOR_SIZE
        bh = raw[:, 3] / _DETECTOR_SIZE
        kx = raw[:, 4::2] / _DETECTOR_SIZE + anchors[:, :1]
        ky = raw[:, 5::2] / _DETECTOR_SIZE + anchors[:, 1:]
        boxes = np.concatenate(
            [
                np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1),
                np.stack([kx, ky], 2).reshape(len(raw), -1),
            ],
            axis=1,
        )
        best = _weighted_nms(boxes, scores)
        if best is None:
            return None
        # letterbox removal: tensor [0, 1] -> image pixels
        return np.asarray(best * side + np.tile([w / 2 - side / 2, h / 2 - side / 2], len(best) // 2))

    def process(self, rgb: np.ndarray) -> MeshResult | None:
        """Landmarks, blendshapes and pose of the most confident face in an RGB uint8 image, or None."""
        h, w = rgb.shape[:2]
        face = self._detect(rgb)
        if face is None:
            return None
        # DetectionsToRects + RectTransformation (normalised rect, rotation from the eye keypoints in pixels)
        cx_n = (face[0] + face[2]) / 2 / w
        cy_n = (face[1] + face[3]) / 2 / h
        w_n = (face[2] - face[0]) / w * _ROI_SCALE
        h_n = (face[3] - face[1]) / h * _ROI_SCALE
        (ex0, ey0), (ex1, ey1) = face[4:6], face[6:8]
        angle = -math.atan2(-(ey1 - ey0), ex1 - ex0)
        angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
        cos, sin = math.cos(angle), math.sin(angle)
        rw, rh = w_n * w, h_n * h
        crop = _crop(rgb, (cx_n * w, cy_n * h), (rw, rh), angle, _MESH_SIZE, cv2.BORDER_REPLICATE)
        outputs = _run(self._mesh, (crop.astype(np.float32) / 255.0)[None])
        points = next(o for o in outputs if o.size == 478 * 3).reshape(478, 3).astype(np.float64) / _MESH_SIZE
        presence_logit = float(next(o for o in outputs if o.size == 1 and o.ndim == 4).ravel()[0])
        if presence_logit < math.log(_MIN_SCORE / (1.0 - _MIN_SCORE)):  # sigmoid(logit) < 0.5, no overflow
            return None
        # LandmarkProjection with the image size: the crop's geometry mapped back exactly, and z scaled by the
        # length, in normalised image units, of the crop's unit x vector (MediaPipe's CalculateZScale)
        x, y = (points[:, 0] - 0.5) * rw, (points[:, 1] - 0.5) * rh
        z_scale = math.hypot(rw * cos / w, rw * sin / h)
        landmarks = np.stack(
            [
                (cos * x - sin * y + cx_n * w) / w,
                (sin * x + cos * y + cy_n * h) / h,
                points[:, 2] * z_scale,
            ],
            axis=1,
        )
        subset = landmarks[list(BLENDSHAPE_LANDMARKS), :2] * np.array([w, h])
        scores = _run(self._shapes, subset.astype(np.float32)[None])[0].ravel()
        shapes = {name: float(s) for name, s in zip(BLENDSHAPE_NAMES, scores, strict=True)}
        return MeshResult(
            landmarks=landmarks, blendshapes=shapes, matrix=pose_matrix(landmarks, w, h, self._face)
        )
