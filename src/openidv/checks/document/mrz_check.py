"""The ``mrz`` check: is the machine readable zone well formed, and consistent with itself and the applicant?

Score (meaning ``similarity``, higher is more consistent): the fraction of the *applicable* consistency tests
that passed. Each test that fails adds exactly one reason code, so the score is 1.0 exactly when there is no
reason code. The tests are:

* one per check digit of the format (3 on visas, 4 on TD1/TD2, 5 on TD3);
* nine structure tests from ``read_mrz``: document code, issuer code, nationality code, sex, date of birth
  (invalid or unknown), date of expiry, name field, name not truncated, document not expired;
* age, when the date of birth is known: at least ``min_age`` and at most ``max_age`` years (a param set to
  None is skipped). With two-digit years an MRZ never shows an age of 100 or more (see
  ``mrz.decode_birth_date``), so ``max_age`` only fires for policies that set it below 100;
* one per declared field that is present: name (``transliteration.names_match``), date of birth, nationality
  (``D`` = ``DE`` = ``DEU``), document number (compared without spaces, hyphens and fillers).

Text that is not an MRZ at all is a failure to acquire (``MRZ_UNREADABLE``), not a low score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from openidv.checks.base import Check, CheckParams
from openidv.checks.document import mrz as m
from openidv.checks.document.icao_codes import code_name, same_nationality
from openidv.checks.document.params import MrzParams
from openidv.checks.document.transliteration import NameMatch, names_match
from openidv.errors import InvalidInput
from openidv.evidence import MAX_MRZ_LENGTH, DeclaredData, Evidence
from openidv.results import CheckResult, Meaning, Status

MAX_FILE_BYTES = 4096  # an MRZ file is a few lines; anything larger is not one

UNDERAGE = "APPLICANT_UNDERAGE"
AGE_IMPLAUSIBLE = "APPLICANT_AGE_IMPLAUSIBLE"
NAME_MISMATCH = "DECLARED_NAME_MISMATCH"
BIRTH_DATE_MISMATCH = "DECLARED_BIRTH_DATE_MISMATCH"
NATIONALITY_MISMATCH = "DECLARED_NATIONALITY_MISMATCH"
DOCUMENT_NUMBER_MISMATCH = "DECLARED_DOCUMENT_NUMBER_MISMATCH"

#: Structure tests taken from ``read_mrz``: test name -> the reason codes that fail it.
STRUCTURE_TESTS: dict[str, tuple[str, ...]] = {
    "document_code": (m.DOCUMENT_CODE_INVALID,),
    "issuer": (m.ISSUER_UNKNOWN,),
    "nationality": (m.NATIONALITY_UNKNOWN,),
    "sex": (m.SEX_INVALID,),
    "birth_date": (m.BIRTH_DATE_INVALID, m.BIRTH_DATE_UNKNOWN),
    "expiry_date": (m.EXPIRY_DATE_INVALID,),
    "name": (m.NAME_INVALID,),
    "name_complete": (m.NAME_TRUNCATED,),
    "not_expired": (m.DOC_EXPIRED,),
}


@dataclass(frozen=True)
class ConsistencyTest:
    """One consistency test: its name, whether it passed, and the reason codes it raised."""

    name: str
    passed: bool
    codes: tuple[str, ...] = ()


def _test(name: str, passed: bool, code: str) -> ConsistencyTest:
    return ConsistencyTest(name, passed, () if passed else (code,))


def _digit_tests(result: m.MRZResult) -> list[ConsistencyTest]:
    return [_test(f"check_digit_{cd.name}", cd.ok, m.check_digit_code(cd.name)) for cd in result.check_digits]


def _structure_tests(result: m.MRZResult) -> list[ConsistencyTest]:
    tests = []
    for name, codes in STRUCTURE_TESTS.items():
        raised = tuple(code for code in codes if code in result.reason_codes)
        tests.append(ConsistencyTest(name, not raised, raised))
    return tests


def _age_tests(age: int | None, min_age: int | None, max_age: int | None) -> list[ConsistencyTest]:
    if age is None:
        return []
    tests = []
    if min_age is not None:
        tests.append(_test("min_age", age >= min_age, UNDERAGE))
    if max_age is not None:
        tests.append(_test("max_age", age <= max_age, AGE_IMPLAUSIBLE))
    return tests


def birth_date_matches(raw: str, decoded: date | None, declared: date) -> bool:
    """Declared date vs the MRZ date; MRZ filler positions (unknown parts) match anything."""
    if decoded is not None:
        return decoded == declared
    wanted = declared.strftime("%y%m%d")
    return len(raw) == 6 and all(r in (p, m.FILLER) for r, p in zip(raw, wanted, strict=True))


def normalise_document_number(number: str) -> str:
    """Applicants type document numbers with spaces or hyphens; the MRZ has neither."""
    return re.sub(r"[\s\-<./]", "", number).upper()


def _declared_tests(result: m.MRZResult, declared: DeclaredData) -> tuple[list[ConsistencyTest], NameMatch]:
    fields = result.fields
    match = names_match(
        fields["surname"],
        fields["given_names"],
        declared.surname,
        declared.given_names,
        truncated=result.name_truncated,
    )
    tests = [_test("declared_name", match.matched, NAME_MISMATCH)]
    if declared.birth_date is not None:
        same = birth_date_matches(fields["birth_date"], result.birth_date, declared.birth_date)
        tests.append(_test("declared_birth_date", same, BIRTH_DATE_MISMATCH))
    if declared.nationality is not None:
        same = same_nationality(fields["nationality"], declared.nationality)
        tests.append(_test("declared_nationality", same, NATIONALITY_MISMATCH))
    if declared.document_number is not None:
        same = normalise_document_number(declared.document_number) == fields["document_number"]
        tests.append(_test("declared_document_number", same, DOCUMENT_NUMBER_MISMATCH))
    return tests, match


def score_of(tests: Sequence[ConsistencyTest]) -> float:
    """Fraction of applicable tests passed; 1.0 exactly when no test raised a reason code."""
    return round(sum(t.passed for t in tests) / len(tests), 4) if tests else 1.0


def _details(
    result: m.MRZResult, age: int | None, tests: Sequence[ConsistencyTest], match: NameMatch | None
) -> dict[str, Any]:
    fields: dict[str, Any] = dict(result.fields)
    fields["birth_date_iso"] = result.birth_date.isoformat() if result.birth_date else None
    fields["expiry_date_iso"] = result.expiry_date.isoformat() if result.expiry_date else None
    return {
        "format": result.format,
        "valid": result.valid,
        "as_of": result.as_of.isoformat(),
        "fields": fields,
        "issuer_name": code_name(result.fields["issuer"]),
        "nationality_name": code_name(result.fields["nationality"]),
        "check_digits": [cd.as_dict() for cd in result.check_digits],
        "age_years": age,
        "expired": result.expired,
        "name_truncated": result.name_truncated,
        "name_match": None
        if match is None
        else {"matched": match.matched, "similarity": match.similarity, "detail": match.detail},
        "tests": {t.name: t.passed for t in tests},
        "score_method": "fraction of applicable consistency tests passed",
    }


class MrzCheck(Check):
    """Parses the MRZ (``read_mrz``) and compares it with the declared data; see the module docstring."""

    name: ClassVar[str] = "mrz"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.SIMILARITY
    requires: ClassVar[tuple[str, ...]] = ("mrz_text",)
    Params: ClassVar[type[CheckParams]] = MrzParams
    params: MrzParams

    def run(self, evidence: Evidence) -> CheckResult:
        result = m.read_mrz(evidence.mrz_text or "", as_of=evidence.judged_on())
        if not result.readable:
            return self.result(Status.FAILED_TO_ACQUIRE, None, [m.UNREADABLE], {"problem": result.problem})
        age = result.age()
        tests = _digit_tests(result) + _structure_tests(result)
        tests += _age_tests(age, self.params.min_age, self.params.max_age)
        match = None
        if evidence.declared is not None:
            declared_tests, match = _declared_tests(result, evidence.declared)
            tests += declared_tests
        codes = [code for t in tests for code in t.codes]
        return self.result(Status.OK, score_of(tests), codes, _details(result, age, tests, match))

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        """One text file holding the MRZ lines (UTF-8, blank lines and surrounding whitespace ignored)."""
        if len(paths) != 1:
            raise InvalidInput(f"the mrz check reads one text file per sample, got {len(paths)}")
        with open(paths[0], "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise InvalidInput(f"{paths[0]}: larger than {MAX_FILE_BYTES} bytes, not an MRZ text file")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{paths[0]}: not UTF-8 text ({exc.reason})") from exc
        joined = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        if len(joined) > MAX_MRZ_LENGTH:
            raise InvalidInput(f"{paths[0]}: {len(joined)} characters, more than an MRZ ({MAX_MRZ_LENGTH})")
        return Evidence(mrz_text=joined)
