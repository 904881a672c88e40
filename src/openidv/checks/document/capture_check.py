"""``document_capture``: was the document itself photographed, or a screen showing it?

Template-free, so it runs on every design the reader finds (a known template or only an MRZ). Each photo
(front, and back when given) is measured on the located card, or on the centre of the photo when the card
was not located apart from its background; the score is the largest ``1 - P(genuine)`` over the photos,
meaning ``attack`` (the probability that a screen was photographed). ``DOC_SCREEN_RECAPTURE`` is attached
when the model ranks the screen above the document; the policy's tuned threshold decides. Prints and
photocopies are not judged here (their models did not hold on a real design; models/document-capture.yaml);
the template forensics judge them on our own designs. The model was trained on simulated screens only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from openidv.checks.document.capture_model import (
    GENUINE,
    MEDIUM_CODES,
    attack_score,
    load_capture_model,
)
from openidv.checks.document.capture_signals import measure_capture
from openidv.checks.document.photo_check import DocumentPhotoCheck
from openidv.checks.document.reader import SideReading
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


def side_signals(side: SideReading) -> dict[str, float]:
    """The capture signals of one photo, computed once per photo and located region."""
    located = side.located
    corners = located.corners if located is not None and located.method != "whole" else None
    key = ("document.capture_signals", None if corners is None else tuple(np.round(corners, 1).ravel()))
    return side.photo.memo(key, lambda: measure_capture(side.photo.bgr, corners))


class DocumentCaptureCheck(DocumentPhotoCheck):
    """Screen recapture of a document, on any design."""

    name: ClassVar[str] = "document_capture"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.ATTACK

    def run(self, evidence: Evidence) -> CheckResult:
        reading = self.reading(evidence)
        if not reading.found:
            return self.not_found(reading)
        model = load_capture_model()
        per_side: dict[str, Any] = {}
        worst: tuple[float, str] = (-1.0, GENUINE)
        for name, side in reading.sides.items():
            signals = side_signals(side)
            probabilities = model.probabilities(signals)
            score = attack_score(probabilities)
            top = max(probabilities, key=lambda c: probabilities[c])
            per_side[name] = {"score": score, "probabilities": probabilities, "signals": signals}
            if score > worst[0]:
                worst = (score, top)
        score, top = worst
        details: dict[str, Any] = {
            "sides": per_side,
            "model": f"{model.model_id} {model.meta.get('version', '')}".strip(),
            "template_free": True,
            "likely_medium": top if top != GENUINE else None,
            "score_method": "1 - P(genuine), the largest over the photos, from a model trained on simulated "
            "screen recaptures only",
        }
        codes = (MEDIUM_CODES[top],) if top in MEDIUM_CODES else ()
        return self.result(Status.OK, score, codes, details)
