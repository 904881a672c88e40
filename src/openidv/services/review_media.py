"""What a reviewer needs to see of a verification, kept when a case opens: the selfie, the document,
the faces the match compared, the document with its findings drawn on it, liveness frames.

Why kept at all: the store keeps only digests of the inputs (``openidv.verification.evidence_summary``),
so without this a person deciding a case could not look at the applicant. Only verifications that open a
case keep media, sealed with the key ring (``case_media``), erased with the subject and purged with the case.

``review_media`` turns the evidence and the check results of one verification into ``ReviewMedia`` items
(JPEG bytes, bounded in size). The case store seals and stores them; the console and ``GET
/v1/cases/{id}/media/{media_id}`` serve them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from openidv.checks.document.localize import FAMILIES, PPMM
from openidv.evidence import Evidence
from openidv.imageio import Image, UInt8Array, encode_jpeg
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
    content_type: str = "image/jpeg"
    notes: dict[str, Any] = field(default_factory=dict)


def review_jpeg(pixels: np.ndarray[Any, Any], max_side: int = MAX_SIDE) -> bytes:
    """BGR pixels as JPEG (``imageio.encode_jpeg``), reduced so the longest side is at most ``max_side``:
    photos for a person to look at (a lossless PNG of a document photo is ten times the size and shows
    nothing more)."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        pixels = cv2.resize(
            pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    return encode_jpeg(Image.from_array(pixels, order="bgr", source="review"))


def _whole(kind: str, title: str, image: Image) -> ReviewMedia:
    return ReviewMedia(kind, title, review_jpeg(image.pixels), notes={"source_size": list(image.source_size)})


def _result(results: Sequence[CheckResult], name: str) -> CheckResult | None:
    return next((r for r in results if r.check == name), None)


def face_crop(image: Image, box: Sequence[float], margin: float = 0.35) -> UInt8Array | None:
    """The face in ``box`` (x, y, w, h in the decoded image's pixels) with a margin, or None when the box
    lies outside the image (a result computed on other pixels)."""
    h, w = image.pixels.shape[:2]
    x, y, bw, bh = (float(v) for v in box[:4])
    if bw <= 1 or bh <= 1:
        return None
    mx, my = bw * margin, bh * margin
    x0, y0 = max(0, int(x - mx)), max(0, int(y - my))
    x1, y1 = min(w, int(x + bw + mx)), min(h, int(y + bh + my))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    crop: UInt8Array = np.ascontiguousarray(image.pixels[y0:y1, x0:x1])
    return crop


def _faces(evidence: Evidence, match: CheckResult | None) -> list[ReviewMedia]:
    """The two faces the 1:1 match compared, cropped where the face match found them."""
    if match is None:
        return []
    out: list[ReviewMedia] = []
    sides = (
        ("selfie", evidence.selfie, "selfie_face", "Face in the selfie"),
        ("document", evidence.document_image, "document_portrait", "Portrait on the document"),
    )
    for side, image, kind, title in sides:
        face = ((match.details.get(side) or {}).get("face")) or {}
        box = face.get("box")
        if image is None or not box:
            continue
        crop = face_crop(image, box)
        if crop is None:
            continue
        notes = {"check": match.check, "box": box, "detector_score": face.get("score")}
        quality = (match.details.get(side) or {}).get("quality")
        if quality:
            notes["quality"] = quality
        out.append(ReviewMedia(kind, title, review_jpeg(crop, 480), notes=notes))
    return out


def _to_photo(corners: Sequence[Sequence[float]], family: str, rotated: bool) -> np.ndarray[Any, Any]:
    """The homography from the rectified document (the reader's field boxes) back to the photo."""
    width_mm, height_mm = FAMILIES[family]
    w, h = round(width_mm * PPMM), round(height_mm * PPMM)
    flat = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    if rotated:  # the reader turned the rectified page over: its (x, y) is (w-1-x, h-1-y) before that
        flat = flat[[2, 3, 0, 1]]
    return np.asarray(cv2.getPerspectiveTransform(flat, np.asarray(corners, dtype=np.float32)))


#: BGR colours of the drawing, explained in the media's notes
GREEN, RED, BLUE, AMBER = (0, 160, 0), (0, 0, 220), (200, 90, 0), (0, 150, 230)
LEGEND = {
    "green": "outline of the document found, and printed fields whose consistency tests held",
    "red": "printed fields in a failed consistency test",
    "amber": "fields read with no consistency test on them",
    "blue": "the machine readable zone, and the portrait the face match used",
}


def annotate_document(
    image: Image, read: CheckResult | None, consistency: CheckResult | None, match: CheckResult | None
) -> ReviewMedia | None:
    """The document photo with what the checks found drawn on it, or None when no check located it."""
    reading = (read.details.get("reading") if read is not None else None) or {}
    failed_fields = (
        {str(t).split(":")[-1] for t in (consistency.details.get("failed") or [])} if consistency else set()
    )
    tested_fields = (
        {str(t.get("test", "")).split(":")[-1] for t in (consistency.details.get("tests") or [])}
        if consistency
        else set()
    )
    canvas: UInt8Array = np.ascontiguousarray(image.pixels).copy()
    thick = max(2, round(max(canvas.shape[:2]) / 400))
    drawn: list[str] = []
    front = (reading.get("sides") or {}).get("front") or {}
    located = front.get("located") or {}
    if front.get("found") and located.get("corners") and located.get("family") in FAMILIES:
        corners = located["corners"]
        pts = np.asarray(corners, dtype=np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], True, GREEN, thick)
        drawn.append("outline")
        matrix = _to_photo(corners, located["family"], bool(located.get("rotated_180")))
        for key, field_read in (front.get("fields") or {}).items():
            box = field_read.get("box") or []
            if len(box) != 4:
                continue
            x0, y0, x1, y1 = (float(v) for v in box)
            quad = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], dtype=np.float32)
            mapped = cv2.perspectiveTransform(quad, matrix).astype(np.int32).reshape(-1, 1, 2)
            colour = RED if key in failed_fields else GREEN if key in tested_fields else AMBER
            cv2.polylines(canvas, [mapped], True, colour, thick)
            drawn.append(f"field:{key}")
    mrz = reading.get("mrz_location") or {}
    region = mrz.get("region_xywh")
    if region and len(region) == 4 and mrz.get("side") in (None, "front"):
        x, y, w, h = (int(v) for v in region)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), BLUE, thick)
        drawn.append("mrz")
    face = (((match.details.get("document") or {}).get("face")) or {}) if match is not None else {}
    if face.get("box"):
        x, y, w, h = (int(v) for v in face["box"][:4])
        cv2.rectangle(canvas, (x, y), (x + w, y + h), BLUE, thick)
        drawn.append("portrait")
    if not drawn:
        return None
    notes = {"legend": LEGEND, "drawn": drawn, "failed_tests": sorted(failed_fields)}
    return ReviewMedia(
        "document_annotated", "Document with the checks' findings", review_jpeg(canvas), notes=notes
    )


def review_media(evidence: Evidence, results: Sequence[CheckResult]) -> list[ReviewMedia]:
    """The images of one verification for its case, in the order a reviewer reads them."""
    match = _result(results, "face_match")
    out: list[ReviewMedia] = _faces(evidence, match)
    if evidence.document_image is not None:
        annotated = annotate_document(
            evidence.document_image,
            _result(results, "document_read"),
            _result(results, "document_consistency"),
            match,
        )
        if annotated is not None:
            out.append(annotated)
    if evidence.selfie is not None:
        out.append(_whole("selfie", "Selfie as captured", evidence.selfie))
    if evidence.document_image is not None:
        out.append(_whole("document", "Document front as captured", evidence.document_image))
    if evidence.document_back is not None:
        out.append(_whole("document_back", "Document back as captured", evidence.document_back))
    return out
