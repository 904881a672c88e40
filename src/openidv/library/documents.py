"""``read_document``: read one identity document (front and optional back) the way ``openidv document
inspect`` does, and return what a person needs to judge it.

It runs every document check of the policy's configuration through the pipeline (one shared reading per
request, ``Image.memo``), then gathers the fields each source gave (MRZ, printed zone, barcode), the
consistency findings, every check's score and the policy's verdict on it (``Policy.judge``: the one place
that compares a score with a threshold) and the policy's decision. The CLI renders this result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from openidv.checks.document.photo_check import DocumentPhotoCheck
from openidv.checks.document.reader import DocumentReading
from openidv.checks.registry import create_check
from openidv.decision.policy import Policy, load_policy
from openidv.evidence import Evidence
from openidv.imageio import ImageLike, as_image
from openidv.pipeline import Pipeline
from openidv.results import CheckResult, Decision

#: the document checks ``read_document`` runs, in report order
DOCUMENT_CHECKS = (
    "document_read",
    "document_consistency",
    "document_capture",
    "document_forensics",
    "document_portrait_substitution",
    "document_tampered_field",
    "document_copy_move",
    "document_screen_recapture",
    "document_print_scan",
    "document_security_features",
)
#: the policy threshold each kind of score is judged against (forensic scores: ``attack``)
VERDICT_THRESHOLD = {"attack": "attack"}


class ThresholdVerdictOut(BaseModel):
    """The policy's verdict on one score (``Policy.judge``); ``holds`` True means the rule's condition held
    (for ``attack``: the score is at or above the attack threshold)."""

    model_config = ConfigDict(frozen=True)

    threshold: str
    value: float
    op: str
    holds: bool
    rules: list[str]
    target: str | None = None


class DocumentCheckScore(BaseModel):
    """One document check's result, as the report shows it."""

    model_config = ConfigDict(frozen=True)

    score: float | None
    meaning: str
    status: str
    reason_codes: list[str]
    #: the policy's verdict on the score, where the policy has a threshold for it (forensic checks)
    verdict: ThresholdVerdictOut | None = None


class DocumentReport(BaseModel):
    """What ``read_document`` returns (and ``openidv document inspect --json`` prints)."""

    model_config = ConfigDict(frozen=True)

    #: a document is in the photo: a known template, or an MRZ zone of any design
    found: bool
    #: one of our templates (its printed fields, barcode and forensics were checked), or None: another design
    template: str | None
    #: the MRZ as read (lines after correction, format, check digits valid or not, OCR confidence per line,
    #: and, when it was found without a template, its orientation and region); None when there is none
    mrz: dict[str, Any] | None
    #: each fact with the value every source gave for it: ``{"surname": {"mrz": ..., "printed": ...}}``
    fields: dict[str, dict[str, str]]
    #: the consistency tests (``document_consistency``), each with its values and reason code
    findings: list[dict[str, Any]]
    scores: dict[str, DocumentCheckScore]
    #: the checks that measured this document, and those that could not, each with why (e.g. the
    #: template forensics on a design we hold no template for)
    checks_ran: list[str]
    checks_skipped: dict[str, str]
    decision: Decision
    timings_ms: dict[str, float]
    #: the whole reading: sides, located corners, template match, MRZ with check digits, barcode
    reading: dict[str, Any]


@dataclass(frozen=True)
class DocumentInspection:
    """The report with what it was computed from (the CLI annotates the photo from the reading)."""

    report: DocumentReport
    evidence: Evidence
    reader: DocumentPhotoCheck

    def reading(self) -> DocumentReading:
        """The reading every document check used (cached on the front image: not read again)."""
        return self.reader.reading(self.evidence)


def field_sources(details: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each fact with the value every source gave for it (mrz, printed, barcode)."""
    reading = details.get("reading") or {}
    out: dict[str, dict[str, str]] = {}
    for key, value in (reading.get("mrz_fields") or {}).items():
        out.setdefault(key, {})["mrz"] = value
    for side in (reading.get("sides") or {}).values():
        for key, f in (side.get("fields") or {}).items():
            out.setdefault(key, {})["printed"] = f.get("value") or f.get("text", "")
    aamva = ((reading.get("barcode") or {}).get("aamva") or {}).get("fields") or {}
    for key, value in aamva.items():
        out.setdefault(key, {})["barcode"] = value
    return out


def _mrz_summary(reading: dict[str, Any]) -> dict[str, Any] | None:
    mrz = reading.get("mrz")
    if not mrz:
        return None
    return {
        "lines": str(mrz["text"]).split("\n"),
        "format": mrz.get("format"),
        "valid": mrz.get("valid"),
        "line_confidence": mrz.get("ocr_scores"),
        "found_at": reading.get("mrz_location"),
    }


def _verdict(policy: Policy, result: CheckResult) -> ThresholdVerdictOut | None:
    name = VERDICT_THRESHOLD.get(result.meaning.value)
    cfg = policy.checks.get(result.check)
    if (
        name is None
        or cfg is None
        or name not in cfg.thresholds
        or not policy.rules_reading(result.check, name)
    ):
        return None
    verdict = policy.judge(result, name)
    return None if verdict is None else ThresholdVerdictOut.model_validate(verdict.to_dict())


def _score(policy: Policy, result: CheckResult) -> DocumentCheckScore:
    return DocumentCheckScore(
        score=result.score,
        meaning=result.meaning.value,
        status=result.status.value,
        reason_codes=list(result.reason_codes),
        verdict=_verdict(policy, result),
    )


def _skipped(results: list[CheckResult]) -> dict[str, str]:
    """Why each check that measured nothing did not: its status, and its stated problem or reason codes."""
    out = {}
    for r in results:
        if r.status.value == "ok":
            continue
        problem = r.details.get("problem") if isinstance(r.details, dict) else None
        out[r.check] = f"{r.status.value}: {problem or ', '.join(r.reason_codes) or 'no detail'}"
    return out


def inspect_document(
    front: ImageLike,
    back: ImageLike | None = None,
    *,
    as_of: date | None = None,
    policy: Policy | None = None,
) -> DocumentInspection:
    """Run every document check on a photo (and its back); the report with its evidence and reading."""
    start = time.perf_counter()
    evidence = Evidence(
        document_image=as_image(front, name="front"),
        document_back=as_image(back, name="back") if back is not None else None,
        as_of=as_of,
    )
    policy = policy or load_policy()
    checks = [create_check(name, policy.params(name)) for name in DOCUMENT_CHECKS]
    run = Pipeline(policy, checks).run(evidence)
    by_name = {r.check: r for r in run.results}
    read = by_name.get("document_read")
    reading = (read.details.get("reading") if read else None) or {}
    consistency = by_name.get("document_consistency")
    report = DocumentReport(
        found=bool(read and read.status.value != "failed_to_acquire"),
        template=reading.get("template"),
        mrz=_mrz_summary(reading),
        fields=field_sources(read.details) if read else {},
        findings=(consistency.details.get("tests") if consistency else None) or [],
        scores={r.check: _score(policy, r) for r in run.results},
        checks_ran=[r.check for r in run.results if r.status.value == "ok"],
        checks_skipped=_skipped(list(run.results)),
        decision=run.decision,
        timings_ms={
            **(reading.get("timings_ms") or {}),
            "total": round((time.perf_counter() - start) * 1000, 1),
        },
        reading=reading,
    )
    reader = checks[0]
    assert isinstance(reader, DocumentPhotoCheck)
    return DocumentInspection(report, evidence, reader)


def read_document(
    front: ImageLike,
    back: ImageLike | None = None,
    *,
    as_of: date | None = None,
    policy: Policy | None = None,
) -> DocumentReport:
    """Read a document photo (and its back, for ID cards and licences): fields by source, consistency
    findings, every document check's score with the policy's verdict, the decision and timings.

    ``front``/``back``: a path, bytes, a binary file, a PIL image, a numpy RGB array or an ``Image``.
    ``as_of``: judge expiry and age on this date (default today). ``policy``: default the packaged one.
    """
    return inspect_document(front, back, as_of=as_of, policy=policy).report
