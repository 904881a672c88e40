"""Reviewer feedback as evaluation data: decided review cases as a labelled manifest and score files.

``export_labels`` writes, into one folder, what ``openidv eval run`` reads (docs/evaluation.md):

- ``manifest.csv``: a samples manifest, one row per decided case: ``id`` (the case id), ``path``
  (``cases/<id>``: a name only, nothing to open; use it with ``--scores``), ``subject`` (a keyed pseudonym
  of the applicant, so rows of one person group together in the bootstrap), ``label`` (``fraud`` when the
  human's final outcome is reject, ``legit`` when approve), and slice columns: ``automated_outcome``,
  ``country`` and ``document_type`` where a check read them, ``tenant``.
- ``scores/<check>.csv``: each check's stored score for every row (``failed_to_acquire`` where the check
  did not run or had no score), with its meaning and version in the header, so
  ``openidv eval run --manifest DIR/manifest.csv --scores DIR/scores/<check>.csv`` measures how well that
  check separates what people later decided.

Kept out on purpose: the reviewer's identity, the reasons they wrote, names, document numbers and the
applicant's own subject id.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openidv.errors import InvalidInput
from openidv.results import CheckResult, Status
from openidv.store import case_store
from openidv.store.repository import Store, record_of

LABELS = {"reject": "fraud", "approve": "legit"}
MANIFEST = "manifest.csv"
SCORES_DIR = "scores"
_DOCUMENT_CODES = {"P": "passport", "I": "id_card", "A": "id_card", "C": "id_card", "V": "visa"}


@dataclass(frozen=True)
class ExportReport:
    cases: int
    manifest: Path
    scores: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "manifest": str(self.manifest),
            "scores": {k: str(v) for k, v in self.scores.items()},
            "labels": self.labels,
        }


@dataclass(frozen=True)
class _Row:
    id: str
    subject: str
    label: str
    tenant: str
    automated_outcome: str
    country: str
    document_type: str
    checks: tuple[CheckResult, ...]


def _slices(checks: tuple[CheckResult, ...]) -> tuple[str, str]:
    """(country, document type) as the checks read them: the MRZ's issuer and document code, or a
    check's own ``country`` / ``document_type`` detail; "" when none did."""
    country = document_type = ""
    for result in checks:
        details = result.details or {}
        fields = details.get("fields") if isinstance(details.get("fields"), dict) else {}
        assert isinstance(fields, dict)
        country = country or str(fields.get("issuer") or details.get("country") or "")
        code = str(fields.get("document_code") or "")[:1]
        document_type = document_type or str(details.get("document_type") or _DOCUMENT_CODES.get(code, code))
    return country, document_type


def _rows(store: Store, tenant: str | None) -> list[_Row]:
    ring = store.keyring
    rows: list[_Row] = []
    with store.transaction() as session:
        for case in case_store.decided_cases(session, tenant):
            label = LABELS.get(case.final_outcome or "")
            if label is None:
                continue
            verification = case_store.verification_row(session, case.tenant_id, case.verification_id)
            record = record_of(verification, ring)
            person = verification.subject_id or verification.id
            subject = ring.keyed_hash("review-export-subject", f"{case.tenant_id}\x00{person}")[:16]
            country, document_type = _slices(record.checks)
            rows.append(
                _Row(
                    case.id,
                    subject,
                    label,
                    case.tenant_id,
                    case.automated_outcome,
                    country,
                    document_type,
                    record.checks,
                )
            )
    return rows


def export_labels(store: Store, out_dir: str | Path, *, tenant: str | None = None) -> ExportReport:
    """Write the decided cases of ``tenant`` (every tenant's when None) as a labelled manifest and one
    score file per check; ``InvalidInput`` when there is no decided case yet."""
    rows = _rows(store, tenant)
    if not rows:
        where = f"tenant {tenant!r}" if tenant else "any tenant"
        raise InvalidInput(f"no decided review case in {where} yet: nothing to export")
    out = Path(out_dir)
    (out / SCORES_DIR).mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        fh.write("# openidv review labels: decided human review cases; fraud = final reject\n")
        writer = csv.writer(fh)
        writer.writerow(
            ["id", "path", "subject", "label", "automated_outcome", "country", "document_type", "tenant"]
        )
        for r in rows:
            writer.writerow(
                [
                    r.id,
                    f"cases/{r.id}",
                    r.subject,
                    r.label,
                    r.automated_outcome,
                    r.country,
                    r.document_type,
                    r.tenant,
                ]
            )
    scores = {name: _write_scores(out / SCORES_DIR, name, rows) for name in _check_names(rows)}
    return ExportReport(len(rows), manifest, scores, dict(Counter(r.label for r in rows)))


def _check_names(rows: list[_Row]) -> list[str]:
    names: dict[str, None] = {}
    for r in rows:
        for result in r.checks:
            names.setdefault(result.check, None)
    return list(names)


def _write_scores(folder: Path, check: str, rows: list[_Row]) -> Path:
    results = {r.id: next((c for c in r.checks if c.check == check), None) for r in rows}
    present = [c for c in results.values() if c is not None]
    meanings = {c.meaning.value for c in present}
    if len(meanings) != 1:
        raise InvalidInput(f"check {check}: stored scores disagree on their meaning ({sorted(meanings)})")
    version = Counter(c.version for c in present).most_common(1)[0][0]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in check)
    path = folder / f"{safe}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write(f"# meaning: {meanings.pop()}\n# check: {check}\n# version: {version}\n")
        writer = csv.writer(fh)
        writer.writerow(["id", "score", "status"])
        for case_id, result in results.items():
            if result is None or result.score is None:
                status = Status.FAILED_TO_ACQUIRE.value if result is None else result.status.value
                status = Status.FAILED_TO_ACQUIRE.value if status == Status.OK.value else status
                writer.writerow([case_id, "", status])
            else:
                writer.writerow([case_id, repr(float(result.score)), result.status.value])
    return path
