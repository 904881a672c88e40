"""Geometry shared by the mask and face-swap simulators: aligning one face onto another, face-shaped masks."""

from __future__ import annotations

import cv2
import numpy as np

from openidv.checks.face.align import similarity_transform
from openidv.synth.attacks.camera import F32


def align_onto(src: F32, src_pts: np.ndarray, dst_pts: np.ndarray, size: tuple[int, int]) -> F32:
    """Warp ``src`` so its five landmarks land on ``dst_pts`` (least-squares similarity)."""
    matrix = similarity_transform(
        np.asarray(src_pts, dtype=np.float64), np.asarray(dst_pts, dtype=np.float64)
    )
    out: F32 = np.asarray(
        cv2.warpAffine(src, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
        dtype=np.float32,
    )
    return out


def face_frame(pts: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre of the face (between eyes and mouth), inter-eye distance, and roll in degrees."""
    eyes = (pts[0] + pts[1]) / 2
    mouth = (pts[3] + pts[4]) / 2
    centre = eyes * 0.55 + mouth * 0.45
    ied = float(np.linalg.norm(pts[1] - pts[0]))
    roll = float(np.degrees(np.arctan2(pts[1][1] - pts[0][1], pts[1][0] - pts[0][0])))
    return centre, ied, roll


def face_ellipse(
    pts: np.ndarray, size: tuple[int, int], width: float, height: float, lift: float = 0.0
) -> np.ndarray:
    """A filled ellipse over the face: ``width``/``height`` in inter-eye distances, ``lift`` moves it up."""
    centre, ied, roll = face_frame(pts)
    w, h = size
    mask = np.zeros((h, w), dtype=np.float32)
    c = (round(centre[0]), round(centre[1] - lift * ied))
    axes = (max(1, int(width * ied / 2)), max(1, int(height * ied / 2)))
    cv2.ellipse(mask, c, axes, roll, 0, 360, 1.0, -1, cv2.LINE_AA)
    return mask
