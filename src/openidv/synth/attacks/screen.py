"""Screen-replay attacks: a face shown on a phone, tablet or monitor and filmed by the capturing camera.

Physical effects simulated:
- the display's RGB subpixel grid: every screen pixel is three coloured stripes with dark gaps; the camera
  samples that grid at a pitch of 1.1-3 camera pixels per screen pixel, slightly rotated, which aliases into
  moire (rendered at 3x, blurred by the lens and integrated over each camera pixel, as a sensor does);
- display tone: a different gamma, a raised black level (backlight glow) and a cool white point;
- glare: the reflection of a window or lamp on the glass;
- the bezel and the room around it when the device is held farther away;
- refresh banding: the rolling shutter meets the backlight's PWM flicker as horizontal bands.
"""

from __future__ import annotations

import cv2
import numpy as np

from openidv.synth.attacks.camera import F32
from openidv.synth.attacks.geometry import background, fingers, place, random_homography

SUPERSAMPLE = 3


def display_tone(img: F32, rng: np.random.Generator) -> F32:
    gamma = rng.uniform(0.8, 1.25)
    black = rng.uniform(0.02, 0.09)
    white = np.array([1.0 + rng.uniform(0.0, 0.12), 1.0, 1.0 - rng.uniform(0.0, 0.1)], dtype=np.float32)
    out: F32 = (black + (1 - black) * np.power(np.clip(img, 0, 1), gamma) * white).astype(np.float32)
    return out


def subpixel_capture(img: F32, pitch: float, angle_deg: float, rng: np.random.Generator) -> F32:
    """Show ``img`` on an RGB-stripe display of ``pitch`` camera pixels per screen pixel and sample it."""
    h, w = img.shape[:2]
    sw, sh = max(2, round(w / pitch)), max(2, round(h / pitch))
    shown = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)  # the display's own resolution
    bh, bw = h * SUPERSAMPLE, w * SUPERSAMPLE
    a = np.deg2rad(angle_deg)
    step = np.float32(pitch * SUPERSAMPLE)
    xs = (np.arange(bw, dtype=np.float32) - bw / 2)[None, :]
    ys = (np.arange(bh, dtype=np.float32) - bh / 2)[:, None]
    u = (xs * np.float32(np.cos(a)) + ys * np.float32(np.sin(a))) / step + np.float32(
        sw / 2 + rng.uniform(0, 1)
    )
    v = (ys * np.float32(np.cos(a)) - xs * np.float32(np.sin(a))) / step + np.float32(
        sh / 2 + rng.uniform(0, 1)
    )
    fu_floor, fv_floor = np.floor(u), np.floor(v)
    col = np.clip(fu_floor.astype(np.int32), 0, sw - 1)
    row = np.clip(fv_floor.astype(np.int32), 0, sh - 1)
    fu, fv = u - fu_floor, v - fv_floor
    gap = np.float32(rng.uniform(0.12, 0.3))
    third = fu * 3
    stripe = np.minimum(third.astype(np.int32), 2)  # 0, 1, 2 = R, G, B from left to right
    within = third - stripe
    lit = ((within > gap / 2) & (within < 1 - gap / 2) & (fv > gap / 2)).astype(np.float32)
    values = shown[row, col]  # BGR of the screen pixel under each fine sample
    canvas = np.empty((bh, bw, 3), dtype=np.float32)
    for bgr_index, channel in ((2, 0), (1, 1), (0, 2)):  # the R stripe lights BGR index 2, ...
        canvas[:, :, bgr_index] = values[:, :, bgr_index] * lit * (stripe == channel)
    fill = (1 - gap) * (1 - gap / 2) / 3  # share of the area each primary lights
    lens = float(rng.uniform(0.35, 0.9)) * SUPERSAMPLE  # the camera lens' blur, in fine samples
    canvas = cv2.GaussianBlur(canvas, (0, 0), lens)
    sampled = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA) / fill
    out: F32 = np.asarray(np.clip(sampled, 0, 1.5), dtype=np.float32)
    return out


def glare(img: F32, rng: np.random.Generator) -> F32:
    h, w = img.shape[:2]
    mask = np.zeros((h, w), dtype=np.float32)
    x0, y0 = int(rng.uniform(0, 0.7) * w), int(rng.uniform(0, 0.7) * h)
    pts = np.array(
        [
            [x0, y0],
            [x0 + rng.uniform(0.1, 0.4) * w, y0],
            [x0 + rng.uniform(0.2, 0.5) * w, y0 + 0.3 * h],
            [x0 + rng.uniform(0, 0.1) * w, y0 + rng.uniform(0.2, 0.5) * h],
        ],
        dtype=np.int32,
    )
    cv2.fillConvexPoly(mask, pts, 1.0)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), float(rng.uniform(5, 25))), dtype=np.float32)
    out: F32 = (img + rng.uniform(0.05, 0.35) * mask[:, :, None]).astype(np.float32)
    return out


def banding(img: F32, rng: np.random.Generator) -> F32:
    h = img.shape[0]
    period = rng.uniform(15, 120)
    depth = rng.uniform(0.02, 0.1)
    rows = 1 + depth * np.sin(2 * np.pi * np.arange(h, dtype=np.float32) / period + rng.uniform(0, 6.3))
    out: F32 = (img * rows[:, None, None]).astype(np.float32)
    return out


def screen_attack(face: F32, rng: np.random.Generator, scenery: F32 | None) -> tuple[F32, dict[str, str]]:
    """The face replayed on a display: close-up (screen fills the frame) or held with its bezel showing."""
    h, w = face.shape[:2]
    pitch = float(rng.uniform(1.0, 2.2))
    device = "phone" if pitch < 1.3 else ("tablet" if pitch < 1.75 else "monitor")
    shown = subpixel_capture(display_tone(face, rng), pitch, float(rng.uniform(-4, 4)), rng)
    if rng.random() < 0.6:
        shown = banding(shown, rng)
    variant = {"device": device, "glare": "no"}
    if rng.random() < 0.5:
        shown = glare(shown, rng)
        variant["glare"] = "yes"
    if rng.random() < 0.5:
        variant["framing"] = "close"
        return shown, variant
    border = int(rng.uniform(0.03, 0.09) * w)
    bezel_colour = (0.02, 0.02, 0.02) if rng.random() < 0.7 else (0.85, 0.85, 0.85)
    device_img = cv2.copyMakeBorder(
        shown,
        border,
        border * 2,
        border,
        border * 2 if rng.random() < 0.5 else border,
        cv2.BORDER_CONSTANT,
        value=bezel_colour,
    )
    matrix = random_homography(
        rng, (device_img.shape[1], device_img.shape[0]), (w, h), rng.uniform(0.8, 1.0), 0.03
    )
    frame, alpha = place(np.asarray(device_img, dtype=np.float32), background(rng, (w, h), scenery), matrix)
    variant["framing"] = "held"
    if rng.random() < 0.4:
        frame = fingers(frame, alpha, rng)
        variant["framing"] = "held_fingers"
    return frame, variant
