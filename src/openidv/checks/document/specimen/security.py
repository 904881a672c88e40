"""Procedural security printing: guilloche rosettes and waves, rainbow (split-fountain) tint, microprint lines
and the ghost portrait. Each is seeded and drawn at the document's resolution.

These imitate the *look* of security features well enough for a detector to learn whether they are there;
they are not a model of any real issuer's security design.
"""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from openidv.checks.document.specimen.fonts import font
from openidv.checks.document.template_spec import RGB, Box, box_px

UInt8Array = npt.NDArray[np.uint8]


def rainbow_tint(width: int, height: int, stops: list[RGB], paper: RGB) -> Image.Image:
    """A smooth left-to-right blend through ``stops`` (split-fountain printing), mixed with the paper."""
    xs = np.linspace(0, len(stops) - 1, width)
    colours = np.asarray(stops, dtype=np.float32)
    lo = np.floor(xs).astype(int).clip(0, len(stops) - 1)
    hi = np.minimum(lo + 1, len(stops) - 1)
    t = (xs - lo)[:, None]
    row = colours[lo] * (1 - t) + colours[hi] * t
    row = 0.55 * row + 0.45 * np.asarray(paper, dtype=np.float32)
    yy = np.linspace(0, 1, height)[:, None, None]
    shade = 1.0 - 0.04 * np.sin(yy * math.pi)  # a faint vertical variation, as real tints have
    arr = np.clip(row[None, :, :] * shade, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def draw_guilloche(img: Image.Image, palette: list[RGB], rng: random.Random, *, density: float = 1.0) -> None:
    """Overlapping hypotrochoid rosettes and sine-wave bands in thin lines."""
    width, height = img.size
    draw = ImageDraw.Draw(img, "RGBA")
    line = max(1, round(width / 900))
    for _ in range(max(1, round(3 * density))):
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.15, 0.85) * height
        big_r = rng.uniform(0.18, 0.32) * height
        small_r = big_r * rng.uniform(0.15, 0.45)
        d = small_r * rng.uniform(0.6, 1.4)
        colour = (*rng.choice(palette), 110)
        t = np.linspace(0, 2 * math.pi * 23, 9000)
        k = (big_r - small_r) / small_r
        x = cx + (big_r - small_r) * np.cos(t) + d * np.cos(k * t)
        y = cy + (big_r - small_r) * np.sin(t) - d * np.sin(k * t)
        draw.line(list(zip(x.tolist(), y.tolist(), strict=True)), fill=colour, width=line)
    waves = max(1, round(26 * density))
    xs = np.linspace(0, width, 700)
    phase, freq = rng.uniform(0, 6.28), rng.uniform(2.5, 5.0)
    for i in range(waves):
        base = height * (i + 0.5) / waves
        amp = height * rng.uniform(0.02, 0.05)
        ys = base + amp * np.sin(xs / width * freq * 2 * math.pi + phase + i * 0.35)
        ys += 0.4 * amp * np.sin(xs / width * freq * 5.1 * math.pi + i)
        colour = (*palette[i % len(palette)], 80)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=line)


def draw_microprint(img: Image.Image, band: Box, ppmm: float, text: str, colour: RGB) -> None:
    """A line of tiny repeated text (legible under a loupe, a grey line to a copier)."""
    x0, y0, x1, y1 = box_px(band, ppmm)
    size = max(5, y1 - y0)
    f = font("sans", size)
    unit = f"{text} " * 4
    unit_w = max(1.0, f.getlength(unit))
    draw = ImageDraw.Draw(img)
    x = float(x0)
    while x < x1:
        draw.text((x, y0), unit, font=f, fill=colour)
        x += unit_w


def ghost_image(portrait: Image.Image, size: tuple[int, int], tint: RGB) -> Image.Image:
    """A faded, tinted, grey copy of the portrait (the ghost image), with an alpha channel for blending."""
    grey = portrait.convert("L").resize(size, Image.Resampling.LANCZOS).filter(ImageFilter.SMOOTH)
    arr = np.asarray(grey, dtype=np.float32) / 255.0
    alpha = np.clip((1.0 - arr) * 0.55 + 0.1, 0, 0.6)
    rgba = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(tint, dtype=np.uint8)
    rgba[..., 3] = (alpha * 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")
