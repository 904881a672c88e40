"""A whole document (every side) from a template, the holder's data and a portrait."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image

from openidv.checks.document.aamva import QUIRKS, compose_aamva
from openidv.checks.document.specimen.holder import DocumentData, aamva_elements, mrz_text, printed_values
from openidv.checks.document.specimen.render import RenderedSide, render_side
from openidv.checks.document.template_spec import TemplateSpec


@dataclass(frozen=True)
class Contents:
    """What goes on the document: printed values, MRZ and barcode payload (forgeries change these)."""

    printed: dict[str, str]
    mrz: str | None
    barcode_payload: str | None


def barcode_payload(data: DocumentData, spec: TemplateSpec) -> str | None:
    if spec.iin is None:
        return None
    quirks = QUIRKS.get(spec.iin)
    order = quirks.date_order if quirks else ("CCYYMMDD" if spec.country == "CAN" else "MMDDCCYY")
    return compose_aamva(spec.iin, aamva_elements(data, spec, order), version=spec.aamva_version or 10)


def contents_of(data: DocumentData, spec: TemplateSpec) -> Contents:
    """The genuine contents: every source says the same thing."""
    return Contents(printed_values(data, spec), mrz_text(data, spec), barcode_payload(data, spec))


def render_document(
    spec: TemplateSpec,
    contents: Contents,
    portrait: Image.Image,
    rng: random.Random,
    *,
    security_features: bool = True,
) -> dict[str, RenderedSide]:
    """Every side of the document, keyed ``front`` / ``back``."""
    sides = {}
    for name, side in spec.sides.items():
        keys = {f.key for f in side.fields}
        printed = {k: v for k, v in contents.printed.items() if k in keys}
        sides[name] = render_side(
            spec,
            name,
            printed,
            portrait,
            rng,
            mrz=contents.mrz if side.mrz else None,
            barcode_payload=contents.barcode_payload if side.barcode else None,
            security_features=security_features,
        )
    return sides
