"""The reason-code catalogue is the single source: docs match it, and code emits only catalogued codes."""

from __future__ import annotations

import re
from pathlib import Path

from openidv.decision.reason_codes import catalogue, markdown

ROOT = Path(__file__).resolve().parents[1]
CODE_LITERAL = re.compile(
    r"[\"']((?:MRZ|DOC|FACE|DECLARED|APPLICANT|CHECK|PAD|DEEPFAKE|INJECTION|REPLAYED|DEVICE|GRAPH|VENDOR)_[A-Z0-9_]+)[\"']"
)


def test_docs_are_generated_from_the_catalogue() -> None:
    doc = ROOT / "docs" / "reason-codes.md"
    assert doc.read_text(encoding="utf-8") == markdown(), (
        "docs/reason-codes.md is stale: run "
        "`python -m openidv.decision.reason_codes --markdown > docs/reason-codes.md`"
    )


def test_every_code_literal_in_the_package_is_catalogued() -> None:
    known = catalogue()
    unknown = {}
    for path in (ROOT / "src" / "openidv").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for code in CODE_LITERAL.findall(text):
            defined_here = re.search(rf"^{code}\s*[:=]", text, re.M)  # a constant's name in ``__all__``
            if code not in known and not code.endswith("_") and not defined_here:
                unknown[code] = path.relative_to(ROOT)
    assert not unknown, f"reason codes missing from reason_codes.yaml: {unknown}"


def test_catalogue_entries_are_complete() -> None:
    for code, entry in catalogue().items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", code)
        assert entry.category and len(entry.description) > 20, code
