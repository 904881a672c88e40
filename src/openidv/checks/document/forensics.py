"""Measured forgery signals on a rectified document (and the photo it came from).

Each signal is a number with a stated direction; the trained model (``forensics_model.py``) combines them.

* error level (ELA) and noise residual: the portrait and each printed field against the rest of the card
  (a pasted or retyped patch has its own compression and noise history);
* background texture inside each field box (a painted-over value loses the guilloche under it);
* double-JPEG: the strength of an 8x8 blocking grid that is *not* aligned with the photo's own grid;
* copy-move: near-identical textured blocks repeated at one consistent offset (block matching);
* screen and print: periodic peaks in the spectrum (moire, pixel grid, halftone), colour-channel
  high-frequency energy (sub-pixel stripes), saturation and black level against the template's;
* the portrait against its ghost image (correlation), and against the card's colour statistics;
* security features: background line energy, rainbow colour spread, microprint band detail;
* capture covariates (sharpness, brightness, template distance) so the model can tell a poor photo from a
  forgery.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from openidv.checks.document.localize import PPMM
from openidv.checks.document.template_spec import Box, SideSpec, TemplateSpec, box_px, value_box

FloatArray = npt.NDArray[Any]
UInt8Array = npt.NDArray[Any]  # OpenCV's stubs type every array loosely

FEATURES = (
    "ela_portrait_ratio",
    "noise_portrait_ratio",
    "portrait_chroma_ratio",
    "portrait_edge_ratio",
    "ghost_correlation",
    "ghost_contrast",
    "field_texture_min_ratio",
    "field_noise_max_ratio",
    "field_ela_max_ratio",
    "copy_move_score",
    "spectrum_peak",
    "spectrum_peak_photo",
    "chroma_hf_ratio",
    "saturation",
    "saturation_ratio",
    "black_level",
    "white_level",
    "background_texture",
    "rainbow_spread",
    "microprint_detail",
    "double_jpeg",
    "sharpness",
    "brightness",
    "template_distance",
)


def _crop(img: npt.NDArray[Any], box: Box, shrink_mm: float = 0.0) -> npt.NDArray[Any]:
    x, y, w, h = box
    x0, y0, x1, y1 = box_px((x + shrink_mm, y + shrink_mm, w - 2 * shrink_mm, h - 2 * shrink_mm), PPMM)
    H, W = img.shape[:2]
    return img[max(0, y0) : min(H, y1), max(0, x0) : min(W, x1)]


def _ela(bgr: UInt8Array, quality: int = 90) -> FloatArray:
    buf = io.BytesIO()
    PILImage.fromarray(bgr[:, :, ::-1]).save(buf, format="JPEG", quality=quality)
    again = np.asarray(PILImage.open(io.BytesIO(buf.getvalue())).convert("RGB"))[:, :, ::-1]
    return np.asarray(
        np.abs(bgr.astype(np.float64) - again.astype(np.float64)).mean(axis=2), dtype=np.float64
    )


def _noise(grey: FloatArray) -> FloatArray:
    return np.asarray(
        np.abs(grey - cv2.medianBlur(grey.astype(np.uint8), 3).astype(np.float64)), dtype=np.float64
    )


def _mask_not(shape: tuple[int, ...], boxes: Sequence[Box]) -> npt.NDArray[np.bool_]:
    mask = np.ones(shape[:2], dtype=bool)
    for b in boxes:
        x0, y0, x1, y1 = box_px(b, PPMM)
        mask[max(0, y0) : y1, max(0, x0) : x1] = False
    return mask


def _ratio(a: float, b: float) -> float:
    return float(a / max(1e-6, b))


def _portrait_signals(
    bgr: UInt8Array, grey: FloatArray, ela: FloatArray, noise: FloatArray, side: SideSpec
) -> dict[str, float]:
    out = {
        k: 0.0
        for k in (
            "ela_portrait_ratio",
            "noise_portrait_ratio",
            "portrait_chroma_ratio",
            "portrait_edge_ratio",
            "ghost_correlation",
            "ghost_contrast",
        )
    }
    if side.portrait is None:
        return out
    body = _mask_not(grey.shape, [side.portrait, side.header_box, *(f.box for f in side.fields)])
    inner = _crop(ela, side.portrait, 2.0)
    out["ela_portrait_ratio"] = _ratio(float(inner.mean()), float(ela[body].mean()))
    out["noise_portrait_ratio"] = _ratio(
        float(_crop(noise, side.portrait, 2.0).mean()), float(noise[body].mean())
    )
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float64)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    out["portrait_chroma_ratio"] = _ratio(
        float(_crop(chroma, side.portrait, 2.0).mean()), float(chroma[body].mean())
    )
    # a pasted photo leaves a second edge just outside the printed portrait frame
    gy, gx = np.gradient(cv2.GaussianBlur(grey, (0, 0), 1.0))
    mag = np.hypot(gx, gy)
    x, y, w, h = side.portrait
    ring_out = _crop(mag, (x - 1.2, y - 1.2, w + 2.4, h + 2.4)).astype(np.float64)
    ring_in = _crop(mag, (x - 0.4, y - 0.4, w + 0.8, h + 0.8))
    outer = ring_out.sum() - ring_in.sum()
    frame = _crop(mag, (x + 0.4, y + 0.4, w - 0.8, h - 0.8))
    edge = ring_in.sum() - frame.sum()
    out["portrait_edge_ratio"] = _ratio(float(outer), float(abs(edge)) + 1.0)
    if side.ghost is not None:
        ghost = _crop(grey, side.ghost, 0.3)
        face = _crop(grey, side.portrait)
        if ghost.size and face.size:
            size = (24, 30)
            g = cv2.resize(cv2.GaussianBlur(ghost, (0, 0), 1.5), size, interpolation=cv2.INTER_AREA)
            f = cv2.resize(cv2.GaussianBlur(face, (0, 0), 1.5), size, interpolation=cv2.INTER_AREA)
            g, f = g - g.mean(), f - f.mean()
            denom = float(np.sqrt((g**2).sum() * (f**2).sum()))
            out["ghost_correlation"] = float((g * f).sum() / denom) if denom > 0 else 0.0
            out["ghost_contrast"] = float(ghost.std())
    return out


def _field_signals(grey: FloatArray, ela: FloatArray, noise: FloatArray, side: SideSpec) -> dict[str, float]:
    textures, noises, elas = [], [], []
    for f in side.fields:
        box = value_box(f.box)
        patch = _crop(grey, box, 0.2)
        if patch.size < 50:
            continue
        # background pixels of the value box (not ink): their fine texture is the guilloche under the text
        paper = patch > np.percentile(patch, 45)
        hp = np.abs(patch - cv2.GaussianBlur(patch, (0, 0), 2.0))
        textures.append(float(hp[paper].mean()) if paper.any() else 0.0)
        noises.append(float(_crop(noise, box, 0.2).mean()))
        elas.append(float(_crop(ela, box, 0.2).mean()))
    if len(textures) < 2:
        return {"field_texture_min_ratio": 1.0, "field_noise_max_ratio": 1.0, "field_ela_max_ratio": 1.0}
    return {
        "field_texture_min_ratio": _ratio(min(textures), float(np.median(textures))),
        "field_noise_max_ratio": _ratio(max(noises), float(np.median(noises))),
        "field_ela_max_ratio": _ratio(max(elas), float(np.median(elas))),
    }


def copy_move_score(grey: FloatArray, exclude: Sequence[Box] = ()) -> float:
    """Copy-move by keypoint self-matching (SIFT, g2NN ratio test): the largest group of matched keypoint
    pairs that share one displacement. A cloned region gives many pairs at one offset; repeated glyphs of
    the same font give a few pairs at scattered offsets."""
    k = 1.0
    img = cv2.resize(np.clip(grey, 0, 255).astype(np.uint8), None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(
        _mask_not(grey.shape, exclude).astype(np.uint8) * 255,
        img.shape[::-1],
        interpolation=cv2.INTER_NEAREST,
    )
    sift = cv2.SIFT_create(  # type: ignore[attr-defined]
        nfeatures=2000, contrastThreshold=0.02
    )
    keypoints, desc = sift.detectAndCompute(img, mask)
    if desc is None or len(keypoints) < 10:
        return 0.0
    pts = np.array([kp.pt for kp in keypoints])
    # only keypoints on ink or photo (dark), not on the light, deliberately repetitive guilloche
    darkest = cv2.erode(img, np.ones((5, 5), np.uint8))
    ink = darkest[
        np.clip(pts[:, 1].astype(int), 0, img.shape[0] - 1),
        np.clip(pts[:, 0].astype(int), 0, img.shape[1] - 1),
    ]
    dark = ink < np.percentile(img, 8)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = []
    for matches in matcher.knnMatch(desc, desc, k=3):
        # matches[0] is the keypoint itself; accept the next when it is clearly better than the one after
        if len(matches) < 3:
            continue
        m1, m2 = matches[1], matches[2]
        if m1.distance < 0.6 * max(1e-6, m2.distance):
            a, b = m1.queryIdx, m1.trainIdx
            turn = abs((keypoints[a].angle - keypoints[b].angle + 180) % 360 - 180)
            if (
                a < b and dark[a] and dark[b] and turn < 10 and np.hypot(*(pts[a] - pts[b])) > 3 * PPMM
            ):  # a pure shift, 3 mm or more
                pairs.append(pts[b] - pts[a])
    if not pairs:
        return 0.0
    offsets = np.round(np.array(pairs) / (0.5 * PPMM)).astype(int)  # 0.5 mm bins
    _, counts = np.unique(offsets, axis=0, return_counts=True)
    return float(counts.max())


def spectrum_peak(grey: FloatArray) -> float:
    """How far the strongest mid/high-frequency peak stands above its neighbourhood (log ratio).
    Screens (pixel grid, moire) and halftone prints have sharp periodic peaks; paper and guilloche do not."""
    h, w = grey.shape
    side = min(512, h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    patch = grey[y0 : y0 + side, x0 : x0 + side]
    patch = patch - cv2.GaussianBlur(patch, (0, 0), 3)
    window = np.outer(np.hanning(side), np.hanning(side))
    spec = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(patch * window))))
    yy, xx = np.mgrid[0:side, 0:side]
    r = np.hypot(yy - side / 2, xx - side / 2) / (side / 2)
    band = (r > 0.15) & (r < 0.95)
    smooth = cv2.blur(spec, (9, 9))
    excess = (spec - smooth)[band]
    return float(np.percentile(excess, 99.95) - np.median(excess))


def chroma_hf_ratio(bgr: UInt8Array) -> float:
    """High-frequency energy in the colour channels relative to brightness: RGB sub-pixel stripes and
    colour moire put fine detail into colour that printed documents keep in brightness."""
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float64)
    hf = [np.abs(c - cv2.GaussianBlur(c, (0, 0), 1.5)).mean() for c in cv2.split(lab)]
    return _ratio(hf[1] + hf[2], hf[0])


def double_jpeg(grey: FloatArray) -> float:
    """Blockiness at the best 8x8 grid phase relative to the median phase: a strong grid that the photo was
    not compressed on hints at an earlier compression (rectification blurs this: a weak signal)."""
    d = np.abs(np.diff(grey, axis=1)).mean(axis=0)
    phases = [float(d[p::8].mean()) for p in range(8)]
    return _ratio(max(phases), float(np.median(phases)))


def _security_signals(
    bgr: UInt8Array, grey: FloatArray, side: SideSpec, spec: TemplateSpec
) -> dict[str, float]:
    boxes = [side.header_box, *(f.box for f in side.fields)]
    for b in (side.portrait, side.ghost, side.mrz, side.barcode):
        if b is not None:
            boxes.append(b)
    mask = _mask_not(grey.shape, boxes)
    hp = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 2.0))
    lab = cv2.cvtColor(cv2.GaussianBlur(bgr, (0, 0), 4), cv2.COLOR_BGR2LAB).astype(np.float64)
    columns = [lab[:, i : i + 20][mask[:, i : i + 20]] for i in range(0, lab.shape[1] - 20, 20)]
    means = np.array([c.mean(axis=0) for c in columns if len(c) > 20]) if columns else np.zeros((1, 3))
    micro = [float(_crop(hp, b).mean()) for b in side.microprint]
    return {
        "background_texture": float(hp[mask].mean()) if mask.any() else 0.0,
        "rainbow_spread": float(np.hypot(means[:, 1].std(), means[:, 2].std())) if len(means) > 1 else 0.0,
        "microprint_detail": _ratio(float(np.mean(micro)), float(hp[mask].mean()))
        if micro and mask.any()
        else 0.0,
    }


def _colour_signals(bgr: UInt8Array, grey: FloatArray, reference_chroma: float) -> dict[str, float]:
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float64)
    sat = float(np.hypot(lab[..., 1] - 128, lab[..., 2] - 128).mean())
    lo, hi = np.percentile(grey, [1, 99])
    return {
        "saturation": sat,
        "saturation_ratio": _ratio(sat, reference_chroma),
        "black_level": float(lo) / max(1.0, float(hi)),
        "white_level": float(hi),
    }


def measure(
    rectified: UInt8Array,
    photo_region: UInt8Array,
    spec: TemplateSpec,
    side_name: str,
    template_distance: float,
    reference_chroma: float,
) -> dict[str, float]:
    """Every signal in ``FEATURES`` for one rectified side (BGR at ``PPMM``) and its photo crop."""
    side = spec.sides[side_name]
    grey = cv2.cvtColor(rectified, cv2.COLOR_BGR2GRAY).astype(np.float64)
    ela = _ela(rectified)
    noise = _noise(grey)
    out: dict[str, float] = {}
    out.update(_portrait_signals(rectified, grey, ela, noise, side))
    out.update(_field_signals(grey, ela, noise, side))
    exclude = [b for b in (side.mrz, side.barcode, side.header_box) if b is not None] + list(side.microprint)
    out["copy_move_score"] = copy_move_score(grey, exclude)
    out["spectrum_peak"] = spectrum_peak(grey)
    pgrey = cv2.cvtColor(photo_region, cv2.COLOR_BGR2GRAY).astype(np.float64)
    out["spectrum_peak_photo"] = spectrum_peak(pgrey) if min(pgrey.shape) >= 64 else 0.0
    out["chroma_hf_ratio"] = chroma_hf_ratio(photo_region) if min(pgrey.shape) >= 16 else 0.0
    out.update(_colour_signals(rectified, grey, reference_chroma))
    out.update(_security_signals(rectified, grey, side, spec))
    out["double_jpeg"] = double_jpeg(pgrey)
    out["sharpness"] = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    out["brightness"] = float(grey.mean())
    out["template_distance"] = float(template_distance)
    return {k: round(float(out.get(k, 0.0)), 6) for k in FEATURES}
