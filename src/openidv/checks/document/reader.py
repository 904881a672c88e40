"""Read a document photo end to end: locate, rectify, recognise the template, read MRZ, barcode and fields.

``read_document`` is what the document checks share: it is computed once per request and kept on the front
``Image`` (checks of one verification run concurrently on the same evidence). Every stage is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from openidv.checks.document.barcode import BarcodeRead, barcode_views, decode_pdf417
from openidv.checks.document.localize import PPMM, Located, find_document, rectify, turned
from openidv.checks.document.mrz_finder import MrzFinding, find_mrz
from openidv.checks.document.mrz_ocr import MrzRead, read_mrz_zone, tesseract_available
from openidv.checks.document.ocr_fields import PrintedField, read_fields
from openidv.checks.document.params import DEFAULT_MAX_TEMPLATE_DISTANCE, ReaderParams
from openidv.checks.document.template_spec import TemplateSpec, box_px, get_template
from openidv.checks.document.templates import TemplateMatch, claimed_template, family_of, recognise
from openidv.checks.document.viz_reader import read_viz
from openidv.imageio import Image

UInt8Array = npt.NDArray[np.uint8]
T = TypeVar("T")
READER_VERSION = "1.0.0"
# DEFAULT_MAX_TEMPLATE_DISTANCE (params.py): above it a photo holds "no known document". A photo taken whole
# (no document outline found) must be twice as close: a scan is clean, and any picture has a document's shape.


@dataclass
class SideReading:
    """One photo: where the document is, which template side it is, and its printed fields."""

    photo: Image
    located: Located | None
    match: TemplateMatch | None
    fields: dict[str, PrintedField] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.located is not None and self.match is not None and self.match.template_id is not None

    @property
    def spec(self) -> TemplateSpec | None:
        return get_template(self.match.template_id) if self.match and self.match.template_id else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "located": self.located.to_dict() if self.located else None,
            "template": self.match.to_dict() if self.match else None,
            "fields": {k: v.to_dict() for k, v in self.fields.items()},
        }


@dataclass
class DocumentReading:
    """Everything read from one document (one or two photos)."""

    sides: dict[str, SideReading]  # by template side: front / back (a lone unrecognised photo is "front")
    template_id: str | None
    mrz: MrzRead | None = None
    mrz_expected: bool = False
    barcode: BarcodeRead | None = None
    barcode_expected: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    as_of: date = field(default_factory=date.today)
    #: where a template-free search found the MRZ (any design; ``mrz_finder``), when it was used
    mrz_finding: MrzFinding | None = None
    mrz_side: str | None = None

    @property
    def found(self) -> bool:
        """A document is there: a known template was recognised, or an MRZ zone was found (any design)."""
        return any(s.found for s in self.sides.values()) or self.mrz_finding is not None

    @property
    def template_known(self) -> bool:
        return self.template_id is not None

    @property
    def spec(self) -> TemplateSpec | None:
        return get_template(self.template_id) if self.template_id else None

    def printed(self) -> dict[str, PrintedField]:
        out: dict[str, PrintedField] = {}
        for side in self.sides.values():
            out.update(side.fields)
        return out

    def _mrz_fields(self) -> dict[str, str] | None:
        """The MRZ's fields with its dates as ISO dates (century resolved), comparable with the others."""
        if self.mrz is None or not self.mrz.result.readable:
            return None
        res = self.mrz.result
        fields = dict(res.fields)
        if res.birth_date:
            fields["birth_date"] = res.birth_date.isoformat()
        if res.expiry_date:
            fields["expiry_date"] = res.expiry_date.isoformat()
        return fields

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template_id,
            "template_known": self.template_known,
            "sides": {name: s.to_dict() for name, s in self.sides.items()},
            "mrz": self.mrz.to_dict() if self.mrz else None,
            "mrz_location": (
                {**self.mrz_finding.location(), "side": self.mrz_side} if self.mrz_finding else None
            ),
            "mrz_fields": self._mrz_fields(),
            "barcode": self.barcode.to_dict() if self.barcode else None,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def run(self, stage: str, func: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return func()
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - start) * 1000


def locate_side(photo: Image, max_distance: float = DEFAULT_MAX_TEMPLATE_DISTANCE) -> SideReading:
    """Find the document and pick the family and orientation whose best template fits best."""
    located = find_document(np.ascontiguousarray(photo.bgr))
    if located is None:
        return SideReading(photo, None, None)
    best: tuple[Located, TemplateMatch] | None = None
    for family in ("id1", "td3"):
        flat = rectify(
            np.ascontiguousarray(photo.bgr), located.corners, located.method, located.area_fraction, family
        )
        for candidate in (flat, turned(flat)):
            match = recognise(candidate.image, family)
            if best is None or match.distance < best[1].distance:
                best = (candidate, match)
    assert best is not None
    limit = max_distance / 2 if located.method == "whole" else max_distance
    if best[1].distance > limit:
        return SideReading(photo, best[0], TemplateMatch(None, None, best[1].distance, 0.0, best[1].ranking))
    return SideReading(photo, best[0], best[1])


def _mrz_band(image: UInt8Array, box: tuple[float, float, float, float]) -> UInt8Array:
    x0, y0, x1, y1 = box_px(box, PPMM)
    h, w = image.shape[:2]
    pad = int(1.0 * PPMM)
    top = int(0.2 * PPMM)  # microprint often runs just above the MRZ
    return np.ascontiguousarray(
        image[max(0, y0 - top) : min(h, y1 + pad), max(0, x0 - pad) : min(w, x1 + pad)]
    )


def read_document(
    front: Image,
    back: Image | None = None,
    *,
    as_of: date | None = None,
    mrz_engine: str = "rapidocr",
    max_template_distance: float = DEFAULT_MAX_TEMPLATE_DISTANCE,
    ocr: bool = True,
) -> DocumentReading:
    """Read one document from its front photo and, where it has one, its back photo (``ocr=False``: only
    locate and recognise the template, as forensic training needs)."""
    timer = _Timer()
    as_of = as_of or date.today()
    photos = [front] + ([back] if back is not None else [])
    located = [timer.run("locate", partial(locate_side, p, max_template_distance)) for p in photos]
    sides: dict[str, SideReading] = {}
    for reading in located:
        name = reading.match.side if reading.found and reading.match and reading.match.side else None
        if name is None or name in sides:
            name = "front" if "front" not in sides else "back"
        sides[name] = reading
    template_ids = [s.match.template_id for s in sides.values() if s.found and s.match]
    template_id = template_ids[0] if template_ids else None
    out = DocumentReading(sides=sides, template_id=template_id, as_of=as_of)
    spec = out.spec
    if not ocr:
        out.timings_ms = timer.ms
        return out
    if spec is None:  # a design we have no template for: read what every ICAO document has, its MRZ
        _find_mrz(out, timer)
        _read_printed_zone(out, timer)
        out.timings_ms = timer.ms
        return out
    out.mrz_expected = any(s.mrz for s in spec.sides.values())
    out.barcode_expected = any(s.barcode for s in spec.sides.values())
    for name, reading in sides.items():
        side_spec = spec.sides.get(name)
        if side_spec is None or not reading.found or reading.located is None:
            continue
        image = reading.located.image
        if side_spec.fields:
            reading.fields = timer.run("fields", partial(read_fields, image, spec, side_spec))
        if side_spec.mrz and spec.mrz_format:
            band = _mrz_band(image, side_spec.mrz)
            pattern = spec.number_pattern
            out.mrz = timer.run(
                "mrz", partial(read_mrz_zone, band, spec.mrz_format, as_of=as_of, number_pattern=pattern)
            )
            if not out.mrz.result.valid and (mrz_engine == "tesseract" or tesseract_available()):
                second = timer.run(
                    "mrz",
                    partial(
                        read_mrz_zone,
                        band,
                        spec.mrz_format,
                        as_of=as_of,
                        engine="tesseract",
                        number_pattern=pattern,
                    ),
                )
                if second.result.valid:
                    out.mrz = second
        if side_spec.barcode:
            views = barcode_views(
                image,
                np.ascontiguousarray(reading.photo.bgr),
                reading.located.corners,
                side_spec.barcode,
                spec.size_mm,
            )
            out.barcode = timer.run("barcode", partial(decode_pdf417, views))
    barcode_missing = out.barcode_expected and (out.barcode is None or out.barcode.record is None)
    if (out.mrz_expected and (out.mrz is None or not out.mrz.result.valid)) or (
        not out.mrz_expected and barcode_missing
    ):
        # the template's MRZ box missed it (a worn card, an odd crop), or a "licence" whose barcode does not
        # read may be a passport that merely looked like one: search the photos anew
        _find_mrz(out, timer)
    if _contradicted(out, spec):
        _not_this_template(out)
        _read_printed_zone(out, timer)
    out.timings_ms = timer.ms
    return out


#: a template match closer than this (mean CIELAB distance) is convincing: our renderings of a template
#: measure 3-8 from it, a real document of another design that happens to resemble it 14 or more
CONVINCING_DISTANCE = 10.0


def _contradicted(out: DocumentReading, spec: TemplateSpec) -> bool:
    """Does the document's own valid MRZ say the template that seemed to match is not this document?

    It does when the MRZ's format is not the template's (a TD3 page that looked like the back of an ID-1
    card, or any MRZ on a licence template), or when no template of ours is of the MRZ's issuer and type
    and the look was not convincing (a real document of a real issuer). A convincing look whose MRZ claims
    another issuer stays matched: that contradiction is the consistency check's DOC_TEMPLATE_MISMATCH.
    """
    if out.mrz is None or not out.mrz.result.valid:
        return False
    result = out.mrz.result
    if result.format != spec.mrz_format:
        return True
    distances = [s.match.distance for s in out.sides.values() if s.found and s.match is not None]
    convincing = bool(distances) and max(distances) <= CONVINCING_DISTANCE
    return not convincing and claimed_template(dict(result.fields), result.format, None) is None


def _read_printed_zone(out: DocumentReading, timer: _Timer) -> None:
    """The printed fields of a document of unknown design, found by the MRZ's values and field labels
    (``viz_reader``) on the photo the MRZ was read from."""
    finding, side = out.mrz_finding, out.sides.get(out.mrz_side or "")
    if finding is None or side is None or not finding.read.result.valid:
        return
    photo = np.ascontiguousarray(side.photo.bgr)
    side.fields = timer.run("fields", partial(read_viz, photo, finding.orientation, finding.read.result))


def _not_this_template(out: DocumentReading) -> None:
    """Forget a template match that the document's own MRZ contradicts: it is a design we do not know."""
    for side in out.sides.values():
        if side.match is not None:
            side.match = TemplateMatch(None, None, side.match.distance, 0.0, side.match.ranking)
        side.fields = {}
    out.template_id = None
    out.barcode = None
    out.mrz_expected = out.barcode_expected = False


def _find_mrz(out: DocumentReading, timer: _Timer) -> None:
    """Search each photo for an MRZ with no template; keep a valid reading (or the first zone found when
    nothing better was read) and where it was found."""
    for name, side in out.sides.items():
        finding = timer.run(
            "mrz_search", partial(find_mrz, np.ascontiguousarray(side.photo.bgr), as_of=out.as_of)
        )
        if finding is None:
            continue
        better = finding.read.result.valid or out.mrz is None
        if better and not (out.mrz is not None and out.mrz.result.valid):
            out.mrz, out.mrz_finding, out.mrz_side = finding.read, finding, name
        if finding.read.result.valid:
            return


def cached_reading(
    front: Image, back: Image | None, as_of: date, params: ReaderParams | None = None
) -> DocumentReading:
    """``read_document`` once per (front, back, as_of, reading params), kept on the front image for the other
    checks of the request (``Image.memo``)."""
    p = params or ReaderParams()
    key = ("openidv.document.reading", READER_VERSION, id(back), as_of, p)
    return front.memo(
        key,
        partial(
            read_document,
            front,
            back,
            as_of=as_of,
            mrz_engine=p.mrz_engine,
            max_template_distance=p.max_template_distance,
        ),
    )


def family_matches(spec: TemplateSpec, located: Located) -> bool:
    return family_of(spec) == located.family
