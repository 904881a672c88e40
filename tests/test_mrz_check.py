"""The ``mrz`` check: registry, score, reason codes, declared-data comparison and dataset files."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from openidv.checks.document.mrz import compose_mrz
from openidv.checks.document.mrz_check import MrzCheck
from openidv.checks.document.params import MrzParams
from openidv.checks.registry import create_check, get_check_class
from openidv.decision.reason_codes import is_known
from openidv.errors import ConfigurationError, InvalidInput
from openidv.evidence import DeclaredData, Evidence
from openidv.results import Meaning, Status

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
AS_OF = date(2010, 1, 1)
ANNA = DeclaredData(
    surname="Eriksson",
    given_names="Anna Maria",
    birth_date=date(1974, 8, 12),
    nationality="UTO",
    document_number="L898902C3",
)
FIELDS = {
    "document_code": "P",
    "issuer": "D",
    "surname": "MUELLER",
    "given_names": "JUERGEN",
    "document_number": "C01X00T47",
    "nationality": "D",
    "birth_date": "080315",
    "sex": "M",
    "expiry_date": "300101",
    "optional_data": "",
}


def run(mrz: str = TD3, declared: DeclaredData | None = ANNA, as_of: date = AS_OF, **params: Any) -> Any:
    return MrzCheck(**params).run(Evidence(mrz_text=mrz, declared=declared, as_of=as_of))


def test_registered_under_its_name() -> None:
    assert get_check_class("mrz") is MrzCheck
    check = create_check("mrz", {"min_age": 21})
    assert (check.name, check.version, check.meaning) == ("mrz", "1.0.0", Meaning.SIMILARITY)
    assert check.requires == ("mrz_text",)
    assert check.params == MrzParams(min_age=21, max_age=130)
    with pytest.raises(ConfigurationError, match="min_agee"):
        create_check("mrz", {"min_agee": 3})
    assert not check.applies_to(Evidence()) and check.applies_to(Evidence(mrz_text=TD3))


def test_consistent_document_scores_one_with_full_details() -> None:
    result = run()
    assert result.status is Status.OK and result.score == 1.0 and result.reason_codes == ()
    details = result.details
    assert details["format"] == "TD3" and details["valid"] is True
    assert details["fields"]["birth_date"] == "740812" and details["fields"]["birth_date_iso"] == "1974-08-12"
    assert details["fields"]["expiry_date_iso"] == "2012-04-15"
    assert [d["name"] for d in details["check_digits"]] == [
        "document_number",
        "birth_date",
        "expiry_date",
        "optional_data",
        "composite",
    ]
    assert all(d["ok"] and d["expected"] == d["found"] for d in details["check_digits"])
    assert details["age_years"] == 35
    assert details["name_match"] == {"matched": True, "similarity": 1.0, "detail": "same name"}
    assert all(details["tests"].values()) and len(details["tests"]) == 20


def test_expired_document() -> None:
    result = run(as_of=date(2013, 1, 1))
    assert result.status is Status.OK
    assert result.reason_codes == ("DOC_EXPIRED",)
    assert result.details["expired"] is True
    assert result.score == round(19 / 20, 4)


def test_underage_with_min_age_param() -> None:
    mrz = compose_mrz("TD3", FIELDS)
    declared = DeclaredData(surname="Müller", given_names="Jürgen", birth_date=date(2008, 3, 15))
    as_of = date(2025, 3, 14)  # the day before the 17th birthday
    young = run(mrz, declared, as_of)
    assert young.details["age_years"] == 16
    assert young.reason_codes == ("APPLICANT_UNDERAGE",)
    assert run(mrz, declared, as_of, min_age=16).reason_codes == ()
    assert run(mrz, declared, date(2026, 3, 15)).reason_codes == ()  # 18 today
    assert run(mrz, declared, date(2026, 3, 14)).reason_codes == ("APPLICANT_UNDERAGE",)
    assert run(mrz, declared, as_of, min_age=None).reason_codes == ()


def test_max_age() -> None:
    old = run(max_age=30)
    assert old.reason_codes == ("APPLICANT_AGE_IMPLAUSIBLE",)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"surname": "Andersson"}, "DECLARED_NAME_MISMATCH"),
        ({"given_names": "Sofia"}, "DECLARED_NAME_MISMATCH"),
        ({"birth_date": date(1974, 8, 13)}, "DECLARED_BIRTH_DATE_MISMATCH"),
        ({"birth_date": date(1874, 8, 12)}, "DECLARED_BIRTH_DATE_MISMATCH"),  # the century counts
        ({"nationality": "SWE"}, "DECLARED_NATIONALITY_MISMATCH"),
        ({"nationality": "ZZ"}, "DECLARED_NATIONALITY_MISMATCH"),
        ({"document_number": "L898902C4"}, "DECLARED_DOCUMENT_NUMBER_MISMATCH"),
    ],
)
def test_each_declared_mismatch_has_its_own_code(change: dict[str, Any], code: str) -> None:
    declared = ANNA.model_copy(update=change)
    result = run(declared=declared)
    assert result.reason_codes == (code,)
    assert result.score == round(19 / 20, 4)
    assert (
        result.details["tests"][
            f"declared_{code.removeprefix('DECLARED_').removesuffix('_MISMATCH').lower()}"
        ]
        is False
    )


def test_declared_data_is_compared_tolerantly() -> None:
    mrz = compose_mrz("TD3", FIELDS)
    declared = DeclaredData(
        surname="Müller",
        given_names="Jürgen",
        birth_date=date(2008, 3, 15),
        nationality="DE",
        document_number="c01x 00t-47",
    )
    result = run(mrz, declared, date(2027, 1, 1))
    assert result.reason_codes == (), result.details
    assert result.details["nationality_name"] == "Germany"
    assert run(mrz, declared.model_copy(update={"nationality": "DEU"}), date(2027, 1, 1)).reason_codes == ()


def test_partly_unknown_birth_date() -> None:
    mrz = compose_mrz("TD3", {**FIELDS, "birth_date": "08<<<<"})
    declared = DeclaredData(surname="Mueller", given_names="Juergen", birth_date=date(2008, 3, 15))
    result = run(mrz, declared, date(2027, 1, 1))
    assert result.reason_codes == ("MRZ_BIRTH_DATE_UNKNOWN",)  # the birth date still agrees where known
    assert result.details["age_years"] is None and "min_age" not in result.details["tests"]
    other = run(mrz, declared.model_copy(update={"birth_date": date(2009, 3, 15)}), date(2027, 1, 1))
    assert "DECLARED_BIRTH_DATE_MISMATCH" in other.reason_codes


def test_without_declared_data_only_the_document_is_judged() -> None:
    result = run(declared=None)
    assert result.reason_codes == () and result.details["name_match"] is None
    assert not any(name.startswith("declared_") for name in result.details["tests"])


def test_broken_check_digits_lower_the_score() -> None:
    forged = TD3[:-30] + "9" + TD3[-29:]  # a changed birth-date digit, check digits left as they were
    result = run(forged, declared=None)
    assert result.status is Status.OK
    assert result.reason_codes == ("MRZ_CHECK_DIGIT_BIRTH_DATE", "MRZ_CHECK_DIGIT_COMPOSITE")
    assert result.details["valid"] is False
    assert result.score == round(14 / 16, 4)


@pytest.mark.parametrize("text", ["hello", "P<UTO\nL898", TD3.lower()])
def test_unreadable_text_is_a_failure_to_acquire(text: str) -> None:
    result = run(text)
    assert result.status is Status.FAILED_TO_ACQUIRE
    assert result.reason_codes == ("MRZ_UNREADABLE",) and result.score is None
    assert result.details["problem"]


def test_every_code_it_can_emit_is_catalogued() -> None:
    results = [
        run(),
        run(as_of=date(2030, 1, 1), max_age=10, min_age=99),
        run(
            declared=DeclaredData(
                surname="X",
                given_names="Y",
                birth_date=date(2000, 1, 1),
                nationality="FR",
                document_number="1",
            )
        ),
        run("hello"),
        run(TD3[:-30] + "9" + TD3[-29:]),
    ]
    codes = {code for r in results for code in r.reason_codes}
    assert len(codes) >= 8
    assert all(is_known(code) for code in codes), codes


def test_evidence_from_files(tmp_path: Path) -> None:
    path = tmp_path / "sample.txt"
    path.write_bytes(b"\xef\xbb\xbf\r\n  " + TD3.replace("\n", "\r\n\r\n").encode() + b"  \r\n")
    evidence = MrzCheck().evidence_from_files([path])
    assert evidence.mrz_text == TD3
    assert MrzCheck().run(evidence).status is Status.OK


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"A" * 5000, "larger than"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (("P" * 44 + "\n") * 5, "more than an MRZ"),
    ],
)
def test_evidence_from_bad_files(tmp_path: Path, content: bytes | str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InvalidInput, match=message):
        MrzCheck().evidence_from_files([path])
    with pytest.raises(InvalidInput, match="one text file"):
        MrzCheck().evidence_from_files([path, path])
