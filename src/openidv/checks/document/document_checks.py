"""Document checks on a photo of the document (``evidence.document_image``, front) and its back
(``evidence.document_back``): ``document_read`` and ``document_consistency``.

Both share one reading per request (``reader.cached_reading``). A photo with no document in it is a failure
to acquire (``DOC_NOT_FOUND``), never a low score. Evaluation from files: the manifest's ``path`` is the
front photo; a sibling whose name has ``_back`` in place of ``_front`` is used as the back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from openidv.checks.base import Check
from openidv.checks.document.consistency import check_consistency
from openidv.checks.document.ocr_fields import COMPARED_FIELDS
from openidv.checks.document.reader import DEFAULT_MAX_TEMPLATE_DISTANCE, DocumentReading, cached_reading
from openidv.errors import InvalidInput
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import CheckResult, Meaning, Status

NOT_FOUND = "DOC_NOT_FOUND"
MRZ_UNREADABLE = "DOC_MRZ_UNREADABLE"
BARCODE_UNREADABLE = "DOC_BARCODE_UNREADABLE"
SIDE_MISSING = "DOC_SIDE_MISSING"
READER_PARAMS: dict[str, Any] = {
    "max_template_distance": DEFAULT_MAX_TEMPLATE_DISTANCE,  # mean CIELAB distance to the nearest template
    "mrz_engine": "rapidocr",  # or tesseract (needs tesseract + mrz.traineddata installed)
}


def back_for(front: Path) -> Path | None:
    """``x_front.jpg`` -> ``x_back.jpg`` when that file exists."""
    if "_front" not in front.stem:
        return None
    candidate = front.with_name(front.stem.replace("_front", "_back") + front.suffix)
    return candidate if candidate.is_file() else None


def document_evidence(paths: Sequence[Path]) -> Evidence:
    if len(paths) != 1:
        raise InvalidInput(f"document checks read one photo per sample (the front), got {len(paths)}")
    back = back_for(paths[0])
    return Evidence(document_image=load_image(paths[0]), document_back=load_image(back) if back else None)


def reading_for(check: Check, evidence: Evidence) -> DocumentReading:
    front = evidence.document_image
    if not isinstance(front, Image):
        raise ValueError("evidence.document_image is not an image")
    back = evidence.document_back if isinstance(evidence.document_back, Image) else None
    return cached_reading(
        front,
        back,
        evidence.judged_on(),
        mrz_engine=str(check.params["mrz_engine"]),
        max_template_distance=float(check.params["max_template_distance"]),
    )


def not_found(check: Check, reading: DocumentReading) -> CheckResult:
    details = {"reading": reading.to_dict(), "problem": "no known document was found in the photo"}
    return check.result(Status.FAILED_TO_ACQUIRE, None, (NOT_FOUND,), details)


class DocumentReadCheck(Check):
    """How much of the document could be read. Score (similarity): the fraction of the template's sources
    read: the template itself, the MRZ (valid after correction), the barcode (AAMVA parsed), printed
    fields."""

    name: ClassVar[str] = "document_read"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.SIMILARITY
    requires: ClassVar[tuple[str, ...]] = ("document_image",)
    params_schema: ClassVar[Mapping[str, Any]] = dict(READER_PARAMS)

    def run(self, evidence: Evidence) -> CheckResult:
        reading = reading_for(self, evidence)
        if not reading.found or reading.spec is None:
            return not_found(self, reading)
        spec = reading.spec
        parts: list[float] = [1.0]
        codes: list[str] = []
        missing_sides = [s for s in spec.sides if s not in reading.sides]
        if missing_sides:
            codes.append(SIDE_MISSING)
        if reading.mrz_expected:
            ok = reading.mrz is not None and reading.mrz.result.valid
            parts.append(1.0 if ok else 0.0)
            if not ok:
                codes.append(MRZ_UNREADABLE)
        if reading.barcode_expected:
            ok = reading.barcode is not None and reading.barcode.record is not None
            parts.append(1.0 if ok else 0.0)
            if not ok:
                codes.append(BARCODE_UNREADABLE)
        expected = sum(
            1
            for s in reading.sides
            if s in spec.sides
            for f in spec.sides[s].fields
            if f.key in COMPARED_FIELDS
        )
        read = sum(1 for f in reading.printed().values() if f.value)
        if expected:
            parts.append(read / expected)
        details = {
            "reading": reading.to_dict(),
            "missing_sides": missing_sides,
            "fields_read": read,
            "fields_expected": expected,
            "score_method": "mean of: template found, MRZ valid, barcode parsed, share of fields read",
        }
        return self.result(Status.OK, round(sum(parts) / len(parts), 4), codes, details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return document_evidence(paths)


class DocumentConsistencyCheck(Check):
    """Do the document's sources agree (MRZ, printed zone, barcode, declared data, dates, template)?
    Score (similarity): the fraction of applicable tests that held; each failed test adds its reason code."""

    name: ClassVar[str] = "document_consistency"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.SIMILARITY
    requires: ClassVar[tuple[str, ...]] = ("document_image",)
    params_schema: ClassVar[Mapping[str, Any]] = {**READER_PARAMS, "min_age": 18, "max_age": 130}

    def run(self, evidence: Evidence) -> CheckResult:
        reading = reading_for(self, evidence)
        if not reading.found:
            return not_found(self, reading)
        findings = check_consistency(
            reading, evidence.declared, min_age=self.params["min_age"], max_age=self.params["max_age"]
        )
        failed = [f for f in findings if not f.passed]
        codes = [f.code for f in failed if f.code]
        score = round(1 - len(failed) / len(findings), 4) if findings else 1.0
        details = {
            "template": reading.template_id,
            "tests": [f.to_dict() for f in findings],
            "failed": [f.test for f in failed],
            "score_method": "fraction of applicable consistency tests passed",
        }
        return self.result(Status.OK, score, codes, details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return document_evidence(paths)
