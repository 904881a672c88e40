"""Decode the PDF417 on the back of a licence (zxing-cpp) and parse its AAMVA payload (``aamva.py``).

zxing-cpp is asked for plain text (``TextMode.Plain``): its default human-readable mode escapes the control
characters (LF, RS, CR) that delimit AAMVA elements. The rectified document is tried first, then the whole
photo (a barcode cut off by a bad rectification can still be whole in the photo). Blurred and noisy
photos need more pixels per module than the reader's 10 px/mm: the barcode box is re-warped from the photo
at 20 px/mm, then sharpened (unsharp mask); on the synthetic evaluation set this took blurred, noisy and
motion-blurred licences from 55-62% to 78-100% decoded (docs/documents.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.document.aamva import AamvaRecord, parse_aamva

UInt8Array = npt.NDArray[Any]  # OpenCV's stubs type every array loosely


@dataclass(frozen=True)
class BarcodeRead:
    payload: str
    record: AamvaRecord | None
    source: str  # rectified | photo

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "bytes": len(self.payload),
            "aamva": self.record.as_dict() if self.record else None,
        }


def decode_pdf417(images: Iterable[tuple[str, UInt8Array]]) -> BarcodeRead | None:
    """The first PDF417 found in ``images`` (name, BGR or grey array; a generator is consumed lazily, so
    costlier views are made only when the cheap ones fail), parsed; None when there is none."""
    import zxingcpp

    for source, image in images:
        found = zxingcpp.read_barcodes(
            np.ascontiguousarray(image),
            formats=zxingcpp.BarcodeFormat.PDF417,  # type: ignore[arg-type]
            text_mode=zxingcpp.TextMode.Plain,
        )
        for code in found:
            if not code.valid:
                continue
            payload = code.bytes.decode("latin-1")
            return BarcodeRead(payload, parse_aamva(payload), source)
    return None


BARCODE_PPMM = 20.0


def barcode_views(
    rectified: UInt8Array,
    photo: UInt8Array,
    corners: npt.NDArray[np.float64],
    box_mm: tuple[float, float, float, float],
    size_mm: tuple[float, float],
) -> Iterator[tuple[str, UInt8Array]]:
    """Views to try, cheapest first: the rectified card, the barcode box re-warped at 20 px/mm from the
    photo, the same sharpened, the whole photo."""
    yield "rectified", rectified
    x, y, w, h = box_mm
    pad = 2.0
    src_w, src_h = size_mm
    k = BARCODE_PPMM
    # map the card's millimetre frame onto the photo, then take the padded barcode box at k px/mm
    card = np.array([[0, 0], [src_w, 0], [src_w, src_h], [0, src_h]], dtype=np.float32)
    to_photo = cv2.getPerspectiveTransform(card, corners.astype(np.float32))
    out_w, out_h = int((w + 2 * pad) * k), int((h + 2 * pad) * k)
    shift = np.array([[1 / k, 0, x - pad], [0, 1 / k, y - pad], [0, 0, 1]], dtype=np.float64)
    matrix = to_photo.astype(np.float64) @ shift
    view = cv2.warpPerspective(photo, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    yield "barcode_box_20ppmm", view
    grey = cv2.cvtColor(view, cv2.COLOR_BGR2GRAY)
    yield "barcode_box_sharpened", cv2.addWeighted(grey, 1.8, cv2.GaussianBlur(grey, (0, 0), 2), -0.8, 0)
    yield "photo", photo
