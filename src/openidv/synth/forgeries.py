"""Forgeries of synthetic documents, one function per species, each labelled with what it changed.

Species and what they imitate:

* ``portrait_substitution``: another person's photo glued over the portrait (the ghost image still shows the
  original holder; the patch has its own colour, edge and compression history).
* ``edited_text``: a printed value (date, name or number) painted over and retyped in a near-identical font;
  the MRZ and barcode still hold the original.
* ``mrz_viz_mismatch``: a counterfeit printed whole, whose MRZ (check digits correct) encodes other data than
  the printed zone.
* ``barcode_mismatch``: a licence whose PDF417 encodes other data than the front.
* ``copy_move``: a block of the document copied onto another place of the same document.
* ``screen_recapture``: the document shown on a screen and photographed (pixel grid, gamma, bezel).
* ``print_scan``: a colour print or photocopy of the document (halftone, lost saturation and fine detail).
* ``missing_security``: a counterfeit without guilloche, rainbow tint, microprint and ghost image.
* ``photocopy`` (capture species only, not in ``SPECIES``): a black-and-white office copy (grey, hard
  contrast, toner speckle, lost fine detail).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from openidv.checks.document.specimen.document import Contents, barcode_payload, render_document
from openidv.checks.document.specimen.holder import SURNAMES, DocumentData, mrz_text, printed_values
from openidv.checks.document.specimen.render import PPMM, RenderedSide, draw_value
from openidv.checks.document.template_spec import TemplateSpec, box_px, value_box

UInt8Array = npt.NDArray[Any]  # OpenCV's stubs type every array loosely
FloatArray = npt.NDArray[Any]
SPECIES = (
    "portrait_substitution",
    "edited_text",
    "mrz_viz_mismatch",
    "barcode_mismatch",
    "copy_move",
    "screen_recapture",
    "print_scan",
    "missing_security",
)
#: species that change only how the document reached the camera (the template-free capture check's classes)
CAPTURE_SPECIES = ("screen_recapture", "print_scan", "photocopy")


@dataclass
class Forged:
    """The forged sides, optional replacement pixels to photograph per side, and what was changed."""

    sides: dict[str, RenderedSide]
    photos: dict[str, UInt8Array] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def _altered(data: DocumentData, rng: random.Random, choice: str | None = None) -> tuple[DocumentData, str]:
    """The same holder with one fact changed (what a forger changes: age, validity, name or number);
    ``choice`` names the fact, else one is drawn."""
    choice = choice or rng.choice(("birth_date", "expiry_date", "surname", "document_number"))
    if choice == "birth_date":
        days = 365 * rng.randint(3, 12) + rng.randint(1, 200)
        return data.replace(birth_date=data.birth_date - timedelta(days=days)), choice
    if choice == "expiry_date":
        return data.replace(expiry_date=data.expiry_date + timedelta(days=365 * rng.randint(2, 6))), choice
    if choice == "surname":
        return data.replace(surname=rng.choice([s for s in SURNAMES if s != data.surname])), choice
    digits = list(data.document_number)
    positions = [i for i, ch in enumerate(digits) if ch.isdigit()]
    for i in rng.sample(positions, min(2, len(positions))):
        digits[i] = str((int(digits[i]) + rng.randint(1, 9)) % 10)
    return data.replace(document_number="".join(digits)), choice


def _front_field(spec: TemplateSpec, rng: random.Random, keys: tuple[str, ...]) -> str:
    present = [f.key for f in spec.sides["front"].fields if f.key in keys]
    return rng.choice(present)


def _jpeg_roundtrip(arr: UInt8Array, quality: int) -> UInt8Array:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8)


def portrait_substitution(
    spec: TemplateSpec, contents: Contents, portrait: Image.Image, other: Image.Image, rng: random.Random
) -> Forged:
    sides = render_document(spec, contents, portrait, rng)
    front = sides["front"]
    x0, y0, x1, y1 = front.boxes["portrait"]
    grow = rng.randint(0, 6)
    x0, y0, x1, y1 = x0 - grow, y0 - grow, x1 + grow, y1 + grow
    patch = np.asarray(
        other.convert("RGB").resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), dtype=np.float64
    )
    cast = np.array([rng.uniform(0.9, 1.1), rng.uniform(0.92, 1.06), rng.uniform(0.88, 1.1)])
    patch = np.clip(patch * cast + rng.uniform(-12, 12), 0, 255).astype(np.uint8)
    patch = _jpeg_roundtrip(patch, rng.randint(55, 80))
    arr = front.array().copy()
    arr[y0:y1, x0:x1] = patch
    front.image = Image.fromarray(arr)
    return Forged(sides, detail={"replaced": "portrait", "box": [x0, y0, x1, y1]})


def edited_text(
    spec: TemplateSpec, data: DocumentData, contents: Contents, portrait: Image.Image, rng: random.Random
) -> Forged:
    sides = render_document(spec, contents, portrait, rng)
    front = sides["front"]
    key = _front_field(spec, rng, ("birth_date", "expiry_date", "surname", "document_number"))
    changed, _ = _altered(data, rng, key)
    new_value = printed_values(changed, spec)[key]
    field_spec = spec.sides["front"].field(key)
    assert field_spec is not None
    vb = value_box(field_spec.box)
    x0, y0, x1, y1 = box_px(vb, PPMM)
    arr = front.array().copy()
    region = arr[y0:y1, x0:x1].astype(np.float64)
    light = region.reshape(-1, 3)[region.reshape(-1, 3).sum(axis=1) > np.percentile(region.sum(axis=2), 60)]
    fill = np.median(light, axis=0) if len(light) else np.array(spec.color("paper"))
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 2.0, region.shape)
    arr[y0:y1, x0:x1] = np.clip(fill + noise, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    text = tuple(int(np.clip(c + rng.randint(-25, 25), 0, 255)) for c in spec.color("text"))
    draw_value(img, new_value, vb, (text[0], text[1], text[2]), PPMM, size_scale=rng.uniform(0.9, 1.05))
    front.image = img
    front.printed[key] = new_value
    return Forged(
        sides, detail={"field": key, "old": contents.printed[key], "new": new_value, "box": [x0, y0, x1, y1]}
    )


def mrz_viz_mismatch(
    spec: TemplateSpec, data: DocumentData, contents: Contents, portrait: Image.Image, rng: random.Random
) -> Forged:
    changed, what = _altered(data, rng)
    forged = Contents(contents.printed, mrz_text(changed, spec), contents.barcode_payload)
    return Forged(render_document(spec, forged, portrait, rng), detail={"mrz_changed": what})


def barcode_mismatch(
    spec: TemplateSpec, data: DocumentData, contents: Contents, portrait: Image.Image, rng: random.Random
) -> Forged:
    changed, what = _altered(data, rng)
    forged = Contents(contents.printed, contents.mrz, barcode_payload(changed, spec))
    return Forged(render_document(spec, forged, portrait, rng), detail={"barcode_changed": what})


def copy_move(spec: TemplateSpec, contents: Contents, portrait: Image.Image, rng: random.Random) -> Forged:
    """Copy one printed value (with the background under it) over another field of the same document:
    the forger reuses genuine ink, e.g. the issue date's digits over the expiry date."""
    sides = render_document(spec, contents, portrait, rng)
    front = sides["front"]
    arr = front.array().copy()
    fields = [
        f
        for f in spec.sides["front"].fields
        if f.key in contents.printed and len(contents.printed[f.key]) >= 3
    ]
    source, target = rng.sample(fields, 2)
    sx0, sy0, sx1, sy1 = box_px(value_box(source.box), PPMM)
    tx0, ty0, tx1, ty1 = box_px(value_box(target.box), PPMM)
    w, h = min(sx1 - sx0, tx1 - tx0), min(sy1 - sy0, ty1 - ty0)
    arr[ty0 : ty0 + h, tx0 : tx0 + w] = arr[sy0 : sy0 + h, sx0 : sx0 + w].copy()
    front.image = Image.fromarray(arr)
    front.printed[target.key] = contents.printed[source.key]
    return Forged(
        sides,
        detail={
            "source": [sx0, sy0, sx0 + w, sy0 + h],
            "target": [tx0, ty0, tx0 + w, ty0 + h],
            "from_field": source.key,
            "to_field": target.key,
        },
    )


def screen_display(doc: UInt8Array, rng: random.Random) -> UInt8Array:
    """The document as a phone or monitor shows it: RGB sub-pixel stripes, gamma and blue cast, bezel."""
    pitch = rng.choice((3, 4))
    h, w = doc.shape[:2]
    img = doc.astype(np.float64) / 255.0
    img = img ** rng.uniform(0.7, 0.9)  # displays are brighter in the mid-tones than paper
    img = img * np.array([0.94, 0.98, 1.06])
    cols = np.arange(w) % pitch
    stripes = np.zeros((w, 3))
    for c in range(3):
        stripes[:, c] = np.where(cols == c % pitch, 1.0, 0.35)
    rows = np.where(np.arange(h) % pitch == pitch - 1, 0.55, 1.0)
    img = img * stripes[None, :, :] * rows[:, None, None] * 1.35
    out = np.clip(img * 255, 0, 255).astype(np.uint8)
    bezel = int(0.06 * min(h, w))
    framed = np.full((h + 2 * bezel, w + 2 * bezel, 3), 14, np.uint8)
    framed[bezel : bezel + h, bezel : bezel + w] = out
    return framed


def print_scan(doc: UInt8Array, rng: random.Random) -> UInt8Array:
    """A colour laser print or photocopy: halftone screens, lost saturation and detail, lifted blacks."""
    img = doc.astype(np.float64) / 255.0
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.35, 0.7)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.3))
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    period = rng.uniform(3.2, 4.5)
    out = np.empty_like(img)
    for c, angle in enumerate((15, 75, 0)):
        a = np.radians(angle)
        u = (xx * np.cos(a) + yy * np.sin(a)) / period
        v = (-xx * np.sin(a) + yy * np.cos(a)) / period
        screen = 0.5 + 0.25 * (np.cos(2 * np.pi * u) + np.cos(2 * np.pi * v))
        out[:, :, c] = (img[:, :, c] > screen * 0.9 + 0.05).astype(np.float64) * 0.85 + img[:, :, c] * 0.15
    out = cv2.GaussianBlur(out, (0, 0), 0.7)
    out = 0.1 + 0.88 * out  # toner never reaches paper's black or white
    return np.asarray(np.clip(out * 255, 0, 255), dtype=np.uint8)


def photocopy(doc: UInt8Array, rng: random.Random) -> UInt8Array:
    """A black-and-white office copy: grey, steep tone curve (light tints vanish, dark text fills in), toner
    speckle, a soft scan blur and a paper-white background."""
    grey: FloatArray = cv2.GaussianBlur(
        cv2.cvtColor(doc, cv2.COLOR_BGR2GRAY).astype(np.float64) / 255.0, (0, 0), rng.uniform(0.6, 1.2)
    )
    mid, steep = rng.uniform(0.45, 0.6), rng.uniform(6.0, 12.0)
    toned = 1.0 / (1.0 + np.exp(-steep * (grey - mid)))
    nprng = np.random.default_rng(rng.randrange(2**32))
    speckle = (nprng.random(grey.shape) < rng.uniform(0.0005, 0.003)).astype(np.float64)
    toned = np.minimum(toned, 1.0 - 0.8 * cv2.GaussianBlur(speckle, (0, 0), 0.7) * 4)
    paper = rng.uniform(0.9, 0.98)
    out = 0.08 + (paper - 0.08) * np.clip(toned, 0, 1)
    tint = np.array([rng.uniform(0.97, 1.0), 1.0, rng.uniform(0.99, 1.02)])  # copier paper is near-neutral
    return np.asarray(np.clip(out[:, :, None] * tint * 255, 0, 255), dtype=np.uint8)


#: how each capture species turns the rendered page into what the camera sees
CAPTURE_MEDIA = {"screen_recapture": screen_display, "print_scan": print_scan, "photocopy": photocopy}


def forge(
    species: str,
    spec: TemplateSpec,
    data: DocumentData,
    contents: Contents,
    portrait: Image.Image,
    rng: random.Random,
    nprng: np.random.Generator,
    *,
    other_portrait: Image.Image,
) -> Forged:
    """Make one forgery of ``species`` (see the module docstring)."""
    if species == "portrait_substitution":
        forged = portrait_substitution(spec, contents, portrait, other_portrait, rng)
    elif species == "edited_text":
        forged = edited_text(spec, data, contents, portrait, rng)
    elif species == "mrz_viz_mismatch":
        forged = mrz_viz_mismatch(spec, data, contents, portrait, rng)
    elif species == "barcode_mismatch":
        forged = barcode_mismatch(spec, data, contents, portrait, rng)
    elif species == "copy_move":
        forged = copy_move(spec, contents, portrait, rng)
    elif species == "missing_security":
        forged = Forged(
            render_document(spec, contents, portrait, rng, security_features=False), detail={"removed": "all"}
        )
    elif species in CAPTURE_MEDIA:
        sides = render_document(spec, contents, portrait, rng)
        make = CAPTURE_MEDIA[species]
        forged = Forged(sides, photos={name: make(side.array(), rng) for name, side in sides.items()})
    else:
        raise ValueError(f"unknown forgery species {species!r}; use one of {', '.join(SPECIES)}")
    forged.detail["species"] = species
    return forged
