"""Document templates: where each field, portrait, MRZ and barcode sits on a document, read from YAML.

The reader (``checks/document``) uses these files to find the fields it OCRs, and the generator
(``openidv.synth``) draws documents from the same files, so what is written and what is read never drift
apart. The spec lives in the product (``templates_data/``) because reading needs it; synth imports it from
here. Positions are millimetres from the top-left corner; ``px(mm, ppmm)`` turns them into pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

Box = tuple[float, float, float, float]  # x, y, width, height in millimetres
RGB = tuple[int, int, int]
#: month abbreviations as templates print them (``%b`` in ``viz_date_format``), locale-free
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True)
class FieldSpec:
    """One printed field: its data key, its printed label and the box its value is printed in."""

    key: str
    label: str
    box: Box


@dataclass(frozen=True)
class SideSpec:
    """One side of a document (``front`` or ``back``)."""

    name: str
    header_text: str
    header_box: Box
    header_size: float
    fields: tuple[FieldSpec, ...]
    portrait: Box | None = None
    ghost: Box | None = None
    mrz: Box | None = None
    barcode: Box | None = None
    microprint: tuple[Box, ...] = ()

    def field(self, key: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.key == key), None)


@dataclass(frozen=True)
class TemplateSpec:
    """A document design: issuer, format, size, colours and its sides."""

    id: str
    name: str
    document_type: str  # passport | id_card | driver_licence
    issuer: str
    issuer_name: str
    size_mm: tuple[float, float]
    number_pattern: str
    validity_years: int
    viz_date_format: str
    colors: dict[str, Any]
    sides: dict[str, SideSpec]
    document_code: str | None = None
    mrz_format: str | None = None
    country: str | None = None
    iin: str | None = None
    aamva_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def aspect(self) -> float:
        return self.size_mm[0] / self.size_mm[1]

    def color(self, key: str) -> RGB:
        r, g, b = self.colors[key]
        return (int(r), int(g), int(b))

    def palette(self, key: str) -> list[RGB]:
        return [(int(c[0]), int(c[1]), int(c[2])) for c in self.colors[key]]


def px(value_mm: float, ppmm: float) -> int:
    return round(value_mm * ppmm)


def box_px(box: Box, ppmm: float) -> tuple[int, int, int, int]:
    """A millimetre box as integer pixel ``(x0, y0, x1, y1)``."""
    x, y, w, h = box
    return px(x, ppmm), px(y, ppmm), px(x + w, ppmm), px(y + h, ppmm)


def value_box(box: Box) -> Box:
    """Where a field's value (not its label) is printed inside the field box."""
    x, y, w, h = box
    return (x, y + 0.30 * h, w, 0.62 * h)


def _box(raw: Any) -> Box:
    x, y, w, h = (float(v) for v in raw)
    return (x, y, w, h)


def _side(name: str, raw: dict[str, Any]) -> SideSpec:
    header = raw.get("header") or {"text": "", "box": [0, 0, 0, 0], "size": 3.0}
    return SideSpec(
        name=name,
        header_text=str(header["text"]),
        header_box=_box(header["box"]),
        header_size=float(header.get("size", 3.0)),
        fields=tuple(
            FieldSpec(str(f["key"]), str(f.get("label", "")), _box(f["box"])) for f in raw.get("fields") or []
        ),
        portrait=_box(raw["portrait"]) if raw.get("portrait") else None,
        ghost=_box(raw["ghost"]) if raw.get("ghost") else None,
        mrz=_box(raw["mrz"]) if raw.get("mrz") else None,
        barcode=_box(raw["barcode"]) if raw.get("barcode") else None,
        microprint=tuple(_box(b) for b in raw.get("microprint") or []),
    )


def parse_template(raw: dict[str, Any]) -> TemplateSpec:
    known = {
        "id",
        "name",
        "document_type",
        "issuer",
        "issuer_name",
        "size_mm",
        "number_pattern",
        "validity_years",
        "viz_date_format",
        "colors",
        "sides",
        "document_code",
        "mrz_format",
        "country",
        "iin",
        "aamva_version",
    }
    width, height = (float(v) for v in raw["size_mm"])
    return TemplateSpec(
        id=str(raw["id"]),
        name=str(raw["name"]),
        document_type=str(raw["document_type"]),
        issuer=str(raw["issuer"]),
        issuer_name=str(raw["issuer_name"]),
        size_mm=(width, height),
        number_pattern=str(raw["number_pattern"]),
        validity_years=int(raw["validity_years"]),
        viz_date_format=str(raw["viz_date_format"]),
        colors=dict(raw["colors"]),
        sides={name: _side(name, side) for name, side in raw["sides"].items()},
        document_code=raw.get("document_code"),
        mrz_format=raw.get("mrz_format"),
        country=raw.get("country"),
        iin=str(raw["iin"]) if raw.get("iin") else None,
        aamva_version=int(raw["aamva_version"]) if raw.get("aamva_version") else None,
        extra={k: v for k, v in raw.items() if k not in known},
    )


@functools.cache
def load_templates() -> dict[str, TemplateSpec]:
    """Every template shipped in ``openidv/checks/document/templates_data``, by id."""
    folder = resources.files("openidv.checks.document").joinpath("templates_data")
    out: dict[str, TemplateSpec] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            spec = parse_template(yaml.safe_load(entry.read_text(encoding="utf-8")))
            out[spec.id] = spec
    return out


def get_template(template_id: str) -> TemplateSpec:
    templates = load_templates()
    if template_id not in templates:
        raise KeyError(f"unknown document template {template_id!r}; known: {', '.join(templates)}")
    return templates[template_id]
