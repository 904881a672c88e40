"""Template-free capture signals: how the document reached the camera, on any design.

A genuine document photographed by a phone is ink on paper or plastic under room light. A screen
recapture, a colour print and a black-and-white photocopy each leave traces that need no template:

* screens: a periodic sub-pixel grid (sharp peaks in the spectrum, fine detail in the colour channels,
  horizontal banding) and a display's tone (cool white, lifted blacks);
* colour prints: halftone screens (periodic peaks at 2-5 px), lost saturation, toner blacks that never reach
  black;
* photocopies: almost no colour at all, a steep tone curve that empties the mid-tones, toner speckle.

Each signal is measured on the document region (the located card, else the centre of the photo) at a
fixed working size so that scores do not depend on the camera's resolution. The signals are combined by a
small linear model (``capture_model``) trained on synthetic recaptures; the spectrum and colour primitives
are shared with the template forensics (``forensics.py``).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.document.forensics import chroma_hf_ratio, double_jpeg, spectrum_peak

UInt8Array = npt.NDArray[Any]
FloatArray = npt.NDArray[Any]

CAPTURE_FEATURES = (
    "spectrum_peak",
    "spectrum_peak_half",
    "chroma_hf_ratio",
    "saturation",
    "colourful_fraction",
    "black_level",
    "white_level",
    "midtone_fraction",
    "residual_noise",
    "row_banding",
    "white_blue_cast",
    "blockiness",
    "sharpness",
)
#: the signals of display physics (sub-pixel grid, moire, colour stripes, the display's grain and banding,
#: its dimmer white), which depend little on the design: the shipped screen model reads only these.
#: Saturation and colour share describe the design as much as the medium (a pale real passport page looks
#: like a photocopy to a model that reads them); mid-tone share and a cool white describe the scene.
SCREEN_FEATURES = (
    "spectrum_peak",
    "spectrum_peak_half",
    "chroma_hf_ratio",
    "residual_noise",
    "row_banding",
    "sharpness",
    "white_level",
)
#: long side of the region the signals are measured on (phone photos of a card are 800-2000 px wide)
WORKING_SIDE = 1200
MIN_SIDE = 64


def document_region(bgr: UInt8Array, corners: FloatArray | None) -> UInt8Array:
    """The located card's bounding box, else the central 80% of the photo (a document fills most of a
    capture), scaled so its long side is at most ``WORKING_SIDE``."""
    h, w = bgr.shape[:2]
    if corners is not None and len(corners) == 4:
        x0, y0 = np.clip(np.floor(corners.min(axis=0)), 0, [w - 1, h - 1]).astype(int)
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)), 1, [w, h]).astype(int)
        region = bgr[y0:y1, x0:x1]
    else:
        region = bgr[int(0.1 * h) : int(0.9 * h), int(0.1 * w) : int(0.9 * w)]
    if min(region.shape[:2]) < MIN_SIDE:
        region = bgr
    scale = WORKING_SIDE / max(region.shape[:2])
    if scale < 1.0:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(region)


def _row_banding(grey: FloatArray) -> float:
    """Strength of periodic horizontal bands (rolling shutter against a backlight's flicker, display rows):
    the largest peak of the detrended row-mean spectrum over its median."""
    rows = grey.mean(axis=1)
    rows = rows - cv2.GaussianBlur(rows.reshape(-1, 1), (0, 0), 8).ravel()
    spec = np.abs(np.fft.rfft(rows * np.hanning(len(rows))))[4:]
    return float(np.log1p(spec.max() / (np.median(spec) + 1e-6))) if spec.size > 8 else 0.0


def measure_capture(bgr: UInt8Array, corners: FloatArray | None = None) -> dict[str, float]:
    """Every signal in ``CAPTURE_FEATURES`` for one photo (BGR uint8) and, if known, the card's corners."""
    region = document_region(bgr, corners)
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float64)
    lab = cv2.cvtColor(region, cv2.COLOR_BGR2LAB).astype(np.float64)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    lo, hi = np.percentile(grey, [1, 99])
    span = max(1.0, float(hi - lo))
    norm = (grey - lo) / span
    residual = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    bright = grey >= np.percentile(grey, 90)
    blue_cast = float((region[..., 0][bright].astype(np.float64) - region[..., 2][bright]).mean())
    half = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    out = {
        "spectrum_peak": spectrum_peak(grey),
        "spectrum_peak_half": spectrum_peak(half) if min(half.shape) >= MIN_SIDE else 0.0,
        "chroma_hf_ratio": chroma_hf_ratio(region),
        "saturation": float(chroma.mean()),
        "colourful_fraction": float((chroma > 12).mean()),
        "black_level": float(lo) / max(1.0, float(hi)),
        "white_level": float(hi),
        "midtone_fraction": float(((norm > 0.25) & (norm < 0.75)).mean()),
        "residual_noise": float(np.median(np.abs(residual))) / span * 255,
        "row_banding": _row_banding(grey),
        "white_blue_cast": blue_cast / max(1.0, float(hi)),
        "blockiness": double_jpeg(grey),
        "sharpness": float(cv2.Laplacian(grey, cv2.CV_64F).var()) / span**2 * 1e3,
    }
    return {k: round(float(out[k]), 6) for k in CAPTURE_FEATURES}
