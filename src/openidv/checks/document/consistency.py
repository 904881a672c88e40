"""Cross-check every source of the same fact: MRZ, printed zone (front and back), barcode, declared data,
the dates against each other and the template the document claims against the one it looks like.

Each test passes, fails (one reason code), or is not applicable (a source is missing or a field was not
read: that is a reading problem, reported by ``document_read``, never a mismatch). Printed text is compared
leniently (spaces ignored, names within one OCR slip); dates and numbers exactly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Any

from openidv.checks.document.reader import DocumentReading
from openidv.checks.document.templates import claimed_template
from openidv.checks.document.transliteration import names_match
from openidv.evidence import DeclaredData

MRZ_VIZ_MISMATCH = "DOC_MRZ_VIZ_MISMATCH"
BARCODE_MISMATCH = "DOC_BARCODE_MISMATCH"
ISSUED_AFTER_EXPIRY = "DOC_ISSUED_AFTER_EXPIRY"
ISSUED_IN_FUTURE = "DOC_ISSUED_IN_FUTURE"
VALIDITY_IMPLAUSIBLE = "DOC_VALIDITY_IMPLAUSIBLE"
EXPIRED = "DOC_EXPIRED"
TEMPLATE_MISMATCH = "DOC_TEMPLATE_MISMATCH"
UNDERAGE = "APPLICANT_UNDERAGE"
AGE_IMPLAUSIBLE = "APPLICANT_AGE_IMPLAUSIBLE"
DECLARED = {
    "name": "DECLARED_NAME_MISMATCH",
    "birth_date": "DECLARED_BIRTH_DATE_MISMATCH",
    "document_number": "DECLARED_DOCUMENT_NUMBER_MISMATCH",
}
NAME_SIMILARITY = 0.85  # names within one OCR slip of each other (e.g. 7 of 8 letters) still agree


@dataclass(frozen=True)
class Finding:
    """One consistency test: what was compared, with what, and whether it held."""

    test: str
    passed: bool
    code: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "passed": self.passed,
            "code": None if self.passed else self.code,
            "values": self.values,
        }


def _squash(text: str) -> str:
    """Upper-case letters and digits only, accents folded (OCR reads É where E is printed)."""
    folded = unicodedata.normalize("NFKD", text.upper())
    return re.sub(r"[^A-Z0-9]", "", folded)


def same_text(a: str, b: str) -> bool:
    """Names agree when equal, within one OCR slip per four letters, or when OCR cut or ran on the end of
    a name by up to two letters. A different name (another surname) differs far more than that."""
    x, y = _squash(a), _squash(b)
    if not x or not y:
        return x == y
    if x == y or SequenceMatcher(None, x, y).ratio() >= NAME_SIMILARITY:
        return True
    short, long_ = sorted((x, y), key=len)
    if len(short) >= 3 and long_.startswith(short) and len(long_) - len(short) <= 2:
        return True
    return _edits(x, y) <= 1 + min(len(x), len(y)) // 4


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (names are short)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def same_number(a: str, b: str) -> bool:
    return _squash(a) == _squash(b)


@dataclass
class Sources:
    """The facts each source states, normalised: ISO dates, squashed text."""

    mrz: dict[str, str] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)
    barcode: dict[str, str] = field(default_factory=dict)


def sources_of(reading: DocumentReading) -> Sources:
    out = Sources()
    if reading.mrz is not None and reading.mrz.result.readable:
        res = reading.mrz.result
        f = res.fields
        out.mrz = {"document_number": f.get("document_number", "")}
        if reading.mrz.name_reliable:
            out.mrz.update({"surname": f.get("surname", ""), "given_names": f.get("given_names", "")})
        out.mrz.update(
            {
                "nationality": f.get("nationality", ""),
                "sex": f.get("sex", ""),
            }
        )
        if res.birth_date:
            out.mrz["birth_date"] = res.birth_date.isoformat()
        if res.expiry_date:
            out.mrz["expiry_date"] = res.expiry_date.isoformat()
    for key, pf in reading.printed().items():
        if pf.value:
            out.printed[key] = pf.value[:1] if key == "sex" else pf.value
    if reading.barcode is not None and reading.barcode.record is not None:
        f = reading.barcode.record.fields
        for key in (
            "surname",
            "given_names",
            "document_number",
            "birth_date",
            "expiry_date",
            "issue_date",
            "sex",
        ):
            if f.get(key):
                out.barcode[key] = f[key]
    return out


DATE_KEYS = ("birth_date", "expiry_date", "issue_date")
NUMBER_KEYS = ("document_number",)


def _compare(name: str, a: dict[str, str], b: dict[str, str], code: str) -> list[Finding]:
    findings = []
    for key in (
        "surname",
        "given_names",
        "document_number",
        "birth_date",
        "expiry_date",
        "issue_date",
        "sex",
        "nationality",
    ):
        if key not in a or key not in b:
            continue
        if key == "sex" and not {a[key][:1], b[key][:1]} <= {"M", "F", "X"}:
            continue  # a one-letter field OCR could not read (E for F): unread, not a mismatch
        if key == "nationality" and min(len(_squash(a[key])), len(_squash(b[key]))) < 3:
            continue
        if key in DATE_KEYS or key == "sex":
            ok = a[key][:1] == b[key][:1] if key == "sex" else a[key] == b[key]
        elif key == "nationality":  # a three-letter code: OCR may add a stray mark after it
            ok = _squash(a[key])[:3] == _squash(b[key])[:3]
        elif key in NUMBER_KEYS:
            ok = same_number(a[key], b[key])
        else:
            ok = same_text(a[key], b[key])
        findings.append(Finding(f"{name}:{key}", ok, code, {"a": a[key], "b": b[key]}))
    return findings


def _dates(
    reading: DocumentReading, facts: dict[str, str], min_age: int | None, max_age: int | None
) -> list[Finding]:
    out = []
    as_of = reading.as_of
    issue = date.fromisoformat(facts["issue_date"]) if "issue_date" in facts else None
    expiry = date.fromisoformat(facts["expiry_date"]) if "expiry_date" in facts else None
    birth = date.fromisoformat(facts["birth_date"]) if "birth_date" in facts else None
    if issue and expiry:
        out.append(
            Finding(
                "dates:issued_before_expiry",
                issue < expiry,
                ISSUED_AFTER_EXPIRY,
                {"issue": issue.isoformat(), "expiry": expiry.isoformat()},
            )
        )
        spec = reading.spec
        if spec is not None:
            years = (expiry - issue).days / 365.25
            out.append(
                Finding(
                    "dates:validity_period",
                    years <= spec.validity_years + 0.1,
                    VALIDITY_IMPLAUSIBLE,
                    {"years": f"{years:.2f}", "template_max": str(spec.validity_years)},
                )
            )
    if issue:
        out.append(
            Finding(
                "dates:issued_not_in_future", issue <= as_of, ISSUED_IN_FUTURE, {"issue": issue.isoformat()}
            )
        )
    if expiry:
        out.append(Finding("dates:not_expired", expiry >= as_of, EXPIRED, {"expiry": expiry.isoformat()}))
    if birth:
        age = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
        if min_age is not None:
            out.append(Finding("age:min", age >= min_age, UNDERAGE, {"age": str(age)}))
        if max_age is not None:
            out.append(Finding("age:max", age <= max_age, AGE_IMPLAUSIBLE, {"age": str(age)}))
        if issue:
            out.append(
                Finding(
                    "dates:born_before_issue",
                    birth < issue,
                    ISSUED_AFTER_EXPIRY,
                    {"birth": birth.isoformat(), "issue": issue.isoformat()},
                )
            )
    return out


def best_facts(src: Sources) -> dict[str, str]:
    """One value per fact, from the most trustworthy source that has it: MRZ, then barcode, then print."""
    facts = dict(src.printed)
    facts.update(src.barcode)
    facts.update(src.mrz)
    return facts


def _declared(facts: dict[str, str], declared: DeclaredData) -> list[Finding]:
    out = []
    if "surname" in facts:
        match = names_match(
            facts["surname"], facts.get("given_names", ""), declared.surname, declared.given_names
        )
        out.append(
            Finding(
                "declared:name",
                match.matched,
                DECLARED["name"],
                {
                    "document": f"{facts['surname']} {facts.get('given_names', '')}".strip(),
                    "declared": f"{declared.surname} {declared.given_names}".strip(),
                },
            )
        )
    if declared.birth_date and "birth_date" in facts:
        out.append(
            Finding(
                "declared:birth_date",
                facts["birth_date"] == declared.birth_date.isoformat(),
                DECLARED["birth_date"],
                {"document": facts["birth_date"], "declared": declared.birth_date.isoformat()},
            )
        )
    if declared.document_number and "document_number" in facts:
        ok = same_number(facts["document_number"], declared.document_number)
        out.append(
            Finding(
                "declared:document_number",
                ok,
                DECLARED["document_number"],
                {"document": facts["document_number"], "declared": declared.document_number},
            )
        )
    return out


def _template(reading: DocumentReading) -> list[Finding]:
    looks = {s.match.template_id for s in reading.sides.values() if s.found and s.match}
    if not looks:  # a document of a design we have no template for: nothing to compare its claim with
        return []
    mrz_fields = dict(reading.mrz.result.fields) if reading.mrz and reading.mrz.result.valid else None
    fmt = reading.mrz.result.format if reading.mrz and reading.mrz.result.valid else None
    iin = reading.barcode.record.iin if reading.barcode and reading.barcode.record else None
    claimed = claimed_template(mrz_fields, fmt, iin)
    if claimed is None and (mrz_fields or iin):
        return [
            Finding(
                "template:claimed_known",
                False,
                TEMPLATE_MISMATCH,
                {"mrz_issuer": str((mrz_fields or {}).get("issuer")), "iin": str(iin)},
            )
        ]
    if claimed is None:
        return []
    return [
        Finding(
            "template:claimed_vs_seen",
            looks == {claimed},
            TEMPLATE_MISMATCH,
            {"claimed": claimed, "seen": ",".join(sorted(str(x) for x in looks))},
        )
    ]


def check_consistency(
    reading: DocumentReading,
    declared: DeclaredData | None = None,
    *,
    min_age: int | None = 18,
    max_age: int | None = 130,
) -> list[Finding]:
    """Every applicable consistency test for one document reading."""
    src = sources_of(reading)
    findings = _compare("mrz_vs_printed", src.mrz, src.printed, MRZ_VIZ_MISMATCH)
    findings += _compare("barcode_vs_printed", src.barcode, src.printed, BARCODE_MISMATCH)
    findings += _compare("barcode_vs_mrz", src.barcode, src.mrz, BARCODE_MISMATCH)
    facts = best_facts(src)
    findings += _dates(reading, facts, min_age, max_age)
    findings += _template(reading)
    if declared is not None:
        findings += _declared(facts, declared)
    return findings
