"""Forensic analysis of a document reading: the measured signals and the model's class probabilities,
computed once per request and shared by the forensic checks."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from openidv.checks.document import forensics
from openidv.checks.document.forensics_model import GENUINE, load_model
from openidv.checks.document.params import ReaderParams
from openidv.checks.document.reader import READER_VERSION, DocumentReading, SideReading, cached_reading
from openidv.checks.document.templates import references
from openidv.errors import ConfigurationError
from openidv.imageio import Image


@dataclass(frozen=True)
class ForensicReport:
    side: str | None
    signals: dict[str, float]
    probabilities: dict[str, float] = field(default_factory=dict)
    model: str | None = None
    problem: str | None = None

    @property
    def attack_probability(self) -> float | None:
        return round(1.0 - self.probabilities[GENUINE], 6) if GENUINE in self.probabilities else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "signals": self.signals,
            "probabilities": self.probabilities,
            "attack_probability": self.attack_probability,
            "model": self.model,
            "problem": self.problem,
        }


@functools.cache
def reference_chroma(template_id: str, side: str) -> float:
    ref = references()[(template_id, side)]
    return float(np.hypot(ref[..., 1] - 128, ref[..., 2] - 128).mean())


def _photo_region(side: SideReading) -> np.ndarray[Any, np.dtype[np.uint8]]:
    assert side.located is not None
    pts = side.located.corners
    h, w = side.photo.height, side.photo.width
    x0, y0 = np.clip(pts.min(axis=0).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(pts.max(axis=0).astype(int), 1, [w, h])
    # the central half of the document's bounding box: document pixels at the photo's own resolution
    cx, cy, hw, hh = (x0 + x1) // 2, (y0 + y1) // 2, (x1 - x0) // 4, (y1 - y0) // 4
    return np.ascontiguousarray(side.photo.bgr[cy - hh : cy + hh, cx - hw : cx + hw])


def signal_side(reading: DocumentReading) -> tuple[str, SideReading] | None:
    """The side the signals are measured on: the one with the portrait (the front), else any found side."""
    spec = reading.spec
    for name, side in reading.sides.items():
        if side.found and spec and spec.sides.get(name) and spec.sides[name].portrait:
            return name, side
    return next(((n, s) for n, s in reading.sides.items() if s.found), None)


def measure_signals(reading: DocumentReading) -> tuple[str, dict[str, float]] | None:
    """The forensic signals of a reading, measured on ``signal_side``; None when no document was found.

    Shared by ``analyse`` and the training recipe, so the model is trained on what the checks measure."""
    chosen = signal_side(reading)
    spec = reading.spec
    if chosen is None or spec is None:
        return None
    name, side = chosen
    assert side.located is not None and side.match is not None and side.match.template_id is not None
    signals = forensics.measure(
        side.located.image,
        _photo_region(side),
        spec,
        name,
        side.match.distance,
        reference_chroma(side.match.template_id, name),
    )
    return name, signals


def analyse(reading: DocumentReading) -> ForensicReport:
    measured = measure_signals(reading)
    if measured is None:
        return ForensicReport(None, {}, problem="no document found")
    name, signals = measured
    try:
        model = load_model()
    except ConfigurationError as exc:
        return ForensicReport(name, signals, problem=str(exc))
    return ForensicReport(
        name, signals, model.probabilities(signals), model=str(model.meta.get("version", ""))
    )


def cached_report(
    front: Image, back: Image | None, as_of: date, params: ReaderParams | None = None
) -> ForensicReport:
    """``analyse`` of the shared reading (``cached_reading``), once per request: kept on the front image
    (``Image.memo``) under the same key parts as the reading."""
    p = params or ReaderParams()
    key = ("openidv.document.forensic_report", READER_VERSION, id(back), as_of, p)
    return front.memo(key, lambda: analyse(cached_reading(front, back, as_of, p)))
