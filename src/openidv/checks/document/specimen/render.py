"""Draws one side of a document from its template, its data and a portrait.

The result carries the pixels and where each element was drawn (pixel boxes), which the data set writes as
ground truth. Forgeries call this with altered inputs (other printed values, another MRZ or barcode payload,
security features off) or edit its output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from openidv.checks.document.specimen import security
from openidv.checks.document.specimen.fonts import font
from openidv.checks.document.template_spec import Box, SideSpec, TemplateSpec, box_px, px, value_box

UInt8Array = npt.NDArray[np.uint8]
PPMM = 12.0  # pixels per millimetre (about 300 dpi)
MONO_ADVANCE = 0.602  # DejaVu Sans Mono / OCR-B advance width per em


@dataclass
class RenderedSide:
    """An RGB rendering of one side and the pixel boxes ``(x0, y0, x1, y1)`` of what was drawn."""

    template_id: str
    side: str
    image: Image.Image
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)
    mrz: str | None = None
    barcode_payload: str | None = None

    def array(self) -> UInt8Array:
        return np.asarray(self.image.convert("RGB"), dtype=np.uint8)


def render_side(
    spec: TemplateSpec,
    side_name: str,
    printed: dict[str, str],
    portrait: Image.Image | None,
    rng: random.Random,
    *,
    mrz: str | None = None,
    barcode_payload: str | None = None,
    security_features: bool = True,
    ppmm: float = PPMM,
) -> RenderedSide:
    side = spec.sides[side_name]
    size = (px(spec.size_mm[0], ppmm), px(spec.size_mm[1], ppmm))
    paper = spec.color("paper")
    if security_features:
        img = security.rainbow_tint(size[0], size[1], spec.palette("rainbow"), paper)
        security.draw_guilloche(img, spec.palette("guilloche"), rng)
    else:
        img = Image.new("RGB", size, paper)
    out = RenderedSide(
        spec.id, side_name, img, printed=dict(printed), mrz=mrz, barcode_payload=barcode_payload
    )
    _header(img, side, spec, ppmm)
    if security_features:
        for band in side.microprint:
            security.draw_microprint(img, band, ppmm, spec.issuer_name, spec.color("microprint"))
    if side.portrait and portrait is not None:
        out.boxes["portrait"] = _paste_portrait(img, portrait, side.portrait, ppmm)
    if side.ghost and portrait is not None and security_features:
        x0, y0, x1, y1 = box_px(side.ghost, ppmm)
        ghost = security.ghost_image(portrait, (x1 - x0, y1 - y0), spec.color("label"))
        img.paste(ghost, (x0, y0), ghost)
        out.boxes["ghost"] = (x0, y0, x1, y1)
    for f in side.fields:
        if f.key in printed:
            out.boxes[f"field:{f.key}"] = _field(img, f.label, printed[f.key], f.box, spec, ppmm)
    if side.mrz and mrz:
        out.boxes["mrz"] = draw_mrz(img, mrz, side.mrz, ppmm)
    if side.barcode and barcode_payload:
        out.boxes["barcode"] = draw_pdf417(img, barcode_payload, side.barcode, ppmm)
    return out


def _header(img: Image.Image, side: SideSpec, spec: TemplateSpec, ppmm: float) -> None:
    if not side.header_text:
        return
    x0, y0, x1, y1 = box_px(side.header_box, ppmm)
    draw = ImageDraw.Draw(img)
    draw.rectangle((x0, y0, x1, y1), fill=spec.color("header"))
    f = font("serif-bold", px(side.header_size, ppmm))
    tw = f.getlength(side.header_text)
    draw.text(
        ((x0 + x1 - tw) / 2, y0 + (y1 - y0 - f.size) / 2 - 1),
        side.header_text,
        font=f,
        fill=spec.color("header_text"),
    )


def _paste_portrait(
    img: Image.Image, portrait: Image.Image, box: Box, ppmm: float
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box_px(box, ppmm)
    img.paste(portrait.convert("RGB").resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0))
    return (x0, y0, x1, y1)


def _field(
    img: Image.Image, label: str, value: str, box: Box, spec: TemplateSpec, ppmm: float
) -> tuple[int, int, int, int]:
    x, y, _w, h = box
    draw = ImageDraw.Draw(img)
    label_font = font("sans", max(6, px(h * 0.22, ppmm)))
    draw.text((px(x, ppmm), px(y, ppmm)), label, font=label_font, fill=spec.color("label"))
    return draw_value(img, value, value_box(box), spec.color("text"), ppmm)


def draw_value(
    img: Image.Image,
    value: str,
    box: Box,
    colour: tuple[int, int, int],
    ppmm: float,
    *,
    size_scale: float = 1.0,
) -> tuple[int, int, int, int]:
    """Print a field value in its box (shrinking the font to fit), returning the inked box in pixels."""
    x0, y0, x1, y1 = box_px(box, ppmm)
    size = max(8, int((y1 - y0) * 0.72 * size_scale))
    f = font("sans-bold", size)
    while size > 8 and f.getlength(value) > (x1 - x0):
        size -= 1
        f = font("sans-bold", size)
    draw = ImageDraw.Draw(img)
    draw.text((x0, y0 + ((y1 - y0) - size) // 2), value, font=f, fill=colour)
    return (x0, y0, x1, y1)


def draw_mrz(img: Image.Image, mrz: str, box: Box, ppmm: float) -> tuple[int, int, int, int]:
    """The MRZ lines, monospaced, filling the MRZ box's width (ICAO pitch is about 2.54 mm)."""
    x0, y0, x1, y1 = box_px(box, ppmm)
    lines = mrz.split("\n")
    chars = max(len(line) for line in lines)
    size = int((x1 - x0) / (chars * MONO_ADVANCE))
    f = font("mrz", size)
    draw = ImageDraw.Draw(img)
    pitch = (y1 - y0) / len(lines)
    for i, line in enumerate(lines):
        draw.text((x0, y0 + i * pitch + (pitch - size) / 2), line, font=f, fill=(12, 12, 16))
    return (x0, y0, x1, y1)


def draw_pdf417(img: Image.Image, payload: str, box: Box, ppmm: float) -> tuple[int, int, int, int]:
    """A PDF417 symbol (pdf417gen) scaled into the barcode box on a white field."""
    from pdf417gen import encode, render_image  # type: ignore[import-untyped]

    x0, y0, x1, y1 = box_px(box, ppmm)
    codes = encode(payload, columns=13, security_level=5, encoding="latin-1")
    symbol = render_image(codes, scale=2, ratio=3, padding=6).convert("RGB")
    sw, sh = symbol.size
    k = min((x1 - x0) / sw, (y1 - y0) / sh)
    w, h = int(sw * k), int(sh * k)
    resized = symbol.resize((w, h), Image.Resampling.NEAREST)
    ox, oy = x0 + (x1 - x0 - w) // 2, y0 + (y1 - y0 - h) // 2
    img.paste(resized, (ox, oy))
    return (ox, oy, ox + w, oy + h)
