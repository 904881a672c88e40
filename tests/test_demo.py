"""`openidv demo` as a user runs it: every sample applicant gets the decision it is there to show."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from openidv.demo import run_demo


def test_demo_decisions_match_their_purpose(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENIDV_SHARED_DATA", str(shared_data))
    rows = run_demo(tmp_path / "out", console=Console(file=io.StringIO(), width=200))
    assert len(rows) >= 25
    for row in rows:
        assert row["decision"] == row["expected"], row
    written = json.loads((tmp_path / "out" / "decisions.json").read_text())
    assert [r["id"] for r in written] == [r["id"] for r in rows]
    reasons = {code for r in rows for code in r["reason_codes"]}
    assert {
        "DOC_EXPIRED",
        "APPLICANT_UNDERAGE",
        "DECLARED_NAME_MISMATCH",
        "MRZ_CHECK_DIGIT_BIRTH_DATE",
    } <= reasons
    assert {"FACE_MISMATCH", "FACE_PARTIAL", "FACE_DUPLICATE_IDENTITY"} <= reasons
    # approve needs a document photo and a selfie that matches it; the MRZ-only applicants say what is missing
    assert {"EVIDENCE_DOCUMENT_MISSING", "EVIDENCE_SELFIE_MISSING"} <= reasons
    assert any(r["decision"] == "approve" for r in rows)
    # the default PAD model (liveness-pad-v2) separates bona fide from attack and names no species
    assert {"PAD_ATTACK_SUSPECTED", "DEEPFAKE_SUSPECTED", "REPLAYED_CAPTURE"} <= reasons
    assert {
        "DOC_PORTRAIT_SUBSTITUTED",
        "DOC_MRZ_VIZ_MISMATCH",
        "DOC_BARCODE_MISMATCH",
        "DOC_SCREEN_RECAPTURE",
    } <= reasons
