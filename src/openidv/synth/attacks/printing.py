"""Printed-photo attacks: a real face printed on paper and held up to the camera.

What a print does to a photo, each step a physical effect:
- reduced gamut: paper white is not light-source white and ink black reflects light, so contrast and
  saturation shrink, and the paper tints the whole image;
- screening: a press or laser printer renders tones as CMYK halftone dots on rotated screens (line rates
  from coarse 85 lpi to fine 200 lpi, i.e. a dot period of 1-4.5 camera pixels at selfie distance); an inkjet
  uses stochastic dithering instead. The camera samples that pattern, which aliases into moire or blurs away;
- paper texture (fibres, slight unevenness) and, on glossy paper, a specular highlight;
- when held farther away, the paper's edges and the fingers that hold it.
"""

from __future__ import annotations

import cv2
import numpy as np

from openidv.synth.attacks.camera import F32
from openidv.synth.attacks.geometry import background, fingers, place, random_homography

#: (name, dot period in camera pixels) of the screening variants
LINE_RATES = {"coarse": (3.0, 4.5), "medium": (1.8, 3.0), "fine": (1.0, 1.8)}
SUPERSAMPLE = 2
#: CMYK screen angles in degrees (the classic press set)
ANGLES = {"c": 15.0, "m": 75.0, "y": 0.0, "k": 45.0}


def print_gamut(img: F32, rng: np.random.Generator) -> F32:
    """Paper white, ink black, desaturation and a paper tint."""
    grey = img.mean(axis=2, keepdims=True)
    sat = rng.uniform(0.6, 0.9)
    out = grey + sat * (img - grey)
    white = rng.uniform(0.82, 0.95)
    black = rng.uniform(0.06, 0.16)
    out = black + (white - black) * np.clip(out, 0, 1)
    tint = np.array([1.0 - rng.uniform(0, 0.06), 1.0, 1.0 + rng.uniform(-0.01, 0.02)], dtype=np.float32)
    result: F32 = np.asarray(out * tint, dtype=np.float32)
    return result


def _screen(coverage: F32, period: float, angle_deg: float, rng: np.random.Generator) -> F32:
    """Amplitude-modulated halftone of one ink: dots on a rotated grid, softened over half a pixel."""
    h, w = coverage.shape
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    a = np.deg2rad(angle_deg)
    k = np.float32(2 * np.pi / period)
    c, s = np.float32(np.cos(a)) * k, np.float32(np.sin(a)) * k
    u = xs * c + ys * s + np.float32(rng.uniform(0, 2 * np.pi))
    v = ys * c - xs * s + np.float32(rng.uniform(0, 2 * np.pi))
    spot = 0.5 - (np.cos(u) + np.cos(v)) / 4  # 0 at dot centres, 1 between dots
    ink: F32 = np.clip((coverage - spot) * np.float32(period / 1.5) + 0.5, 0, 1).astype(np.float32)
    return ink


def _dither(coverage: F32, rng: np.random.Generator) -> F32:
    """Stochastic (inkjet-like) screening: a blue-ish noise threshold."""
    noise = rng.random(coverage.shape).astype(np.float32)
    noise = np.asarray(noise - 0.7 * cv2.GaussianBlur(noise, (0, 0), 1.5) + 0.35, dtype=np.float32)
    ink: F32 = np.clip((coverage - noise) * 4 + 0.5, 0, 1).astype(np.float32)
    return ink


def halftone(img: F32, rng: np.random.Generator, period: float | None) -> F32:
    """Print ``img`` (BGR 0..1) with CMYK screens of ``period`` camera pixels, or dithered when None."""
    h, w = img.shape[:2]
    big = cv2.resize(img, (w * SUPERSAMPLE, h * SUPERSAMPLE), interpolation=cv2.INTER_LINEAR)
    b, g, r = big[:, :, 0], big[:, :, 1], big[:, :, 2]
    c, m, y = 1 - r, 1 - g, 1 - b
    k = np.minimum(np.minimum(c, m), y) * rng.uniform(0.5, 0.9)
    scale = np.maximum(1 - k, 1e-3)
    inks = {
        name: np.asarray(v, dtype=np.float32)
        for name, v in {"c": (c - k) / scale, "m": (m - k) / scale, "y": (y - k) / scale, "k": k}.items()
    }
    dots = {
        name: (_screen(cov, period * SUPERSAMPLE, ANGLES[name], rng) if period else _dither(cov, rng))
        for name, cov in inks.items()
    }
    # subtractive mixing: each ink absorbs its complementary primary (not perfectly)
    red = (1 - 0.9 * dots["c"]) * (1 - 0.95 * dots["k"])
    green = (1 - 0.9 * dots["m"]) * (1 - 0.95 * dots["k"])
    blue = (1 - 0.85 * dots["y"]) * (1 - 0.95 * dots["k"])
    printed = np.stack([blue, green, red], axis=2).astype(np.float32)
    lens = float(rng.uniform(0.35, 0.8)) * SUPERSAMPLE  # the camera lens' blur, in fine samples
    printed = np.asarray(cv2.GaussianBlur(printed, (0, 0), lens), dtype=np.float32)
    out: F32 = np.asarray(cv2.resize(printed, (w, h), interpolation=cv2.INTER_AREA), dtype=np.float32)
    return out


def paper_texture(img: F32, rng: np.random.Generator) -> F32:
    h, w = img.shape[:2]
    coarse = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 12) * 6
    fibres = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)
    field = 1 + rng.uniform(0.01, 0.04) * coarse + rng.uniform(0.005, 0.02) * fibres
    out: F32 = (img * field[:, :, None]).astype(np.float32)
    return out


def gloss(img: F32, rng: np.random.Generator) -> F32:
    """A specular reflection of a light on glossy paper: a bright, desaturated, soft-edged blob."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), dtype=np.float32)
    centre = (int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h))
    axes = (int(rng.uniform(0.08, 0.3) * w), int(rng.uniform(0.05, 0.2) * h))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), max(axes) / 3 + 1), dtype=np.float32)
    strength = rng.uniform(0.15, 0.55)
    out: F32 = (img + strength * mask[:, :, None] * (1.0 - 0.5 * img)).astype(np.float32)
    return out


def printed_photo(img: F32, rng: np.random.Generator) -> tuple[F32, dict[str, str]]:
    """The print itself (no geometry): gamut, screening, texture, maybe gloss; returns the variant labels."""
    rate = str(rng.choice(["coarse", "medium", "fine", "inkjet"]))
    period = None if rate == "inkjet" else float(rng.uniform(*LINE_RATES[rate]))
    out = halftone(print_gamut(img, rng), rng, period)
    out = paper_texture(out, rng)
    finish = "glossy" if rng.random() < 0.4 else "matte"
    if finish == "glossy":
        out = gloss(out, rng)
    return out, {"line_rate": rate, "finish": finish}


def print_attack(face: F32, rng: np.random.Generator, scenery: F32 | None) -> tuple[F32, dict[str, str]]:
    """A printed selfie held in front of the camera: close-up (fills the frame) or held with edges showing."""
    printed, variant = printed_photo(face, rng)
    h, w = face.shape[:2]
    if rng.random() < 0.45:
        variant["framing"] = "close"
        return printed, variant
    margin = int(rng.uniform(0.02, 0.08) * w)
    sheet = cv2.copyMakeBorder(printed, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    paper = np.asarray(printed[:4, :4].reshape(-1, 3).max(axis=0), dtype=np.float32)  # the paper's white
    edge = np.ones(sheet.shape[:2], dtype=bool)
    edge[margin:-margin, margin:-margin] = False
    sheet[edge] = np.maximum(paper, 0.8)
    matrix = random_homography(rng, (sheet.shape[1], sheet.shape[0]), (w, h), rng.uniform(0.75, 0.98), 0.04)
    frame, alpha = place(np.asarray(sheet, dtype=np.float32), background(rng, (w, h), scenery), matrix)
    variant["framing"] = "held"
    if rng.random() < 0.6:
        frame = fingers(frame, alpha, rng)
        variant["framing"] = "held_fingers"
    return frame, variant
