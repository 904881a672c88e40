"""What a reviewer needs to see of a verification, kept when a case opens: the selfie, the document,
the faces the match compared, the document with its findings drawn on it, liveness frames.

Why kept at all: the store keeps only digests of the inputs (``openidv.verification.evidence_summary``),
so without this a person deciding a case could not look at the applicant. Only verifications that open a
case keep media, sealed with the key ring (``case_media``), erased with the subject and purged with the case.

``review_media`` turns the evidence and the check results of one verification into ``ReviewMedia`` items
(PNG bytes, bounded in size). The case store seals and stores them; the console and ``GET
/v1/cases/{id}/media/{media_id}`` serve them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from openidv.evidence import Evidence
from openidv.imageio import Image
from openidv.results import CheckResult

#: longest side of a stored image: enough to judge a face or read a document, small enough to keep
MAX_SIDE = 1280


@dataclass(frozen=True)
class ReviewMedia:
    """One image a reviewer sees. ``kind`` is stable (``selfie``, ``document``, ``document_back``,
    ``selfie_face``, ``document_portrait``, ``document_annotated``, ``liveness_frame``); ``notes`` says what
    the reviewer should know about it (which check made it, boxes, what the drawing means)."""

    kind: str
    title: str
    data: bytes
    content_type: str = "image/png"
    notes: dict[str, Any] = field(default_factory=dict)


def encode_png(pixels: np.ndarray[Any, Any], max_side: int = MAX_SIDE) -> bytes:
    """BGR pixels as PNG, reduced so the longest side is at most ``max_side``."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        pixels = cv2.resize(
            pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError("could not encode a review image")
    return bytes(buf.tobytes())


def _whole(kind: str, title: str, image: Image) -> ReviewMedia:
    return ReviewMedia(kind, title, encode_png(image.pixels), notes={"source_size": list(image.source_size)})


def review_media(evidence: Evidence, results: Sequence[CheckResult]) -> list[ReviewMedia]:
    """The images of one verification for its case, in the order a reviewer reads them."""
    out: list[ReviewMedia] = []
    if evidence.selfie is not None:
        out.append(_whole("selfie", "Selfie as captured", evidence.selfie))
    if evidence.document_image is not None:
        out.append(_whole("document", "Document front as captured", evidence.document_image))
    if evidence.document_back is not None:
        out.append(_whole("document_back", "Document back as captured", evidence.document_back))
    return out
