"""OCR the printed fields (the visual inspection zone) that the recognised template locates.

Each field's value box is cut from the rectified document with a small margin and recognised as one line;
dates are parsed with the template's printed date format so they compare with the MRZ and the barcode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from openidv.checks.document.localize import PPMM
from openidv.checks.document.ocr_engine import recognize_lines
from openidv.checks.document.template_spec import MONTHS, SideSpec, TemplateSpec, box_px, value_box

UInt8Array = npt.NDArray[np.uint8]
DATE_FIELDS = ("birth_date", "expiry_date", "issue_date")
#: the fields the consistency tests compare; the others (address, authority...) are not OCR'd by default
COMPARED_FIELDS = frozenset(
    {
        "surname",
        "given_names",
        "document_number",
        "birth_date",
        "expiry_date",
        "issue_date",
        "sex",
        "nationality",
    }
)


@dataclass(frozen=True)
class PrintedField:
    key: str
    text: str
    score: float
    value: str  # normalised: ISO date for dates, upper-case text otherwise ("" when unparseable)
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "value": self.value,
            "ocr_score": round(self.score, 4),
            "box": list(self.box),
        }


def parse_printed_date(text: str, fmt: str) -> date | None:
    """A printed date in the template's format; OCR look-alikes in digit positions are forgiven."""
    cleaned = text.upper().strip().replace(",", ".")
    if "%b" in fmt:
        for i, month in enumerate(MONTHS):
            cleaned = cleaned.replace(month, f"{i + 1:02d}")
        fmt = fmt.replace("%b", "%m")
    cleaned = cleaned.translate(str.maketrans("OQDILSBZ", "00011582"))
    cleaned = re.sub(r"\s+", " ", cleaned)
    try:
        return datetime.strptime(cleaned, fmt).date()
    except ValueError:
        digits = re.sub(r"\D", "", cleaned)
        compact = re.sub(r"[^%a-zA-Z]", "", fmt)
        try:
            return datetime.strptime(digits, compact).date()
        except ValueError:
            return None


def normalise_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.upper()).strip()


def ink_end(crop: UInt8Array) -> int:
    """Where the printed value ends: after the last column of dark ink that is not separated from the text
    by a gap wider than the text is tall. The value box runs on to the next element, and guilloche, ghost
    image or a neighbour's edge at its far end otherwise turn up as extra characters."""
    grey = crop.mean(axis=2) if crop.ndim == 3 else crop.astype(np.float64)
    dark = grey < min(100.0, float(np.percentile(grey, 5)) + 40.0)
    columns = np.flatnonzero(dark.sum(axis=0) >= 2)
    width = int(crop.shape[1])
    if len(columns) == 0:
        return width
    gap = max(4, int(0.9 * crop.shape[0]))
    end = int(columns[0])
    for col in columns[1:]:
        if col - end > gap:
            break
        end = int(col)
    return min(width, end + max(3, int(crop.shape[0]) // 4))


def read_fields(
    image: UInt8Array,
    spec: TemplateSpec,
    side: SideSpec,
    keys_wanted: frozenset[str] | None = COMPARED_FIELDS,
) -> dict[str, PrintedField]:
    """Recognise the fields of ``side`` (those in ``keys_wanted``; all when None) on the document."""
    h, w = image.shape[:2]
    crops, keys, boxes = [], [], []
    for f in side.fields:
        if keys_wanted is not None and f.key not in keys_wanted:
            continue
        x0, y0, x1, y1 = box_px(value_box(f.box), PPMM)
        pad = int(0.8 * PPMM)
        x0, y0, x1, y1 = max(0, x0 - pad // 2), max(0, y0 - pad // 3), min(w, x1), min(h, y1 + pad // 3)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        end = ink_end(crop)
        crops.append(np.ascontiguousarray(crop[:, :end]))
        x1 = x0 + end
        keys.append(f.key)
        boxes.append((x0, y0, x1, y1))
    out = {}
    for key, box, read in zip(keys, boxes, recognize_lines(crops), strict=True):
        text = normalise_text(read.text)
        if key in DATE_FIELDS:
            parsed = parse_printed_date(text, spec.viz_date_format)
            value = parsed.isoformat() if parsed else ""
        else:
            value = text
        out[key] = PrintedField(key, text, read.score, value, box)
    return out
