"""Recognise which known template (and which side) a rectified document is.

Each template side gets a reference thumbnail: the mean of a few seeded renderings with different holders,
so the layout, colours, header band, portrait, MRZ and barcode blocks dominate and the personal data blurs
out. A document is compared with every reference of its size family in CIELAB; the nearest wins, and the
distance and the margin to the runner-up say how sure that is. Templates are the YAML files of
``template_spec`` (``templates_data/``), the same ones the generator draws, so adding a template teaches
both; the references are rendered by ``specimen``.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.document.template_spec import TemplateSpec, load_templates

FloatArray = npt.NDArray[np.float64]
UInt8Array = npt.NDArray[np.uint8]
THUMB = (48, 30)
REFERENCE_RENDERS = 2


@dataclass(frozen=True)
class TemplateMatch:
    template_id: str | None
    side: str | None
    distance: float
    margin: float
    ranking: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "template": self.template_id,
            "side": self.side,
            "distance": round(self.distance, 3),
            "margin": round(self.margin, 3),
            "ranking": [[name, round(d, 3)] for name, d in self.ranking[:4]],
        }


def family_of(spec: TemplateSpec) -> str:
    return "td3" if spec.aspect < 1.5 else "id1"


def thumbnail(bgr: UInt8Array) -> FloatArray:
    small = cv2.resize(cv2.GaussianBlur(bgr, (0, 0), 2), THUMB, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float64)


@functools.cache
def references() -> dict[tuple[str, str], FloatArray]:
    """Reference thumbnails per (template id, side), rendered once per process (about a second)."""
    from PIL import Image

    from openidv.checks.document.specimen.document import contents_of, render_document
    from openidv.checks.document.specimen.holder import random_document

    refs: dict[tuple[str, str], FloatArray] = {}
    for spec in load_templates().values():
        acc: dict[str, list[FloatArray]] = {}
        for k in range(REFERENCE_RENDERS):
            rng = random.Random(f"template-reference:{spec.id}:{k}")
            data = random_document(spec, rng, date(2026, 1, 1))
            tone = 90 + 60 * k
            portrait = Image.new("RGB", (350, 450), (tone + 40, tone, tone - 20))
            for side, rendered in render_document(spec, contents_of(data, spec), portrait, rng).items():
                acc.setdefault(side, []).append(thumbnail(np.ascontiguousarray(rendered.array()[:, :, ::-1])))
        for side, thumbs in acc.items():
            refs[(spec.id, side)] = np.mean(thumbs, axis=0)
    return refs


def recognise(bgr: UInt8Array, family: str) -> TemplateMatch:
    """The nearest template side of ``family`` (``id1`` or ``td3``); mean absolute CIELAB distance."""
    thumb = thumbnail(bgr)
    # compare shapes of light, not exposure: photos are darker or brighter than renderings
    thumb[..., 0] += 128.0 - float(np.median(thumb[..., 0]))
    specs = load_templates()
    scored = []
    for (tid, side), ref in references().items():
        if family_of(specs[tid]) != family:
            continue
        r = ref.copy()
        r[..., 0] += 128.0 - float(np.median(r[..., 0]))
        scored.append((f"{tid}/{side}", float(np.abs(thumb - r).mean())))
    if not scored:
        return TemplateMatch(None, None, float("inf"), 0.0)
    scored.sort(key=lambda item: item[1])
    best, distance = scored[0]
    margin = scored[1][1] - distance if len(scored) > 1 else distance
    tid, _, side = best.partition("/")
    return TemplateMatch(tid, side, distance, margin, tuple(scored))


def claimed_template(
    mrz_fields: dict[str, str] | None, mrz_format: str | None, iin: str | None
) -> str | None:
    """The template a document claims to be: by its MRZ issuer, code and format, or its barcode's IIN."""
    for spec in load_templates().values():
        if iin and spec.iin == iin:
            return spec.id
        if mrz_fields and spec.mrz_format == mrz_format and spec.issuer == mrz_fields.get("issuer"):
            code = mrz_fields.get("document_code", "")
            if spec.document_code and code[:1] == spec.document_code[:1]:
                return spec.id
    return None
