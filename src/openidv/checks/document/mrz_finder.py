"""Find and read the MRZ of any ICAO 9303 document in a photo or scan, with no template.

The machine readable zone looks the same on every passport, ID card and visa in the world: two or three lines
of OCR-B capitals, digits and ``<`` fillers, printed at one pitch across most of the page width. That is what
this finder looks for, in any of the four orientations:

1. **Bands.** On a grey copy at a working scale, a black-hat filter keeps dark strokes smaller than a
   character, a horizontal gradient keeps the dense vertical strokes of text, and a closing with a wide kernel
   joins the characters of a line into one blob. Blobs much wider than high, at any skew up to 30 degrees
   (``minAreaRect``), are band candidates. Bands are searched on the image as it is and turned by 90
   degrees; the other two orientations are the same bands read upside down.
2. **Lines.** Each band is cut out straight (deskewed by its rectangle's angle, with margins), its text lines
   are found from the row profile of its ink, and every line is recognised by the OCR engine the reader
   already uses (PP-OCR recogniser, rapidocr).
3. **Correction.** Lines are cleaned (look-alikes of ``<`` such as ``«``, ``K`` runs, ``(`` become fillers,
   line lengths are repaired at the longest filler run), then ``mrz_ocr.correct`` applies each position's
   character class and lets the check digits arbitrate between look-alike readings.

4. **Second look.** When a zone's check digits fail, its lines are recognised once more from a second crop
   (upscaled, local contrast equalised, sharpened), and every mix of first and second readings per line is
   tried; only a mix whose check digits all pass is accepted, so a second look can fix a misread character
   but never invent one.

5. **Zones.** Lines that look like MRZ lines (capitals, digits and fillers, long enough, not only fillers) and
   lie one under the other, level, at one pitch, form the 2- or 3-line zone of a format.

The first zone whose reading passes every check digit wins; otherwise the most plausible reading is returned
with ``valid`` False, never presented as valid. Lines that do not look like an MRZ are not one: a line of
fillers is never invented into an MRZ.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.document import mrz as m
from openidv.checks.document.mrz_ocr import FILLER_LOOKALIKES, MrzRead, clean_line, correct, fit_width
from openidv.checks.document.ocr_engine import recognize_lines

UInt8Array = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]

#: the working width of the page image for band search (MRZ characters are then 10-25 px high)
WORK_SIDE = 1200
#: candidate bands read per orientation before giving up (largest first)
MAX_BANDS = 6
#: a recognised line holds an MRZ line only if this share of it is in the MRZ alphabet before cleaning
MIN_ALPHABET_SHARE = 0.8


@dataclass(frozen=True)
class Band:
    """A candidate MRZ band: its rotated rectangle in the (turned) working image and that turn."""

    centre: tuple[float, float]
    size: tuple[float, float]  # (long side, short side) in working pixels
    angle: float  # degrees to turn it level
    turn: int  # 0 or 90: how the page was turned before the search
    scale: float  # working pixels per source pixel


@dataclass
class MrzFinding:
    """Where the MRZ was found and what it says."""

    read: MrzRead
    orientation: int  # degrees the page was turned clockwise to read it: 0, 90, 180 or 270
    skew: float  # degrees the band was levelled by
    region: tuple[int, int, int, int]  # x, y, w, h of the band in the source image (axis-aligned)
    line_confidence: tuple[float, ...]
    tried: int = 0  # zones read before this one

    def location(self) -> dict[str, Any]:
        """Where and how the zone was read: orientation, skew, region and the OCR confidence per line."""
        return {
            "orientation_degrees": self.orientation,
            "skew_degrees": round(self.skew, 2),
            "region_xywh": list(self.region),
            "line_confidence": [round(c, 4) for c in self.line_confidence],
            "zones_tried": self.tried,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.read.to_dict(), "lines": self.read.text.split("\n"), **self.location()}


def _u8(array: Any) -> UInt8Array:
    """OpenCV's result as the uint8 array it is (its stubs return a generic array)."""
    return np.asarray(array, dtype=np.uint8)


def _grey(bgr: UInt8Array) -> UInt8Array:
    return _u8(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)) if bgr.ndim == 3 else bgr


#: kernel sizes relative to the working page: a document filling the photo, and one filling half of it
KERNEL_SCALES = (1.0, 0.55)


def band_candidates(
    grey: UInt8Array, turn: int, scale: float, kernel_scales: tuple[float, ...] = KERNEL_SCALES
) -> list[Band]:
    """Blobs of dense, small, dark strokes that are much wider than high, where lines of text run, at each
    kernel scale (text is smaller when the document fills less of the photo); overlapping ones once."""
    out: list[Band] = []
    for kernel_scale in kernel_scales:
        for band in _bands_at(grey, turn, scale, kernel_scale):
            if not any(_same_band(band, seen) for seen in out):
                out.append(band)
    return out


def _same_band(a: Band, b: Band) -> bool:
    near = np.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]) < 0.5 * min(a.size[1], b.size[1])
    return bool(near and abs(a.size[0] - b.size[0]) < 0.15 * max(a.size[0], b.size[0]))


def _bands_at(grey: UInt8Array, turn: int, scale: float, kernel_scale: float) -> list[Band]:
    h, w = grey.shape
    unit = max(0.5, max(h, w) / 1000.0 * kernel_scale)
    char = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(13 * unit)), max(3, int(5 * unit))))
    blur = cv2.GaussianBlur(grey, (3, 3), 0)
    blackhat = cv2.morphologyEx(blur, cv2.MORPH_BLACKHAT, char)
    grad = np.abs(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=-1))
    # scale by a high percentile, not the maximum: a few hard edges in the background (a table's border, a
    # patterned cloth) must not squash the text's gradient below the threshold
    lo, hi = float(grad.min()), float(np.percentile(grad, 99.5))
    if hi - lo < 1e-6:
        return []
    grad8 = (np.clip((grad - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    grad8 = _u8(cv2.morphologyEx(grad8, cv2.MORPH_CLOSE, char))
    _, otsu = cv2.threshold(grad8, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    join = cv2.getStructuringElement(cv2.MORPH_RECT, (max(5, int(25 * unit)), max(3, int(11 * unit))))
    mask = _u8(cv2.morphologyEx(otsu, cv2.MORPH_CLOSE, join))
    mask = _u8(cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    bands = []
    for contour in contours:
        rect = cv2.minAreaRect(contour)
        (cx, cy), (rw, rh) = rect[0], rect[1]
        long_side, short_side = max(rw, rh), min(rw, rh)
        if short_side < 4 or long_side < 0.15 * min(h, w):
            continue
        if long_side / short_side < 2.5:
            continue
        level = _long_side_angle(rect)
        if abs(level) > 30:  # a vertical run of text is found in the search turned by 90 degrees
            continue
        bands.append(Band((cx, cy), (long_side, short_side), level, turn, scale))
    bands.sort(key=lambda b: b.size[0] * min(b.size[1], b.size[0] / 3), reverse=True)
    return bands[:MAX_BANDS]


def _long_side_angle(rect: Any) -> float:
    """The angle of a rotated rectangle's long side to the horizontal, in (-90, 90] degrees (image axes:
    positive turns clockwise), whatever convention the OpenCV version uses for ``minAreaRect``."""
    pts = cv2.boxPoints(rect)
    edges = [pts[1] - pts[0], pts[2] - pts[1]]
    dx, dy = max(edges, key=lambda e: float(np.hypot(e[0], e[1])))
    angle = float(np.degrees(np.arctan2(dy, dx)))
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    return angle


def _turn(image: UInt8Array, degrees: int) -> UInt8Array:
    if degrees == 0:
        return image
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[degrees]
    return _u8(cv2.rotate(image, code))


def cut_band(image: UInt8Array, band: Band, *, zoom: float = 1.0, image_per_work: float = 1.0) -> UInt8Array:
    """The band cut out level, with a margin above and below of half its height and a little on the sides.

    ``image`` is the working page (``image_per_work`` 1) or the same page at a larger resolution
    (``image_per_work`` its pixels per working pixel); the cut has ``zoom`` pixels per working pixel. Only
    the window around the band is warped, never the whole page.
    """
    (cx, cy), (long_side, short_side) = band.centre, band.size
    half_w = long_side / 2 + short_side * 0.25 + 4
    half_h = short_side / 2 * 1.5 + 4
    centre = (cx * image_per_work, cy * image_per_work)
    matrix = cv2.getRotationMatrix2D(centre, band.angle, zoom / image_per_work)
    matrix[0, 2] += half_w * zoom - centre[0]
    matrix[1, 2] += half_h * zoom - centre[1]
    size = (max(1, int(2 * half_w * zoom)), max(1, int(2 * half_h * zoom)))
    return _u8(cv2.warpAffine(image, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE))


def text_lines(band: UInt8Array) -> list[tuple[int, int]]:
    """Row ranges of the text lines in a level band, from its ink profile (runs of rows holding ink)."""
    grey = _grey(band)
    if grey.shape[0] < 6 or grey.shape[1] < 20:
        return []
    binary = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12)
    profile = binary.mean(axis=1) / 255.0
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    inked = smooth > max(0.04, 0.35 * float(np.percentile(smooth, 90)))
    runs, start = [], None
    for i, on in enumerate(inked):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(inked)))
    if not runs:
        return []
    tallest = max(b - a for a, b in runs)
    lines = [(a, b) for a, b in runs if b - a >= 0.45 * tallest]
    pad = max(2, int(0.25 * tallest))
    return [(max(0, a - pad), min(grey.shape[0], b + pad)) for a, b in lines]


def mrz_like(raw: str) -> bool:
    """Could this recognised line be a line of an MRZ? Long enough, in the alphabet (capitals: printed
    text in lower case is not an MRZ), not just fillers."""
    text = raw.replace(" ", "")
    if len(text) < 20 or sum(ch.islower() for ch in text) > 0.1 * len(text):
        return False
    in_alphabet = sum(ch.upper() in m.MRZ_ALPHABET or FILLER_LOOKALIKES.match(ch) is not None for ch in text)
    cleaned = clean_line(text, filler_runs=True)
    content = cleaned.replace("<", "")
    return in_alphabet / len(text) >= MIN_ALPHABET_SHARE and len(content) >= 6 and len(cleaned) >= 24


def _formats(lines: list[str]) -> list[tuple[str, int]]:
    """Formats a group of lines may be, with their line width, likeliest first."""
    longest = max(len(line) for line in lines)
    visa = lines[0][:1] == "V"
    if len(lines) == 3:
        return [("TD1", 30)]
    if longest <= 40:
        return [("MRV-B", 36), ("TD2", 36)] if visa else [("TD2", 36), ("MRV-B", 36)]
    return [("MRV-A", 44), ("TD3", 44)] if visa else [("TD3", 44), ("MRV-A", 44)]


#: what the check digits do not cover but every real MRZ satisfies: a document code, known ICAO codes,
#: a sex, dates that exist, a name (line 1 of TD2/TD3 has no check digit at all)
STRUCTURE_CODES = frozenset(
    {
        m.DOCUMENT_CODE_INVALID,
        m.ISSUER_UNKNOWN,
        m.NATIONALITY_UNKNOWN,
        m.SEX_INVALID,
        m.BIRTH_DATE_INVALID,
        m.EXPIRY_DATE_INVALID,
        m.NAME_INVALID,
    }
)
#: a recognised line this much shorter than its format's width was cut short (a part of a line)
MAX_MISSING_CHARS = 8


def acceptable(read: MrzRead, cleaned: list[str], width: int) -> bool:
    """Check digits valid, the structure of a real MRZ, and whole lines (not parts of them)."""
    if not read.result.valid or STRUCTURE_CODES & set(read.result.reason_codes):
        return False
    return all(len(line) >= width - MAX_MISSING_CHARS for line in cleaned)


def read_group(raw: list[str], scores: list[float], as_of: date | None) -> MrzRead | None:
    """Correct a group of recognised lines as each format it may be; an acceptable reading, else the most
    plausible one (returned with ``valid`` as the check digits say, never forced)."""
    cleaned = [clean_line(t, filler_runs=True) for t in raw]
    best: MrzRead | None = None
    for fmt, width in _formats(cleaned):
        text, changed = correct([fit_width(c, width) for c in cleaned], fmt, as_of)
        result = m.read_mrz(text, as_of=as_of)
        read = MrzRead(text, result, tuple(raw), tuple(scores), changed, "rapidocr")
        if acceptable(read, cleaned, width):
            return read
        if best is None or (result.readable and not best.result.readable):
            best = read
    return best


def second_look(line: UInt8Array) -> UInt8Array:
    """Another view of a line image for a second recognition: 1.5x larger, local contrast equalised (glare,
    uneven light) and lightly sharpened (blur); a different crop gives the recogniser other errors."""
    grey = _grey(line)
    big = cv2.resize(grey, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    equalised = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(1, 8)).apply(big)
    soft = cv2.GaussianBlur(equalised, (0, 0), 1.2)
    sharp = cv2.addWeighted(equalised, 1.6, soft, -0.6, 0)
    return _u8(cv2.cvtColor(sharp, cv2.COLOR_GRAY2BGR))


def reread(images: list[UInt8Array], first: list[tuple[str, float]], as_of: date | None) -> MrzRead | None:
    """Recognise a failed zone's lines again from ``second_look`` crops and try every mix of the first and
    second readings per line; the first mix whose reading is acceptable, else None."""
    second = [(r.text, r.score) for r in recognize_lines([second_look(i) for i in images])]
    for choice in itertools.product((0, 1), repeat=len(images)):
        if not any(choice):
            continue  # the first reading alone already failed
        picked = [second[i] if c else first[i] for i, c in enumerate(choice)]
        read = read_group([t for t, _ in picked], [sc for _, sc in picked], as_of)
        if read is not None and acceptable(
            read, [clean_line(t, filler_runs=True) for t in read.raw_lines], _width(read)
        ):
            return read
    return None


@dataclass(frozen=True)
class LineCut:
    """One text line cut out level from a band, and where it lies on the (turned) working page."""

    image: UInt8Array
    band: Band
    perp: float  # position across the lines (working pixels): sorts the lines of a zone top to bottom
    height: float
    width: float


def line_cuts(page: UInt8Array, band: Band, source: UInt8Array | None = None) -> list[LineCut]:
    """The text lines of a band. Geometry is measured on the working page; with ``source`` (the same page
    at its full resolution, larger than the working one) the line images are cut from it, so a small
    document in a large photo is recognised from its real pixels, not from a reduced copy."""
    crop = cut_band(page, band)
    rows = text_lines(crop)
    if not rows or len(rows) > 8:
        return []
    theta = np.radians(band.angle)
    centre_perp = -band.centre[0] * np.sin(theta) + band.centre[1] * np.cos(theta)
    tallest = max(b - a for a, b in rows)
    zoom = 1.0 if source is None else min(1.0 / band.scale, MAX_LINE_PX / max(1, tallest))
    fine = crop
    if source is not None and zoom > 1.25:
        fine = cut_band(source, band, zoom=zoom, image_per_work=1.0 / band.scale)
    else:
        zoom = 1.0
    out = []
    for a, b in rows:
        offset = (a + b) / 2 - crop.shape[0] / 2
        image = fine[int(a * zoom) : max(int(a * zoom) + 1, int(b * zoom))]
        out.append(LineCut(np.ascontiguousarray(image), band, centre_perp + offset, b - a, band.size[0]))
    return out


def _groups(lines: list[tuple[LineCut, str, float]]) -> list[list[tuple[LineCut, str, float]]]:
    """Runs of 2 or 3 MRZ-like lines that lie one under the other, level with each other and close together:
    the zones they may form, widest first."""
    out = []
    for size in (2, 3):
        for start in range(len(lines) - size + 1):
            group = lines[start : start + size]
            cuts = [c for c, _, _ in group]
            lengths = [len(clean_line(t, filler_runs=True)) for _, t, _ in group]
            pitch = float(np.median([c.height for c in cuts]))
            gaps = [abs(b.perp - a.perp) for a, b in itertools.pairwise(cuts)]
            angles = [c.band.angle for c in cuts]
            if max(lengths) - min(lengths) > 8 or max(angles) - min(angles) > 6:
                continue
            if any(g < 0.5 * pitch or g > 4.0 * pitch for g in gaps):
                continue
            out.append(group)
    out.sort(key=lambda g: -sum(c.width for c, _, _ in g))
    return out


def _region(cuts: list[LineCut], source_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The zone's axis-aligned box in the source image's pixels (undoing the search turn and scale)."""
    pts = np.concatenate(
        [
            cv2.boxPoints(
                ((c.band.centre[0], c.band.centre[1]), (c.band.size[0], c.band.size[1]), c.band.angle)
            )
            for c in cuts
        ]
    )
    band = cuts[0].band
    pts = pts / band.scale
    h, w = source_shape
    if band.turn == 90:  # the search image was the source turned clockwise: (x', y') = (h - 1 - y, x)
        pts = np.stack([pts[:, 1], h - 1 - pts[:, 0]], axis=1)
    x0, y0 = np.clip(pts.min(axis=0), 0, None)
    x1, y1 = pts.max(axis=0)
    return int(x0), int(y0), int(min(w, x1) - x0), int(min(h, y1) - y0)


def _width(read: MrzRead) -> int:
    return len(read.text.split("\n")[0])


def _distinct(cuts: list[LineCut]) -> list[LineCut]:
    """One cut per line (widest first): a line found at two kernel scales, or as a part of itself, would
    otherwise sit between its neighbours and break the zone apart."""
    kept: list[LineCut] = []
    for cut in cuts:
        if all(abs(cut.perp - k.perp) >= 0.5 * min(cut.height, k.height) for k in kept):
            kept.append(cut)
    return kept


#: the line height (pixels) worth cutting from a larger source: the recogniser reads lines at 48 px
MAX_LINE_PX = 64

#: line cuts recognised per orientation (the widest; an MRZ line spans most of its document)
MAX_LINES = 8
#: an MRZ line is at least this many times wider than high (30 OCR-B characters and margins); shorter
#: lines of printed text are not recognised at all
MIN_LINE_ASPECT = 9.0


def find_mrz(bgr: UInt8Array, *, as_of: date | None = None) -> MrzFinding | None:
    """The MRZ in a photo or scan of any ICAO 9303 document, or None when there is none to be read.

    The page is searched at the working size; a photo much larger than that (a small document in a large
    photo) is searched again at twice the size when the first search read nothing. A finding whose
    ``read.result.valid`` is False means an MRZ-shaped zone was found but its check digits failed; callers
    must not treat it as valid.
    """
    fallback: MrzFinding | None = None
    tried = 0
    for work_side in (WORK_SIDE, 2 * WORK_SIDE):
        if work_side > WORK_SIDE and max(bgr.shape[:2]) < 1.5 * work_side:
            break
        found, first_invalid, tried = _search(bgr, work_side, as_of, tried)
        if found is not None:
            return found
        fallback = fallback or first_invalid
    return fallback


def _search(
    bgr: UInt8Array, work_side: int, as_of: date | None, tried: int
) -> tuple[MrzFinding | None, MrzFinding | None, int]:
    """One search at one working size: (an acceptable finding, the first invalid one, zones tried)."""
    h, w = bgr.shape[:2]
    scale = work_side / max(h, w)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    work = _u8(cv2.resize(bgr, size, interpolation=interpolation))
    fallback: MrzFinding | None = None
    for turn in (0, 90):
        page = _turn(work, turn)
        source = _turn(bgr, turn) if scale < 0.8 else None
        # kernels keep their size in pixels as the working page grows: at twice the size they fit a
        # document filling half (and a quarter) of the photo
        kernels = tuple(k * WORK_SIDE / work_side for k in KERNEL_SCALES)
        bands = band_candidates(_grey(page), turn, scale, kernels)
        cuts = [cut for band in bands for cut in line_cuts(page, band, source)]
        cuts = [c for c in cuts if c.width >= MIN_LINE_ASPECT * c.height]
        cuts = _distinct(sorted(cuts, key=lambda c: -c.width))[:MAX_LINES]
        if not cuts:
            continue
        for flip in (0, 180):
            reads = recognize_lines([c.image if flip == 0 else _turn(c.image, 180) for c in cuts])
            sign = 1 if flip == 0 else -1
            lines = sorted(
                ((c, r.text, r.score) for c, r in zip(cuts, reads, strict=True) if mrz_like(r.text)),
                key=lambda item: sign * item[0].perp,
            )
            for group in _groups(lines):
                tried += 1
                read = read_group([t for _, t, _ in group], [s for _, _, s in group], as_of)
                if read is None:
                    continue
                zone = [c for c, _, _ in group]
                if not read.result.valid:
                    images = [c.image if flip == 0 else _turn(c.image, 180) for c in zone]
                    read = reread(images, [(t, sc) for _, t, sc in group], as_of) or read
                finding = MrzFinding(
                    read,
                    (turn + flip) % 360,
                    float(np.mean([c.band.angle for c in zone])),
                    _region(zone, (h, w)),
                    read.scores,
                    tried,
                )
                if acceptable(read, [clean_line(t, filler_runs=True) for t in read.raw_lines], _width(read)):
                    return finding, fallback, tried
                # an MRZ-shaped zone whose check digits fail is reported as such; one whose check digits
                # pass but whose structure does not (a part of a line) is not reported at all
                if fallback is None and not read.result.valid:
                    fallback = finding
    return None, fallback, tried
