"""Document checks on a photo of the document (``evidence.document_image``, front) and its back
(``evidence.document_back``): ``document_read`` and ``document_consistency``.

Both share one reading per request (``DocumentPhotoCheck.reading``). A photo with no document in it is a
failure to acquire (``DOC_NOT_FOUND``), never a low score.
"""

from __future__ import annotations

from typing import ClassVar

from openidv.checks.base import CheckParams
from openidv.checks.document.consistency import check_consistency
from openidv.checks.document.ocr_fields import COMPARED_FIELDS
from openidv.checks.document.params import ConsistencyParams
from openidv.checks.document.photo_check import DocumentPhotoCheck
from openidv.checks.document.reader import DocumentReading
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status

MRZ_UNREADABLE = "DOC_MRZ_UNREADABLE"
BARCODE_UNREADABLE = "DOC_BARCODE_UNREADABLE"
SIDE_MISSING = "DOC_SIDE_MISSING"
TYPE_UNKNOWN = "DOC_TYPE_UNKNOWN"


class DocumentReadCheck(DocumentPhotoCheck):
    """How much of the document could be read. Score (similarity): the fraction of the template's sources
    read: the template itself, the MRZ (valid after correction), the barcode (AAMVA parsed), printed
    fields."""

    name: ClassVar[str] = "document_read"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.SIMILARITY

    def run(self, evidence: Evidence) -> CheckResult:
        reading = self.reading(evidence)
        if not reading.found:
            return self.not_found(reading)
        spec = reading.spec
        if spec is None:
            return self._unknown_design(reading)
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

    def _unknown_design(self, reading: DocumentReading) -> CheckResult:
        """A document of a design we have no template for, found by its MRZ: the score is whether the MRZ
        read with valid check digits (the one source every ICAO document shares)."""
        valid = reading.mrz is not None and reading.mrz.result.valid
        codes = [TYPE_UNKNOWN] + ([] if valid else [MRZ_UNREADABLE])
        details = {
            "reading": reading.to_dict(),
            "template_checks_ran": False,
            "score_method": "MRZ valid after correction (1) or not (0); no template, so no fields or barcode",
        }
        return self.result(Status.OK, 1.0 if valid else 0.0, codes, details)


class DocumentConsistencyCheck(DocumentPhotoCheck):
    """Do the document's sources agree (MRZ, printed zone, barcode, declared data, dates, template)?
    Score (similarity): the fraction of applicable tests that held; each failed test adds its reason code."""

    name: ClassVar[str] = "document_consistency"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.SIMILARITY
    Params: ClassVar[type[CheckParams]] = ConsistencyParams
    params: ConsistencyParams

    def run(self, evidence: Evidence) -> CheckResult:
        reading = self.reading(evidence)
        if not reading.found:
            return self.not_found(reading)
        findings = check_consistency(
            reading, evidence.declared, min_age=self.params.min_age, max_age=self.params.max_age
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
