"""The OCR engine (rapidocr, PP-OCR ONNX models inside the wheel): loaded once per process, used line by line.

The reader already knows where each text line is (the template says so), so only the recogniser runs, on
batches of line crops: about 0.1 s a line on two cores, against 1-3 s for rapidocr's full detect+recognise
pass over a document. Calls are serialised by a lock because rapidocr keeps per-call settings on the engine.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from openidv.errors import ConfigurationError

UInt8Array = npt.NDArray[np.uint8]
_lock = threading.Lock()


@dataclass(frozen=True)
class LineRead:
    text: str
    score: float


@functools.cache
def engine() -> Any:
    """The rapidocr engine, loaded once per process like every model (weights come from the installed wheel;
    nothing is downloaded). A model cache, not a service: it holds no state about applicants."""
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:  # pragma: no cover - rapidocr is a pinned dependency
        raise ConfigurationError("rapidocr is not installed (pip install 'rapidocr==3.10.0')") from exc
    return RapidOCR(
        params={
            "Global.log_level": "error",
            "Det.limit_type": "max",
            "Det.limit_side_len": 960,
            "EngineConfig.onnxruntime.intra_op_num_threads": 2,
        }
    )


def recognize_lines(crops: Sequence[UInt8Array]) -> list[LineRead]:
    """Recognise one text line per crop (BGR or grey ``uint8``), in order."""
    if not crops:
        return []
    from rapidocr.ch_ppocr_rec import TextRecInput

    images = [c if c.ndim == 3 else np.repeat(c[:, :, None], 3, axis=2) for c in crops]
    with _lock:
        rec = engine()._load_rec_model()
        output = rec(TextRecInput(img=[np.ascontiguousarray(i) for i in images]))
    texts = list(output.txts or ())
    scores = list(output.scores or ())
    return [
        LineRead(str(texts[i]) if i < len(texts) else "", float(scores[i]) if i < len(scores) else 0.0)
        for i in range(len(images))
    ]


@dataclass(frozen=True)
class PageLine:
    """One text line the detector found on a page: its text, confidence and box (x, y, w, h)."""

    text: str
    score: float
    box: tuple[int, int, int, int]


def read_page(bgr: UInt8Array) -> list[PageLine]:
    """Detect and recognise every text line of an upright page (PP-OCR detector + recogniser)."""
    with _lock:
        output = engine()(np.ascontiguousarray(bgr), use_cls=False)
    boxes = output.boxes if output.boxes is not None else []
    lines = []
    for quad, text, score in zip(boxes, output.txts or (), output.scores or (), strict=False):
        pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        lines.append(PageLine(str(text), float(score), (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))
    return lines
