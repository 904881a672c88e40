"""Fuzz the MRZ parser: ``read_mrz`` never raises (bad text is ``MRZ_UNREADABLE``), and the API's shape check
``normalise_mrz_text`` raises nothing but ``ValueError`` (the API's 422).

Each input is read twice: as raw text, and shaped into an MRZ (its first byte picks TD1, TD2 or TD3, the rest
is mapped onto the MRZ alphabet and cut into lines), so the fuzzer spends its time in the field, date, name
and check-digit code rather than in the shape check. A shaped MRZ must be readable; a valid one must survive
``compose_mrz`` of its own fields (parse, compose, parse gives the same fields)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date

import atheris

# instrumented for coverage when run by libFuzzer; imported plainly when tests/test_fuzz.py replays the corpus
with (
    atheris.instrument_imports(include=["openidv.checks.document.mrz", "openidv.api.schemas"])
    if __name__ == "__main__"
    else nullcontext()
):
    from openidv.api.schemas import normalise_mrz_text
    from openidv.checks.document.mrz import LAYOUTS, MRZ_ALPHABET, Span, check_digit, compose_mrz, read_mrz

AS_OF = date(2026, 1, 1)
ALPHABET = sorted(MRZ_ALPHABET)
SHAPES = ((3, 30), (2, 36), (2, 44))


def shaped(data: bytes) -> str:
    """``data`` as MRZ text of the shape its first byte picks (short inputs are padded with fillers)."""
    lines, width = SHAPES[data[0] % 3] if data else SHAPES[2]
    chars = [ALPHABET[b % len(ALPHABET)] for b in data[1 : 1 + lines * width]]
    chars += ["<"] * (lines * width - len(chars))
    return "\n".join("".join(chars[i * width : (i + 1) * width]) for i in range(lines))


def with_check_digits(text: str, fmt: str) -> str:
    """``text`` with every check digit of its format written in (the composite last: it covers the rest)."""
    layout = LAYOUTS[fmt]
    lines = [list(line) for line in text.split("\n")]

    def get(span: Span) -> str:
        return "".join(lines[span.line][span.start : span.end])

    def put(span: Span | None, covered: str) -> None:
        if span is not None:
            lines[span.line][span.start : span.end] = str(check_digit(covered))

    if not (layout.overflow and get(layout.document_number_cd) == "<"):
        put(layout.document_number_cd, get(layout.document_number))
    put(layout.birth_date_cd, get(layout.birth_date))
    put(layout.expiry_date_cd, get(layout.expiry_date))
    put(layout.optional_data_cd, get(layout.optional_data))
    put(layout.composite_cd, "".join(get(span) for span in layout.composite))
    return "\n".join("".join(line) for line in lines)


def one_input(data: bytes) -> None:
    raw(data)
    text = shaped(data)
    result = read_mrz(text, as_of=AS_OF)
    assert result.readable, (text, result.problem)
    if data and data[0] & 4:  # half the shaped inputs get valid check digits, so the deep paths are reached
        text = with_check_digits(text, result.format or "")
        result = read_mrz(text, as_of=AS_OF)
    if not result.valid:
        return
    try:
        composed = compose_mrz(result.format or "", result.fields)
    except ValueError:
        return  # fields compose_mrz refuses to write (e.g. a name it would truncate): not a round trip
    again = read_mrz(composed, as_of=AS_OF)
    assert again.valid and again.fields == result.fields, (text, composed)


def raw(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    result = read_mrz(text, as_of=AS_OF)
    assert result.format is None or result.format in LAYOUTS, result.format
    assert not result.valid or result.readable
    result.as_dict()
    try:
        normalised = normalise_mrz_text(text)
    except ValueError:
        return
    # the API's shape check lets through only text the parser can lay out
    assert read_mrz(normalised, as_of=AS_OF).readable, normalised


if __name__ == "__main__":
    from harness import main

    main(one_input)
