"""Robustness variants of a document photo (issue 10): the ways real captures differ from a clean scan.

Each variant is a function of a BGR array; ``VARIANTS`` names them. They are deterministic, so a failure
reproduces.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

UInt8Array = npt.NDArray[np.uint8]


def rotate(degrees: int) -> Callable[[UInt8Array], UInt8Array]:
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[degrees]
    return lambda bgr: cv2.rotate(bgr, code)


def skew(degrees: float) -> Callable[[UInt8Array], UInt8Array]:
    """Turned by ``degrees`` on a grey background large enough to hold the whole page."""

    def apply(bgr: UInt8Array) -> UInt8Array:
        h, w = bgr.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
        matrix[0, 2] += nw / 2 - w / 2
        matrix[1, 2] += nh / 2 - h / 2
        return cv2.warpAffine(bgr, matrix, (nw, nh), borderValue=(90, 90, 90))

    return apply


def perspective(bgr: UInt8Array) -> UInt8Array:
    """A photo taken from below and to the side: the far edge 12% narrower, the page on a dark table."""
    h, w = bgr.shape[:2]
    pad = int(0.1 * w)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32(
        [[pad + 0.06 * w, pad], [pad + 0.94 * w, pad + 0.03 * h], [pad + w, pad + h], [pad, pad + 0.97 * h]]
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(bgr, matrix, (w + 2 * pad, h + 2 * pad), borderValue=(40, 40, 40))


def scale(factor: float) -> Callable[[UInt8Array], UInt8Array]:
    return lambda bgr: cv2.resize(
        bgr,
        (max(1, int(bgr.shape[1] * factor)), max(1, int(bgr.shape[0] * factor))),
        interpolation=cv2.INTER_AREA,
    )


def blur(bgr: UInt8Array) -> UInt8Array:
    return cv2.GaussianBlur(bgr, (0, 0), sigmaX=1.5)


def jpeg(quality: int) -> Callable[[UInt8Array], UInt8Array]:
    def apply(bgr: UInt8Array) -> UInt8Array:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return cv2.imdecode(data, cv2.IMREAD_COLOR)

    return apply


def light_ramp(bgr: UInt8Array) -> UInt8Array:
    """Uneven light: dark on the left (45% of the light), full on the right."""
    ramp = np.linspace(0.45, 1.0, bgr.shape[1], dtype=np.float32)[None, :, None]
    return np.clip(bgr.astype(np.float32) * ramp, 0, 255).astype(np.uint8)


VARIANTS: dict[str, Callable[[UInt8Array], UInt8Array]] = {
    "original": lambda bgr: bgr,
    "rotate90": rotate(90),
    "rotate180": rotate(180),
    "rotate270": rotate(270),
    "skew+15": skew(15),
    "skew-15": skew(-15),
    "perspective": perspective,
    "scale30": scale(0.3),
    "blur": blur,
    "jpeg30": jpeg(30),
    "light_ramp": light_ramp,
}


def on_cluttered_table(fraction: float, seed: int = 3) -> Callable[[UInt8Array], UInt8Array]:
    """The page filling ``fraction`` of the width of a 12-megapixel photo of a patterned surface."""

    def apply(bgr: UInt8Array) -> UInt8Array:
        rng = np.random.default_rng(seed)
        height, width = 3000, 4000
        blocks = rng.integers(60, 200, (height // 50, width // 50, 3), dtype=np.uint8)
        table = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)
        table = cv2.GaussianBlur(table, (0, 0), 3)
        w = int(width * fraction)
        h = int(bgr.shape[0] * w / bgr.shape[1])
        table[900 : 900 + h, 1200 : 1200 + w] = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(table)

    return apply


#: harder captures, tested on one page each (12-megapixel photos are slow to make and search)
LARGE_PHOTO_VARIANTS: dict[str, Callable[[UInt8Array], UInt8Array]] = {
    "table_half": on_cluttered_table(0.5),
    "table_quarter": on_cluttered_table(0.25),
}


def glare(bgr: UInt8Array) -> UInt8Array:
    """A bright reflection across the lower middle of the page, where an MRZ usually is."""
    h, w = bgr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    spot = np.exp(-(((xx - 0.55 * w) / (0.12 * w)) ** 2 + ((yy - 0.8 * h) / (0.08 * h)) ** 2)) * 160
    return np.clip(bgr.astype(np.float32) + spot[..., None], 0, 255).astype(np.uint8)


def low_contrast(bgr: UInt8Array) -> UInt8Array:
    return (bgr.astype(np.float32) * 0.35 + 140).astype(np.uint8)


def sensor_noise(bgr: UInt8Array) -> UInt8Array:
    noise = np.random.default_rng(1).normal(0, 18, bgr.shape)
    return np.clip(bgr.astype(np.float64) + noise, 0, 255).astype(np.uint8)


#: beyond the issue's list: the limits of the stated ranges and worse captures (tested on the JPEG pages)
HARSH_VARIANTS: dict[str, Callable[[UInt8Array], UInt8Array]] = {
    "skew+20": skew(20),
    "skew-20": skew(-20),
    "blur_sigma3": lambda bgr: cv2.GaussianBlur(bgr, (0, 0), sigmaX=3.0),
    "jpeg12": jpeg(12),
    "scale20": scale(0.2),
    "glare": glare,
    "low_contrast": low_contrast,
    "sensor_noise": sensor_noise,
}
