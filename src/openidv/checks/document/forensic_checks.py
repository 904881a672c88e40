"""Forensic document checks (score meaning ``attack``): one overall forgery score and one per species.

Scores are the trained model's probabilities (``forensics_model``; trained on synthetic forgeries only):
``document_forensics`` is 1 - P(genuine), each species check is P(that species). The checks never decide:
the policy compares each score with a threshold tuned on an evaluation set and attaches the reason code.
Without a trained model the checks return ``error`` with ``DOC_FORENSICS_MODEL_MISSING`` and their signals.
"""

from __future__ import annotations

from typing import Any, ClassVar

from openidv.checks.document.analysis import cached_report
from openidv.checks.document.photo_check import DocumentPhotoCheck, photos_of
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status

MODEL_MISSING = "DOC_FORENSICS_MODEL_MISSING"
TYPE_UNKNOWN = "DOC_TYPE_UNKNOWN"


class _ForensicCheck(DocumentPhotoCheck):
    meaning: ClassVar[Meaning] = Meaning.ATTACK
    version: ClassVar[str] = "1.0.0"
    #: the model class whose probability is the score; None means 1 - P(genuine)
    species: ClassVar[str | None] = None

    def run(self, evidence: Evidence) -> CheckResult:
        reading = self.reading(evidence)
        if not reading.found:
            return self.not_found(reading)
        if not reading.template_known:
            why = {
                "template_checks_ran": False,
                "problem": "the forensic model compares a photo with its template; this design has none",
            }
            return self.result(Status.FAILED_TO_ACQUIRE, None, (TYPE_UNKNOWN,), why)
        front, back = photos_of(evidence)
        report = cached_report(front, back, evidence.judged_on(), self.reader_params)
        details: dict[str, Any] = {"forensics": report.to_dict(), "template": reading.template_id}
        if not report.probabilities:
            return self.result(Status.ERROR, None, (MODEL_MISSING,), details)
        score = (
            report.attack_probability if self.species is None else report.probabilities.get(self.species, 0.0)
        )
        details["score_method"] = (
            "1 - P(genuine)" if self.species is None else f"P({self.species})"
        ) + " from a model trained on synthetic forgeries only"
        return self.result(Status.OK, score, (), details)


class DocumentForensicsCheck(_ForensicCheck):
    """Any forgery: 1 - P(genuine)."""

    name: ClassVar[str] = "document_forensics"


class PortraitSubstitutionCheck(_ForensicCheck):
    name: ClassVar[str] = "document_portrait_substitution"
    species: ClassVar[str | None] = "portrait_substitution"


class CopyMoveCheck(_ForensicCheck):
    name: ClassVar[str] = "document_copy_move"
    species: ClassVar[str | None] = "copy_move"


class ScreenRecaptureCheck(_ForensicCheck):
    name: ClassVar[str] = "document_screen_recapture"
    species: ClassVar[str | None] = "screen_recapture"


class PrintScanCheck(_ForensicCheck):
    name: ClassVar[str] = "document_print_scan"
    species: ClassVar[str | None] = "print_scan"


class SecurityFeaturesCheck(_ForensicCheck):
    name: ClassVar[str] = "document_security_features"
    species: ClassVar[str | None] = "missing_security"


class TamperedFieldCheck(_ForensicCheck):
    name: ClassVar[str] = "document_tampered_field"
    species: ClassVar[str | None] = "edited_text"


FORENSIC_CHECKS: dict[str, type[_ForensicCheck]] = {
    c.name: c
    for c in (
        DocumentForensicsCheck,
        PortraitSubstitutionCheck,
        CopyMoveCheck,
        ScreenRecaptureCheck,
        PrintScanCheck,
        SecurityFeaturesCheck,
        TamperedFieldCheck,
    )
}
