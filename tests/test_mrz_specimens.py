"""read_mrz on the ICAO Doc 9303 specimens, hand-built edge cases and the TD1/TD2 document-number overflow."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import openidv
from openidv.checks.document.mrz import check_digit, compose_mrz, read_mrz

AS_OF = date(2010, 1, 1)  # before the specimens' 2012 expiry
TD3 = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
TD1 = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]
CHECK_DIGIT_CODES = {
    "MRZ_CHECK_DIGIT_DOCUMENT_NUMBER",
    "MRZ_CHECK_DIGIT_BIRTH_DATE",
    "MRZ_CHECK_DIGIT_EXPIRY_DATE",
    "MRZ_CHECK_DIGIT_OPTIONAL_DATA",
    "MRZ_CHECK_DIGIT_COMPOSITE",
}


def cd(data: str) -> str:
    """An independent 7-3-1 check digit, so the tests do not trust the code under test."""
    values = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}, "<": 0}
    return str(sum(values[ch] * (7, 3, 1)[i % 3] for i, ch in enumerate(data)) % 10)


def specimens(shared_data: Path) -> list[dict[str, Any]]:
    data = json.loads((shared_data / "mrz" / "icao_specimens.json").read_text(encoding="utf-8"))
    return list(data["specimens"])


def test_every_specimen_parses_to_exactly_its_fields(shared_data: Path) -> None:
    found = specimens(shared_data)
    assert {s["format"] for s in found} == {"TD1", "TD2", "TD3", "MRV-A", "MRV-B"}
    for specimen in found:
        result = read_mrz("\n".join(specimen["lines"]), as_of=AS_OF)
        assert result.format == specimen["format"]
        assert result.fields == specimen["fields"], specimen["format"]
        assert result.valid, specimen["format"]
        assert result.check_digits and all(d.ok for d in result.check_digits)
        assert not CHECK_DIGIT_CODES & set(result.reason_codes)
        assert result.birth_date is not None and result.expiry_date is not None


def test_specimens_compose_back_to_their_lines(shared_data: Path) -> None:
    for specimen in specimens(shared_data):
        assert compose_mrz(specimen["format"], specimen["fields"]).split("\n") == specimen["lines"]


def test_specimen_dates_and_expiry() -> None:
    td3 = read_mrz("\n".join(TD3), as_of=AS_OF)
    assert td3.birth_date == date(1974, 8, 12) and td3.expiry_date == date(2012, 4, 15)
    assert td3.expired is False and td3.reason_codes == ()
    later = read_mrz("\n".join(TD3), as_of=date(2020, 1, 1))
    assert later.expired is True and later.reason_codes == ("DOC_EXPIRED",) and later.valid
    assert later.age() == 45


def test_check_digit_values_from_doc_9303() -> None:
    assert check_digit("L898902C3") == 6
    assert check_digit("740812") == 2
    assert check_digit("120415") == 9
    assert check_digit("ZE184226B<<<<<") == 1
    assert check_digit("520727") == 3
    assert check_digit("<<<<<<") == 0


def test_check_digits_are_reported_with_expected_and_found() -> None:
    result = read_mrz("\n".join(TD3), as_of=AS_OF)
    assert [(d.name, d.expected, d.found, d.ok) for d in result.check_digits] == [
        ("document_number", "6", "6", True),
        ("birth_date", "2", "2", True),
        ("expiry_date", "9", "9", True),
        ("optional_data", "1", "1", True),
        ("composite", "0", "0", True),
    ]


def test_package_level_read_mrz() -> None:
    assert openidv.read_mrz is read_mrz
    assert "read_mrz" in openidv.__all__


# ------------------------------------------------------------------------------------------ input tolerance


@pytest.mark.parametrize(
    "text",
    [
        "\r\n".join(TD3),
        "\n\n  " + TD3[0] + "  \n\n" + TD3[1] + "\n\n",
        TD3[0][:20] + " " + TD3[0][20:] + "\n" + TD3[1][:9] + "  " + TD3[1][9:],  # OCR spaces
        TD3[0] + TD3[1],  # newlines lost
    ],
)
def test_tolerated_layouts(text: str) -> None:
    result = read_mrz(text, as_of=AS_OF)
    assert result.format == "TD3" and result.valid and result.lines == tuple(TD3)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \n\n ", "empty"),
        ("\n".join(line.lower() for line in TD3), "lower-case"),
        (TD3[0] + "\n" + TD3[1][:-1], "2 line(s) of 44, 43"),
        (TD3[0].replace("<", "«", 1) + "\n" + TD3[1], "outside the MRZ alphabet"),
        ("\n".join(TD3) + "\n" + TD1[0], "3 line(s)"),
        ("X" * 5000, "too long"),
    ],
)
def test_unreadable_text(text: str, problem: str) -> None:
    result = read_mrz(text, as_of=AS_OF)
    assert result.format is None and not result.valid and not result.readable
    assert result.reason_codes == ("MRZ_UNREADABLE",)
    assert result.problem is not None and problem in result.problem
    assert result.fields == {} and result.check_digits == ()


def test_visa_and_travel_document_of_the_same_size_are_told_apart_by_the_code() -> None:
    visa = read_mrz("V" + TD3[0][1:] + "\n" + TD3[1], as_of=AS_OF)
    assert visa.format == "MRV-A"
    assert [d.name for d in visa.check_digits] == ["document_number", "birth_date", "expiry_date"]


# ------------------------------------------------------------------------------------------ field rules


def _td3(**changes: str) -> str:
    fields = {
        "document_code": "P",
        "issuer": "UTO",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "document_number": "L898902C3",
        "nationality": "UTO",
        "birth_date": "740812",
        "sex": "F",
        "expiry_date": "120415",
        "optional_data": "ZE184226B",
    }
    fields.update(changes)
    return compose_mrz("TD3", fields)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"document_code": "X"}, "MRZ_DOCUMENT_CODE_INVALID"),
        ({"document_code": "I"}, "MRZ_DOCUMENT_CODE_INVALID"),
        ({"issuer": "ZIM"}, "MRZ_ISSUER_UNKNOWN"),
        ({"issuer": "WSA"}, "MRZ_ISSUER_UNKNOWN"),
        ({"nationality": "QQQ"}, "MRZ_NATIONALITY_UNKNOWN"),
        ({"sex": "Q"}, "MRZ_SEX_INVALID"),
        ({"birth_date": "741312"}, "MRZ_BIRTH_DATE_INVALID"),
        ({"birth_date": "7408<2"}, "MRZ_BIRTH_DATE_INVALID"),
        ({"birth_date": "74<<<<"}, "MRZ_BIRTH_DATE_UNKNOWN"),
        ({"birth_date": "7408<<"}, "MRZ_BIRTH_DATE_UNKNOWN"),
        ({"expiry_date": "120431"}, "MRZ_EXPIRY_DATE_INVALID"),
        ({"surname": "ERIKSSONWITHAVERYLONGDOUBLENAMEXY", "given_names": "ANNA"}, "MRZ_NAME_TRUNCATED"),
    ],
)
def test_each_problem_has_its_own_code_and_keeps_check_digits_valid(
    changes: dict[str, str], code: str
) -> None:
    result = read_mrz(_td3(**changes), as_of=AS_OF)
    assert result.valid, "check digits were computed over the changed field"
    assert code in result.reason_codes
    assert len(result.reason_codes) == 1, result.reason_codes


def test_known_special_codes_are_accepted() -> None:
    for code in ("D", "GBN", "XXA", "XXX", "UNO", "EUE", "XOM", "XPO", "RKS", "UTO", "DEU"):
        result = read_mrz(_td3(issuer=code, nationality=code), as_of=AS_OF)
        assert result.reason_codes == (), code
    german = read_mrz(_td3(issuer="D", nationality="D"), as_of=AS_OF)
    assert german.lines[0][2:5] == "D<<" and german.fields["issuer"] == "D"


def test_name_with_digits_is_invalid() -> None:
    lines = _td3().split("\n")
    bad = lines[0][:8] + "1" + lines[0][9:]
    result = read_mrz(bad + "\n" + lines[1], as_of=AS_OF)
    assert "MRZ_NAME_INVALID" in result.reason_codes and result.valid


def test_name_truncation_flag() -> None:
    fields = {**read_mrz(_td3()).fields, "surname": "ERIKSSONWITHAVERYLONGDOUBLENAME"}
    result = read_mrz(compose_mrz("TD3", fields, truncate_name=True), as_of=AS_OF)
    assert result.name_truncated and result.lines[0].endswith("<<ANNA<M")
    assert result.fields["given_names"] == "ANNA M"
    assert read_mrz(_td3(), as_of=AS_OF).name_truncated is False


def test_surname_only_and_multi_part_names() -> None:
    result = read_mrz(_td3(surname="VAN DER BERG", given_names=""), as_of=AS_OF)
    assert result.lines[0].startswith("P<UTOVAN<DER<BERG<<<<")
    assert result.fields["surname"] == "VAN DER BERG" and result.fields["given_names"] == ""


def test_unknown_expiry_is_not_invalid() -> None:
    result = read_mrz(_td3(expiry_date="<<<<<<"), as_of=AS_OF)
    assert result.valid and result.expiry_date is None and result.expired is None
    assert result.reason_codes == ()


def test_td3_optional_data_check_digit_filler_or_zero_when_empty() -> None:
    lines = compose_mrz("TD3", {**read_mrz("\n".join(TD3)).fields, "optional_data": ""}).split("\n")
    assert lines[1][28:43] == "<" * 15
    assert read_mrz("\n".join(lines), as_of=AS_OF).valid
    zero = lines[1][:42] + "0" + lines[1][43:]
    assert read_mrz(lines[0] + "\n" + zero, as_of=AS_OF).valid  # '<' and '0' both count 0 in the composite
    filled = TD3[1][:42] + "<" + TD3[1][43:]
    result = read_mrz(TD3[0] + "\n" + filled, as_of=AS_OF)
    assert not result.valid and "MRZ_CHECK_DIGIT_OPTIONAL_DATA" in result.reason_codes


def test_wrong_check_digit_names_its_field() -> None:
    line2 = TD3[1][:19] + "3" + TD3[1][20:]
    result = read_mrz(TD3[0] + "\n" + line2, as_of=AS_OF)
    assert not result.valid
    assert "MRZ_CHECK_DIGIT_BIRTH_DATE" in result.reason_codes
    assert "MRZ_CHECK_DIGIT_COMPOSITE" in result.reason_codes
    bad = next(d for d in result.check_digits if d.name == "birth_date")
    assert (bad.expected, bad.found, bad.ok) == ("2", "3", False)


# ------------------------------------------------------------------------------------------ centuries


@pytest.mark.parametrize(
    ("raw", "as_of", "born"),
    [
        ("740812", date(2025, 6, 1), date(1974, 8, 12)),
        ("000229", date(2025, 6, 1), date(2000, 2, 29)),
        ("250601", date(2025, 5, 31), date(1925, 6, 1)),  # 2025-06-01 would lie in the future
        ("250531", date(2025, 5, 31), date(2025, 5, 31)),  # born today
        ("991231", date(2000, 1, 1), date(1999, 12, 31)),
    ],
)
def test_birth_century_is_the_latest_not_in_the_future(raw: str, as_of: date, born: date) -> None:
    result = read_mrz(_td3(birth_date=raw), as_of=as_of)
    assert result.birth_date == born


@pytest.mark.parametrize(
    ("raw", "as_of", "expires"),
    [
        ("120415", date(2010, 1, 1), date(2012, 4, 15)),
        ("961210", date(2010, 1, 1), date(1996, 12, 10)),
        ("350101", date(2025, 1, 1), date(2035, 1, 1)),
        ("750101", date(2025, 1, 1), date(2075, 1, 1)),  # exactly 50 years ahead: still this century
        ("760101", date(2025, 1, 1), date(1976, 1, 1)),
        ("050101", date(2095, 1, 1), date(2105, 1, 1)),
    ],
)
def test_expiry_century_within_fifty_years(raw: str, as_of: date, expires: date) -> None:
    assert read_mrz(_td3(expiry_date=raw), as_of=as_of).expiry_date == expires


# ------------------------------------------------------------------------------------------ TD1 overflow


def _td1_overflow_lines(number: str, optional: str = "", check: str | None = None) -> list[str]:
    """A TD1 with a long document number, built by hand with independently computed check digits."""
    check = cd(number) if check is None else check
    optional_field = (number[9:] + check + ("<" + optional if optional else "")).ljust(15, "<")
    line1 = "I<UTO" + number[:9] + "<" + optional_field
    line2 = "7408122F1204159UTO<<<<<<<<<<<"
    composite = cd(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    return [line1, line2 + composite, "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]


@pytest.mark.parametrize(
    ("number", "optional"),
    [
        ("D23145890734", ""),
        ("D23145890734", "AB12"),
        ("D231458907", ""),  # one overflow character
        ("D2314589012345678901234", ""),  # fills the whole optional data field
        ("D23145890123456", "X"),
    ],
)
def test_td1_overflow_document_number(number: str, optional: str) -> None:
    lines = _td1_overflow_lines(number, optional)
    assert lines[0][14] == "<" and len(lines[0]) == 30
    result = read_mrz("\n".join(lines), as_of=AS_OF)
    assert result.valid, result.check_digits
    assert result.fields["document_number"] == number
    assert result.fields.get("optional_data", "") == optional
    digit = next(d for d in result.check_digits if d.name == "document_number")
    assert digit.expected == digit.found == cd(number)
    assert compose_mrz("TD1", result.fields).split("\n") == lines


def test_td1_overflow_with_a_wrong_check_digit() -> None:
    number = "D23145890734"
    wrong = str((int(cd(number)) + 1) % 10)
    result = read_mrz("\n".join(_td1_overflow_lines(number, check=wrong)), as_of=AS_OF)
    assert not result.valid
    assert result.reason_codes == ("MRZ_CHECK_DIGIT_DOCUMENT_NUMBER",)  # the composite was built on it


def test_td1_overflow_announced_but_missing() -> None:
    line1 = "I<UTOD23145890<<<<<<<<<<<<<<<<"
    line2 = "7408122F1204159UTO<<<<<<<<<<<"
    lines = [line1, line2 + cd(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]), TD1[2]]
    result = read_mrz("\n".join(lines), as_of=AS_OF)
    assert not result.valid and result.reason_codes == ("MRZ_CHECK_DIGIT_DOCUMENT_NUMBER",)
    assert result.fields["document_number"] == "D23145890"


def test_td1_optional_data_of_line_two() -> None:
    fields = {**read_mrz("\n".join(TD1)).fields, "optional_data": "ABC", "optional_data_2": "X1<Y2"}
    lines = compose_mrz("TD1", fields).split("\n")
    assert lines[0][15:18] == "ABC" and lines[1][18:23] == "X1<Y2"
    result = read_mrz("\n".join(lines), as_of=AS_OF)
    assert result.valid and result.fields == fields


def test_td2_overflow_document_number() -> None:
    fields = {**read_mrz("\n".join(TD3)).fields, "document_code": "I", "document_number": "AB1234567890"}
    del fields["optional_data"]
    lines = compose_mrz("TD2", fields).split("\n")
    assert lines[1][9] == "<" and lines[1][28:32] == "890" + cd("AB1234567890")
    result = read_mrz("\n".join(lines), as_of=AS_OF)
    assert result.valid and result.fields == fields


def test_compose_refuses_what_does_not_fit() -> None:
    fields = read_mrz("\n".join(TD3)).fields
    with pytest.raises(ValueError, match="at most 9"):
        compose_mrz("TD3", {**fields, "document_number": "L898902C3X"})
    with pytest.raises(ValueError, match="longer than"):
        compose_mrz("TD1", {**fields, "surname": "A" * 31})
    with pytest.raises(ValueError, match="transliterate"):
        compose_mrz("TD3", {**fields, "surname": "MÜLLER"})
    with pytest.raises(ValueError, match="unknown MRZ format"):
        compose_mrz("TD4", fields)
    with pytest.raises(ValueError, match="missing"):
        compose_mrz("TD3", {"surname": "X"})
    with pytest.raises(ValueError, match="YYMMDD"):
        compose_mrz("TD3", {**fields, "birth_date": "1974-08-12"})
