"""Fuzz the AAMVA (PDF417 licence barcode) payload parser: a record or None, for bytes and text alike."""

from __future__ import annotations

from contextlib import nullcontext

import atheris

# instrumented for coverage when run by libFuzzer; imported plainly when tests/test_fuzz.py replays the corpus
with (
    atheris.instrument_imports(include=["openidv.checks.document.aamva"])
    if __name__ == "__main__"
    else nullcontext()
):
    from openidv.checks.document.aamva import AamvaRecord, parse_aamva


def one_input(data: bytes) -> None:
    for payload in (data, data.decode("utf-8", errors="replace")):
        record = parse_aamva(payload)
        assert record is None or isinstance(record, AamvaRecord)
        if record is not None:
            assert all(isinstance(v, str) for v in record.fields.values())


if __name__ == "__main__":
    from harness import main

    main(one_input)
