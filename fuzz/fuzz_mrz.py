"""Fuzz the MRZ parser: ``read_mrz`` never raises (bad text is ``MRZ_UNREADABLE``), and the API's shape check
``normalise_mrz_text`` raises nothing but ``ValueError`` (the API's 422)."""

from __future__ import annotations

from datetime import date

import atheris

with atheris.instrument_imports(include=["openidv.checks.document.mrz", "openidv.api.schemas"]):
    from openidv.api.schemas import normalise_mrz_text
    from openidv.checks.document.mrz import LAYOUTS, read_mrz

AS_OF = date(2026, 1, 1)


def one_input(data: bytes) -> None:
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
