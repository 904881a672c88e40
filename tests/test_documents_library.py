"""``openidv.library.documents.read_document``: any image-like input, the report the CLI prints, and the
policy's verdict on each forensic score."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from openidv.decision.policy import load_policy
from openidv.library.documents import DocumentReport, read_document
from tests.documents_data import AS_OF, clean_set


def test_read_document_from_paths_bytes_and_arrays() -> None:
    folder = clean_set("uto-id-card").parent
    front, back = folder / "doc00000_front.jpg", folder / "doc00000_back.jpg"
    report = read_document(front, back, as_of=AS_OF)
    assert isinstance(report, DocumentReport) and report.template == "uto-id-card"
    assert report.fields["surname"]["mrz"] and report.fields["surname"]["printed"]
    assert (
        report.reading["mrz"] and report.reading["mrz_fields"]["surname"] == report.fields["surname"]["mrz"]
    )
    assert report.findings and all("passed" in f for f in report.findings)
    assert "total" in report.timings_ms and report.decision.policy_version
    again = read_document(front.read_bytes(), np.asarray(PILImage.open(back).convert("RGB")), as_of=AS_OF)
    assert again.template == report.template and again.fields == report.fields


def test_forensic_scores_carry_the_policy_verdict() -> None:
    folder = clean_set("uto-passport").parent
    policy = load_policy()
    report = read_document(folder / "doc00000_front.jpg", as_of=AS_OF, policy=policy)
    judged = {name: s for name, s in report.scores.items() if s.verdict is not None}
    assert "document_portrait_substitution" in judged
    for name, s in judged.items():
        assert s.meaning == "attack" and s.verdict is not None
        assert s.verdict.value == policy.threshold(name, "attack").value
        assert s.verdict.holds is False  # a clean genuine capture
    assert report.scores["document_read"].verdict is None
