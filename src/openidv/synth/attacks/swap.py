"""Deepfake face swaps: one person's inner face placed on another's head, as swap tools do.

Steps, each leaving the traces a detector should find: landmark alignment (five points, least-squares
similarity), the generator's limited resolution (the face is rendered at 64-160 px and scaled back), colour
transfer to the target's skin (Reinhard: per-channel mean and spread in Lab inside the face), and blending
along a feathered elliptical boundary (or OpenCV's Poisson ``seamlessClone``).
"""

from __future__ import annotations

import cv2
import numpy as np

from openidv.synth.attacks.camera import F32, to_float, to_uint8
from openidv.synth.attacks.faces import align_onto, face_ellipse, face_frame


def colour_transfer(src: F32, dst: F32, mask: np.ndarray) -> F32:
    """Match ``src``'s Lab statistics inside ``mask`` to ``dst``'s (Reinhard et al. 2001)."""
    sel = mask > 0.5
    if int(sel.sum()) < 16:
        return src
    s = cv2.cvtColor(np.clip(src, 0, 1), cv2.COLOR_BGR2LAB)
    d = cv2.cvtColor(np.clip(dst, 0, 1), cv2.COLOR_BGR2LAB)
    s_mean, s_std = s[sel].mean(axis=0), s[sel].std(axis=0) + 1e-3
    d_mean, d_std = d[sel].mean(axis=0), d[sel].std(axis=0) + 1e-3
    moved = (s - s_mean) * (d_std / s_std) + d_mean
    out: F32 = np.asarray(cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_LAB2BGR), dtype=np.float32)
    return out


def swap_attack(
    target: F32, target_pts: np.ndarray, source: F32, source_pts: np.ndarray, rng: np.random.Generator
) -> tuple[F32, dict[str, str]]:
    h, w = target.shape[:2]
    face = align_onto(source, source_pts, target_pts, (w, h))
    _, ied, _ = face_frame(target_pts)
    res = int(rng.choice([64, 96, 128, 160]))
    box = int(ied * 3.2)
    if box > res:  # the generator's output resolution, upsampled back into the frame
        factor = res / box
        small = cv2.resize(face, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        face = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    region = face_ellipse(target_pts, (w, h), rng.uniform(1.9, 2.3), rng.uniform(2.4, 2.9), lift=0.1)
    face = colour_transfer(face, target, region)
    method = "poisson" if rng.random() < 0.3 else "feather"
    variant = {"blend": method, "gen_res": str(res)}
    if method == "poisson":
        mask_u8 = (region > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(mask_u8)
        if xs.size and xs.min() > 1 and ys.min() > 1 and xs.max() < w - 2 and ys.max() < h - 2:
            cx, cy = (int(xs.min() + xs.max()) // 2, int(ys.min() + ys.max()) // 2)
            cloned = cv2.seamlessClone(to_uint8(face), to_uint8(target), mask_u8, (cx, cy), cv2.NORMAL_CLONE)
            return to_float(np.asarray(cloned, dtype=np.uint8)), variant
        variant["blend"] = "feather"
    sigma = float(rng.uniform(0.03, 0.12) * ied)
    alpha = cv2.GaussianBlur(region, (0, 0), max(sigma, 0.5))
    out: F32 = (target * (1 - alpha[:, :, None]) + face * alpha[:, :, None]).astype(np.float32)
    return out, variant
