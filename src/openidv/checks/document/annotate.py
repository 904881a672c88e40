"""The annotated PNG of ``openidv document inspect``: the photo with the document's outline, beside the
rectified document with each field box (green when every source agrees, red when a test failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from openidv.checks.document.reader import DocumentReading
from openidv.evidence import Evidence


def annotate_reading(evidence: Evidence, read: DocumentReading, report: dict[str, Any], path: Path) -> Path:
    photo = evidence.document_image
    assert photo is not None
    canvas: np.ndarray[Any, Any] = np.ascontiguousarray(photo.bgr).copy()
    scale = 900 / max(canvas.shape[:2])
    canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    reading = report.get("reading") or {}
    panels: list[np.ndarray[Any, Any]] = [canvas]
    failed_keys = {f["test"].split(":")[-1] for f in report.get("findings", []) if not f["passed"]}
    for side in (reading.get("sides") or {}).values():
        located = side.get("located") or {}
        if located.get("corners") and side.get("found"):
            pts = (np.array(located["corners"]) * scale).astype(np.int32)
            if side is next(iter((reading.get("sides") or {}).values())):
                cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], True, (0, 200, 0), 3)
    for name, side in read.sides.items():
        if side.located is None:
            continue
        flat = side.located.image.copy()
        for key, f in side.fields.items():
            x0, y0, x1, y1 = f.box
            colour = (0, 0, 220) if key in failed_keys else (0, 170, 0)
            cv2.rectangle(flat, (x0, y0), (x1, y1), colour, 2)
            cv2.putText(flat, key, (x0, max(10, y0 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1)
        cv2.putText(flat, name, (5, flat.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 0, 200), 2)
        k = canvas.shape[0] / flat.shape[0] if len(panels) == 1 else 1.0
        panels.append(cv2.resize(flat, None, fx=min(1.0, k), fy=min(1.0, k)))
    height = max(p.shape[0] for p in panels)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, 8), (0, 0))) for p in panels]
    cv2.imwrite(str(path), np.hstack(padded))
    return path
