"""Property tests: compose -> read_mrz round-trips in every format, and any single-character change that a
check digit covers is caught and named.

Which positions each check digit covers is written out here from Doc 9303 (parts 4 to 7), independently of
the layout tables in ``openidv.checks.document.mrz``.
"""

from __future__ import annotations

import string
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from openidv.checks.document.icao_codes import known_codes
from openidv.checks.document.mrz import compose_mrz, read_mrz

FORMATS = ("TD1", "TD2", "TD3", "MRV-A", "MRV-B")
NAME_WIDTH = {"TD1": 30, "TD2": 31, "TD3": 39, "MRV-A": 39, "MRV-B": 31}
OPTIONAL_WIDTH = {"TD1": 15, "TD2": 7, "TD3": 14, "MRV-A": 16, "MRV-B": 8}
OVERFLOW = {"TD1", "TD2"}
AS_OF = date(2024, 6, 30)
LETTERS = string.ascii_uppercase
ALNUM = LETTERS + string.digits
CODES = sorted(known_codes())

Position = tuple[int, int]


def _value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 55


@st.composite
def document_codes(draw: st.DrawFn, fmt: str) -> str:
    first = {"TD3": "P", "MRV-A": "V", "MRV-B": "V"}.get(fmt) or draw(st.sampled_from("ACI"))
    second = draw(st.sampled_from([""] + [c for c in LETTERS if c != "V"]))
    return first + second


@st.composite
def names(draw: st.DrawFn, width: int) -> tuple[str, str]:
    part = st.text(LETTERS, min_size=1, max_size=10)
    surname = draw(st.lists(part, min_size=1, max_size=3))
    given_names = draw(st.lists(part, min_size=0, max_size=3))
    text = "<".join(surname) + ("<<" + "<".join(given_names) if given_names else "")
    if len(text) > width:  # shorten instead of filtering, to keep hypothesis efficient
        given_names = []
        surname = ["".join(surname)[:width]]
    return " ".join(surname), " ".join(given_names)


@st.composite
def optional_text(draw: st.DrawFn, max_size: int) -> str:
    if max_size <= 0:
        return ""
    size = draw(st.integers(0, max_size))
    if size == 0:
        return ""
    if size == 1:
        return draw(st.sampled_from(ALNUM))
    middle = draw(st.text(ALNUM + "<", min_size=size - 2, max_size=size - 2))
    return draw(st.sampled_from(ALNUM)) + middle + draw(st.sampled_from(ALNUM))


@st.composite
def mrz_fields(draw: st.DrawFn, fmt: str) -> dict[str, str]:
    longest = 9 + OPTIONAL_WIDTH[fmt] - 1 if fmt in OVERFLOW else 9
    number = draw(st.text(ALNUM, min_size=1, max_size=longest))
    room = OPTIONAL_WIDTH[fmt]
    if len(number) > 9:
        room -= len(number) - 9 + 1 + 1  # overflow characters, their check digit, one filler
    surname, given_names = draw(names(NAME_WIDTH[fmt]))
    fields = {
        "document_code": draw(document_codes(fmt)),
        "issuer": draw(st.sampled_from(CODES)),
        "surname": surname,
        "given_names": given_names,
        "document_number": number,
        "nationality": draw(st.sampled_from(CODES)),
        "birth_date": draw(st.text(string.digits, min_size=6, max_size=6)),
        "sex": draw(st.sampled_from("MFX<")),
        "expiry_date": draw(st.text(string.digits, min_size=6, max_size=6)),
    }
    optional = draw(optional_text(room))
    if optional:
        fields["optional_data"] = optional
    if fmt == "TD1":
        optional_2 = draw(optional_text(11))
        if optional_2:
            fields["optional_data_2"] = optional_2
    return fields


formats_and_fields = st.sampled_from(FORMATS).flatmap(lambda fmt: st.tuples(st.just(fmt), mrz_fields(fmt)))


@given(formats_and_fields)
@settings(max_examples=400)
def test_compose_then_read_round_trips(case: tuple[str, dict[str, str]]) -> None:
    fmt, fields = case
    text = compose_mrz(fmt, fields)
    result = read_mrz(text, as_of=AS_OF)
    assert result.format == fmt
    assert result.fields == fields
    assert result.valid, result.check_digits
    assert all(d.ok for d in result.check_digits)


# ---------------------------------------------------------------------------------- coverage, from Doc 9303


def _span(line: int, start: int, end: int, names: set[str]) -> dict[Position, set[str]]:
    return {(line, col): set(names) for col in range(start, end)}


def _number_overflow(line: int, start: int, lines: list[str], fmt: str, doc: str) -> dict[Position, set[str]]:
    """Overflow characters and their check digit, at the start of the optional data field."""
    width = OPTIONAL_WIDTH[fmt]
    segment = lines[line][start : start + width].split("<")[0]
    composite = {"composite"}
    return _span(line, start, start + len(segment), {doc} | composite)


def coverage(fmt: str, lines: list[str]) -> dict[Position, set[str]]:
    """(line, column) -> names of the check digits covering that character (0-based columns)."""
    doc, birth, expiry = "document_number", "birth_date", "expiry_date"
    if fmt == "TD1":
        overflowed = lines[0][14] == "<"
        cover = _span(0, 5, 15, {doc, "composite"})
        cover |= _span(0, 15, 30, {"composite"})
        if overflowed:
            cover |= _number_overflow(0, 15, lines, fmt, doc)
        cover |= _span(1, 0, 7, {birth, "composite"}) | _span(1, 8, 15, {expiry, "composite"})
        cover |= _span(1, 18, 30, {"composite"})
        return cover
    composite = {"composite"} if fmt in ("TD2", "TD3") else set()
    cover = _span(1, 0, 10, {doc} | composite)
    cover |= _span(1, 13, 20, {birth} | composite) | _span(1, 21, 28, {expiry} | composite)
    if fmt == "TD3":
        cover |= _span(1, 28, 43, {"optional_data", "composite"}) | _span(1, 43, 44, {"composite"})
    if fmt == "TD2":
        cover |= _span(1, 28, 36, {"composite"})
        if lines[1][9] == "<":
            cover |= _number_overflow(1, 28, lines, fmt, doc)
    return cover


def _replacement(ch: str, choice: int) -> str:
    """Another character of the same class whose value differs modulo 10 (letters 10 apart collide)."""
    pool = string.digits if ch.isdigit() else LETTERS
    candidates = [c for c in pool if _value(c) % 10 != _value(ch) % 10]
    return candidates[choice % len(candidates)]


@given(formats_and_fields, st.integers(0, 10_000), st.integers(0, 100))
@settings(max_examples=500)
def test_any_covered_single_character_change_is_caught(
    case: tuple[str, dict[str, str]], where: int, choice: int
) -> None:
    fmt, fields = case
    lines = compose_mrz(fmt, fields).split("\n")
    cover = coverage(fmt, lines)
    mutable = sorted(pos for pos in cover if lines[pos[0]][pos[1]] != "<")
    line, col = mutable[where % len(mutable)]
    original = lines[line][col]
    lines[line] = lines[line][:col] + _replacement(original, choice) + lines[line][col + 1 :]
    result = read_mrz("\n".join(lines), as_of=AS_OF)
    assert result.format == fmt
    assert not result.valid
    expected = {f"MRZ_CHECK_DIGIT_{name.upper()}" for name in cover[(line, col)]}
    assert expected <= set(result.reason_codes), (line, col, original, result.reason_codes)


@given(formats_and_fields, st.integers(0, 10_000))
@settings(max_examples=200)
def test_uncovered_changes_do_not_touch_validity(case: tuple[str, dict[str, str]], where: int) -> None:
    """Names, codes and sex carry no check digit: changing them keeps ``valid`` (other tools rely on it)."""
    fmt, fields = case
    lines = compose_mrz(fmt, fields).split("\n")
    cover = coverage(fmt, lines)
    free = sorted(
        (r, c)
        for r in range(len(lines))
        for c in range(len(lines[r]))
        if (r, c) not in cover and (r, c) > (0, 1)
    )
    line, col = free[where % len(free)]
    lines[line] = lines[line][:col] + ("Q" if lines[line][col] != "Q" else "Z") + lines[line][col + 1 :]
    assert read_mrz("\n".join(lines), as_of=AS_OF).valid


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_read_mrz_never_raises_on_any_text(text: str) -> None:
    result = read_mrz(text, as_of=AS_OF)
    assert result.readable or result.reason_codes == ("MRZ_UNREADABLE",)


@given(
    st.sampled_from([(3, 30), (2, 36), (2, 44)]).flatmap(
        lambda shape: st.lists(
            st.text(ALNUM + "<", min_size=shape[1], max_size=shape[1]), min_size=shape[0], max_size=shape[0]
        )
    )
)
@settings(max_examples=300)
def test_any_text_of_an_mrz_shape_is_read(lines: list[str]) -> None:
    result = read_mrz("\n".join(lines), as_of=AS_OF)
    assert result.format is not None
    assert result.valid == all(d.ok for d in result.check_digits)
    assert set(result.fields) >= {"document_code", "issuer", "surname", "given_names", "document_number"}
