"""Alignment: a similarity transform (rotation, uniform scale, shift) from five landmarks to a template.

``ARCFACE_112`` is the canonical 112x112 five-point template that SFace (and ArcFace-family models) were
trained on; OpenCV's ``FaceRecognizerSF.alignCrop`` uses the same points, and our crops are pixel-identical
to it. The transform is the least-squares (Umeyama 1991) fit, so one bad landmark cannot flip the face.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from openidv.imageio import Image, UInt8Array

FloatArray = npt.NDArray[np.float64]

#: right eye, left eye, nose tip, right mouth corner, left mouth corner in a 112x112 crop
ARCFACE_112: FloatArray = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
ARCFACE_SIZE = 112


def similarity_transform(src: FloatArray, dst: FloatArray) -> FloatArray:
    """The 2x3 matrix of the least-squares similarity transform mapping ``src`` points onto ``dst``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = src.shape[0]
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / n
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    variance = float((sc**2).sum() / n)
    if variance <= 1e-12:
        raise ValueError("degenerate landmarks: all points coincide")
    scale = float((d * np.diag(sign)).sum() / variance)
    shift = mu_d - scale * rotation @ mu_s
    matrix: FloatArray = np.hstack([scale * rotation, shift[:, None]])
    return matrix


def warp(image: Image, matrix: FloatArray, size: int) -> UInt8Array:
    """The ``size`` x ``size`` crop of ``image`` under ``matrix`` (pixels outside the image are black)."""
    out = cv2.warpAffine(
        image.bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return np.asarray(out, dtype=np.uint8)


def align_arcface(image: Image, landmarks: Any) -> tuple[UInt8Array, FloatArray]:
    """The canonical 112x112 BGR crop for SFace, and the transform used."""
    matrix = similarity_transform(np.asarray(landmarks, dtype=np.float64), ARCFACE_112)
    return warp(image, matrix, ARCFACE_SIZE), matrix


def outside_fraction(matrix: FloatArray, size: int, width: int, height: int) -> float:
    """Share of the crop's pixels whose source lies outside the image (the face cut by the frame)."""
    inverse = cv2.invertAffineTransform(matrix)
    grid = np.arange(size, dtype=np.float64) + 0.5
    xs, ys = np.meshgrid(grid, grid)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    inside = (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
    return float(1.0 - inside.mean())
