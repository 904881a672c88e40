"""Where the measurements are taken: the face at native resolution, its inner part, and the ring around it.

Texture and frequency features must see the pixels as the camera stored them: resampling smooths away the
halftone dots, subpixel grids and moire that give attacks away. So the face patch is cut at native
resolution (a square around the five landmarks) and only shrunk (area averaging) when larger than
``PATCH`` pixels, never enlarged or rotated.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from openidv.imageio import UInt8Array

PATCH = 160
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FaceRegions:
    """The face patch (BGR uint8, square), masks of its inner face and of the ring around it, and scale."""

    patch: UInt8Array
    inner: npt.NDArray[np.bool_]
    ring: npt.NDArray[np.bool_]
    frame: UInt8Array
    face_box: tuple[int, int, int, int]
    inter_eye_px: float


def face_regions(bgr: UInt8Array, landmarks: F64 | npt.ArrayLike, patch_side: int = PATCH) -> FaceRegions:
    """Cut the face patch around five landmarks (YuNet order) from a BGR frame."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    h, w = bgr.shape[:2]
    eyes = (pts[0] + pts[1]) / 2
    mouth = (pts[3] + pts[4]) / 2
    centre = eyes * 0.55 + mouth * 0.45
    ied = max(float(np.linalg.norm(pts[1] - pts[0])), 4.0)
    half = ied * 1.6
    x0, y0 = int(max(0, centre[0] - half)), int(max(0, centre[1] - half * 1.05))
    x1, y1 = int(min(w, centre[0] + half)), int(min(h, centre[1] + half * 0.95))
    if x1 - x0 < 8 or y1 - y0 < 8:
        x0, y0, x1, y1 = 0, 0, w, h
    patch = np.ascontiguousarray(bgr[y0:y1, x0:x1])
    scale = 1.0
    side = max(patch.shape[:2])
    if side > patch_side:
        scale = patch_side / side
        size = (max(8, round(patch.shape[1] * scale)), max(8, round(patch.shape[0] * scale)))
        patch = np.asarray(cv2.resize(patch, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ph, pw = patch.shape[:2]
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float64)
    cx, cy = (centre[0] - x0) * scale, (centre[1] - y0) * scale
    r = ied * scale
    ell = ((xx - cx) / (0.95 * r)) ** 2 + ((yy - cy) / (1.25 * r)) ** 2
    inner = ell <= 1.0
    ring = (ell > 1.6) & (ell <= 2.6)
    return FaceRegions(np.asarray(patch, dtype=np.uint8), inner, ring, bgr, (x0, y0, x1, y1), ied)
