"""Placing a flat presentation (a photo print, a phone screen) in front of the camera, with what surrounds it.

A held print or phone is a plane seen in perspective: ``place`` warps it with a random homography and fills
the rest of the frame with a background (a blurred real scene or a plain wall), so paper edges, bezels and
fingers show when the attacker holds the medium farther away, and do not when it fills the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from openidv.synth.attacks.camera import F32


def background(rng: np.random.Generator, size: tuple[int, int], scenery: F32 | None) -> F32:
    """A plausible room behind the medium: a heavily blurred real photo, or a lit wall."""
    w, h = size
    if scenery is not None and rng.random() < 0.6:
        bg = cv2.resize(scenery, (w, h), interpolation=cv2.INTER_AREA)
        bg = cv2.GaussianBlur(bg, (0, 0), float(rng.uniform(6, 14)))
        out: F32 = np.asarray(np.flip(bg, axis=1) if rng.random() < 0.5 else bg, dtype=np.float32)
        return out
    colour = rng.uniform(0.35, 0.85, size=3).astype(np.float32)
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    wall: F32 = (colour * (0.8 + 0.3 * ys) * np.ones((h, w, 3), dtype=np.float32)).astype(np.float32)
    return wall


def random_homography(
    rng: np.random.Generator, src_size: tuple[int, int], dst_size: tuple[int, int], fill: float, tilt: float
) -> np.ndarray:
    """Map the medium's corners to a tilted quadrilateral covering about ``fill`` of the frame's width."""
    sw, sh = src_size
    dw, dh = dst_size
    scale = fill * dw / sw
    cx, cy = dw / 2 + rng.uniform(-0.05, 0.05) * dw, dh / 2 + rng.uniform(-0.05, 0.05) * dh
    corners = np.array([[-sw / 2, -sh / 2], [sw / 2, -sh / 2], [sw / 2, sh / 2], [-sw / 2, sh / 2]]) * scale
    angle = np.deg2rad(rng.uniform(-8, 8))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rot.T
    corners += rng.uniform(-tilt, tilt, size=corners.shape) * np.array([dw, dh])
    dst = (corners + np.array([cx, cy])).astype(np.float32)
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float32)
    matrix: np.ndarray = cv2.getPerspectiveTransform(src, dst)
    return matrix


def place(medium: F32, backdrop: F32, matrix: np.ndarray) -> tuple[F32, F32]:
    """Composite ``medium`` warped by ``matrix`` over ``backdrop``; returns the frame and the coverage."""
    h, w = backdrop.shape[:2]
    warped = cv2.warpPerspective(medium, matrix, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
    ones = np.ones(medium.shape[:2], dtype=np.float32)
    alpha = cv2.warpPerspective(ones, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out: F32 = (warped * alpha[:, :, None] + backdrop * (1 - alpha[:, :, None])).astype(np.float32)
    return out, np.asarray(alpha, dtype=np.float32)


def fingers(frame: F32, alpha: F32, rng: np.random.Generator) -> F32:
    """One to three fingertips gripping the medium's lower or side edge, in plausible skin tones."""
    h, w = frame.shape[:2]
    rows, cols = np.nonzero(alpha > 0.5)
    if rows.size == 0:
        return frame
    out = frame.copy()
    skin = np.array(
        rng.choice([[0.55, 0.65, 0.85], [0.35, 0.45, 0.65], [0.25, 0.32, 0.45]]), dtype=np.float32
    )
    skin = skin * rng.uniform(0.85, 1.1)
    side = rng.choice(["bottom", "left", "right"])
    for _ in range(int(rng.integers(1, 4))):
        if side == "bottom":
            x = float(rng.uniform(cols.min() + 0.1 * w, max(cols.max() - 0.1 * w, cols.min() + 0.1 * w + 1)))
            y = float(rows.max())
            axes = (int(w * rng.uniform(0.035, 0.05)), int(h * rng.uniform(0.06, 0.1)))
        else:
            x = float(cols.min() if side == "left" else cols.max())
            y = float(rng.uniform(rows.min() + 0.3 * h, max(rows.max() - 0.1 * h, rows.min() + 0.3 * h + 1)))
            axes = (int(w * rng.uniform(0.07, 0.11)), int(h * rng.uniform(0.025, 0.04)))
        mask = np.zeros((h, w), dtype=np.float32)
        cv2.ellipse(mask, (int(x), int(y)), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), 1.0), dtype=np.float32)
        shade = 0.8 + 0.2 * cv2.GaussianBlur(mask, (0, 0), 6)
        out = np.asarray(
            out * (1 - mask[:, :, None]) + (skin * shade[:, :, None]) * mask[:, :, None], dtype=np.float32
        )
    return np.asarray(out, dtype=np.float32)
