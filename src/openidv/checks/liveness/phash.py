"""Perceptual hashes of images: the same picture re-encoded, resized or lightly cropped keeps its hash.

``phash``: the signs of the 8x8 lowest DCT coefficients of a 32x32 greyscale copy against their median
(Zauner 2010). ``dhash``: the signs of horizontal gradients of a 9x8 copy. Both 64-bit; two captures are the
same when both hashes are within small Hamming distances (``REPLAY_PHASH_BITS``, ``REPLAY_DHASH_BITS``).
"""

from __future__ import annotations

import cv2
import numpy as np

from openidv.imageio import UInt8Array

BANDS = (9, 9, 9, 9, 9, 9, 10)  # bit widths of the seven indexed pHash bands (sum 64)


def _gray(bgr: UInt8Array) -> np.ndarray:
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr, dtype=np.float32)


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for b in bits.reshape(-1)[:64]:
        value = (value << 1) | int(bool(b))
    return value


def phash(bgr: UInt8Array) -> int:
    small = cv2.resize(_gray(bgr), (32, 32), interpolation=cv2.INTER_AREA)
    coeffs = cv2.dct(small)[:8, :8]
    flat = coeffs.reshape(-1)
    median = float(np.median(flat[1:]))  # the DC term would dominate the median
    return _bits_to_int(flat > median)


def dhash(bgr: UInt8Array) -> int:
    small = cv2.resize(_gray(bgr), (9, 8), interpolation=cv2.INTER_AREA)
    return _bits_to_int(small[:, 1:] > small[:, :-1])


def hamming(a: int, b: int) -> int:
    return int((a ^ b).bit_count())


def bands(value: int) -> tuple[int, ...]:
    """The seven band values of a 64-bit hash (most significant first)."""
    out, shift = [], 64
    for width in BANDS:
        shift -= width
        out.append((value >> shift) & ((1 << width) - 1))
    return tuple(out)


def to_signed(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
