"""The template-free capture model (``document-capture``): the document itself, or a screen showing it?

A linear model over ``capture_signals.SCREEN_FEATURES`` with the same plain-JSON artifact, model card and
sha256 check as the template forensics model (``forensics_model``), trained by ``openidv train
document-capture`` on synthetic recaptures only. Print and photocopy models were trained the same way and
not shipped: on a real design they never saw they flagged too many genuine captures (the card has the
numbers).
"""

from __future__ import annotations

from openidv.checks.document.forensics_model import GENUINE, ForensicsModel, load_model

CAPTURE_MODEL_ID = "document-capture"
#: reason code per attack medium, attached when that medium is the model's most likely class
MEDIUM_CODES = {"screen_recapture": "DOC_SCREEN_RECAPTURE"}

__all__ = ["CAPTURE_MODEL_ID", "GENUINE", "MEDIUM_CODES", "attack_score", "load_capture_model"]


def attack_score(probabilities: dict[str, float]) -> float:
    """1 - P(genuine): the probability that the photo shows a screen, a print or a copy."""
    return round(1.0 - float(probabilities.get(GENUINE, 0.0)), 6)


def load_capture_model(folder: str | None = None) -> ForensicsModel:
    """The trained capture model, checked against its card's sha256."""
    return load_model(folder, CAPTURE_MODEL_ID)
