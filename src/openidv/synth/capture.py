"""Phone-capture simulation: a rendered document placed in perspective on a surface and photographed.

``clean`` captures still have perspective, a small rotation, mild vignetting, light sensor noise and JPEG
(quality 90-95), because no phone photo has none. Each other ``degradation`` adds one harder condition, so
read rates can be reported per condition.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

UInt8Array = npt.NDArray[Any]  # OpenCV's stubs type every array loosely
FloatArray = npt.NDArray[Any]
DEGRADATIONS = ("clean", "blur", "motion", "noise", "light", "glare", "jpeg", "lowres")
FRAME = (1632, 1224)  # 2 megapixels, 4:3


@dataclass(frozen=True)
class Capture:
    """The photo (JPEG bytes), where the document's corners landed (TL, TR, BR, BL of the document)."""

    jpeg: bytes
    corners: FloatArray
    size: tuple[int, int]
    degradation: str
    jpeg_quality: int

    def rgb(self) -> UInt8Array:
        return np.asarray(Image.open(io.BytesIO(self.jpeg)).convert("RGB"), dtype=np.uint8)


def background(size: tuple[int, int], rng: np.random.Generator) -> UInt8Array:
    """A table, cloth or desk: a base colour with low-frequency shading and fine texture."""
    w, h = size
    bases = np.array([[92, 64, 44], [60, 60, 66], [38, 48, 70], [120, 110, 96], [70, 88, 60], [30, 30, 32]])
    base = bases[rng.integers(len(bases))].astype(np.float64) * rng.uniform(0.8, 1.2)
    low = cv2.resize(rng.normal(0, 1, (6, 8)), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)), (0, 0), rng.uniform(0.8, 3.0))
    streaks = cv2.resize(rng.normal(0, 1, (h // 4, 3)), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        streaks = streaks.T.copy() if streaks.shape[::-1] == (h, w) else streaks
    shade = 1 + 0.12 * low + 0.05 * grain / max(1e-6, grain.std()) + 0.04 * streaks
    out = base[None, None, :] * shade[:, :, None]
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def _placement(
    doc_size: tuple[int, int], frame: tuple[int, int], rng: np.random.Generator, rotate180: bool
) -> FloatArray:
    dw, dh = doc_size
    fw, fh = frame
    fill = rng.uniform(0.6, 0.82)
    scale = min(fill * fw / dw, fill * fh / dh * 1.25, 0.95 * fh / dh)
    w, h = dw * scale, dh * scale
    angle = math.radians(rng.uniform(-8, 8) + (180 if rotate180 else 0))
    cx = fw / 2 + rng.uniform(-0.06, 0.06) * fw
    cy = fh / 2 + rng.uniform(-0.06, 0.06) * fh
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    local += rng.uniform(-0.035, 0.035, (4, 2)) * np.array([w, h])  # perspective: each corner moves a bit
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    corners = local @ rot.T + np.array([cx, cy])
    # keep the whole document inside the frame
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    shift = np.maximum(0, 8 - lo) - np.maximum(0, hi - (np.array(frame) - 8))
    return np.asarray(corners + shift, dtype=np.float64)


def _blend_document(doc: UInt8Array, bg: UInt8Array, corners: FloatArray) -> UInt8Array:
    h, w = doc.shape[:2]
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    size = (bg.shape[1], bg.shape[0])
    warped = cv2.warpPerspective(doc, matrix, size, flags=cv2.INTER_AREA if w > size[0] else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size, flags=cv2.INTER_LINEAR)
    # a soft shadow under the card, then the card
    shadow = cv2.GaussianBlur(mask, (0, 0), 6).astype(np.float64) / 255.0
    shadow = np.roll(shadow, (5, 4), axis=(0, 1))
    out = bg.astype(np.float64) * (1 - 0.35 * shadow[:, :, None])
    alpha = mask.astype(np.float64)[:, :, None] / 255.0
    out = warped * alpha + out * (1 - alpha)
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def _lighting(img: FloatArray, rng: np.random.Generator, strength: float) -> FloatArray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    gx, gy = rng.uniform(-1, 1, 2)
    ramp = gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    r = np.hypot(xx / w - 0.5, yy / h - 0.5)
    gain = 1 + strength * ramp - 0.25 * strength * r**2
    return np.asarray(img * gain[:, :, None], dtype=np.float64)


def _glare(img: FloatArray, corners: FloatArray, rng: np.random.Generator) -> FloatArray:
    h, w = img.shape[:2]
    c = corners.mean(axis=0) + rng.uniform(-0.3, 0.3, 2) * (corners.max(axis=0) - corners.min(axis=0))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx, sy = rng.uniform(0.05, 0.12) * w, rng.uniform(0.04, 0.09) * h
    blob = np.exp(-(((xx - c[0]) / sx) ** 2 + ((yy - c[1]) / sy) ** 2))
    return np.asarray(img + rng.uniform(140, 230) * blob[:, :, None], dtype=np.float64)


def _motion_kernel(length: int, angle: float) -> FloatArray:
    k: FloatArray = np.zeros((length, length))
    k[length // 2, :] = 1
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1)
    k = cv2.warpAffine(k, rot, (length, length))
    return np.asarray(k / max(1e-9, float(k.sum())), dtype=np.float64)


def capture(
    document: UInt8Array,
    rng: np.random.Generator,
    *,
    degradation: str = "clean",
    rotate180: bool = False,
    frame: tuple[int, int] = FRAME,
) -> Capture:
    """Photograph an RGB document rendering under ``degradation`` (one of ``DEGRADATIONS``)."""
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r}; use one of {', '.join(DEGRADATIONS)}")
    corners = _placement((document.shape[1], document.shape[0]), frame, rng, rotate180)
    img: FloatArray = _blend_document(document, background(frame, rng), corners).astype(np.float64)
    img = _lighting(img, rng, 0.7 if degradation == "light" else 0.12)
    if degradation == "glare":
        img = _glare(img, corners, rng)
    img = np.clip(img, 0, 255)
    if degradation == "blur":
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.6, 2.4))
    elif degradation == "motion":
        img = cv2.filter2D(img, -1, _motion_kernel(int(rng.integers(7, 12)), rng.uniform(0, 180)))
    else:
        img = cv2.GaussianBlur(img, (0, 0), 0.6)  # every lens blurs a little
    sigma = rng.uniform(8, 13) if degradation == "noise" else 2.0
    img = img + rng.normal(0, sigma, img.shape)
    out: UInt8Array = np.clip(img, 0, 255).astype(np.uint8)
    if degradation == "lowres":
        k = rng.uniform(0.42, 0.5)
        out = cv2.resize(out, (int(frame[0] * k), int(frame[1] * k)), interpolation=cv2.INTER_AREA)
        corners = corners * np.array([out.shape[1] / frame[0], out.shape[0] / frame[1]])
    quality = int(rng.integers(35, 50)) if degradation == "jpeg" else int(rng.integers(90, 96))
    buf = io.BytesIO()
    Image.fromarray(out, "RGB").save(buf, format="JPEG", quality=quality)
    return Capture(buf.getvalue(), corners, (out.shape[1], out.shape[0]), degradation, quality)
