"""Read the printed (visual) zone of a document of any design, guided by its MRZ: no template coordinates.

The whole page is read once by the OCR's detector and recogniser, turned upright by the orientation at which
the MRZ was found. Each field the MRZ states (surname, given names, document number, dates of birth and
expiry) is then looked for on the page in two ways:

- **by value**: the MRZ's value printed anywhere on the page (a name token, the number, a date in any of
  the usual printed forms: ``12 AUG 74``, ``12 AUGUST/AOUT 1974``, ``12.08.1974``, ``1974-08-12``, month
  names in English, French, German, Spanish, Italian, Dutch and Portuguese) confirms the field;
- **by label**: otherwise the field's label in one of those languages (``Surname / Nom / Apellidos /
  Nachname ...``) is found and the line just below it (or to its right) is its value.

What is found becomes the document's printed fields (``PrintedField``), which the consistency check compares
with the MRZ like any template's fields: a value printed under the label that contradicts the MRZ is
``DOC_MRZ_VIZ_MISMATCH``. A field that is found neither way is simply not compared.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.document.mrz import MRZResult
from openidv.checks.document.ocr_engine import PageLine, read_page
from openidv.checks.document.ocr_fields import PrintedField
from openidv.checks.document.transliteration import osa_distance

UInt8Array = npt.NDArray[np.uint8]

#: the long side the page is read at (the detector's own limit is 960; text stays legible)
PAGE_SIDE = 1280
#: a label-found value counts only when the OCR is at least this sure of it
MIN_VALUE_SCORE = 0.8

LABELS: dict[str, tuple[str, ...]] = {
    "surname": (
        "SURNAME",
        "NOM",
        "APELLIDOS",
        "APELLIDO",
        "NACHNAME",
        "FAMILIENNAME",
        "COGNOME",
        "ACHTERNAAM",
        "SOBRENOME",
        "APELIDO",
        "NAZWISKO",
        "PRIJMENI",
        "EFTERNAMN",
        "ETTERNAVN",
        "SUKUNIMI",
        "FAMILY NAME",
    ),
    "given_names": (
        "GIVEN NAMES",
        "GIVEN NAME",
        "FORENAMES",
        "FIRST NAME",
        "PRENOMS",
        "VORNAMEN",
        "VORNAME",
        "NOMBRES",
        "NOME",
        "VOORNAMEN",
        "NOMES",
        "IMIONA",
        "JMENO",
        "FORNAMN",
        "FORNAVN",
        "ETUNIMET",
    ),
    "document_number": (
        "PASSPORT NO",
        "PASSPORT NUMBER",
        "DOCUMENT NO",
        "DOCUMENT NUMBER",
        "CARD NO",
        "NO DU PASSEPORT",
        "DE PASSEPORT",
        "PASS NR",
        "PASSNUMMER",
        "DOKUMENTENNUMMER",
        "NUM PASAPORTE",
        "NUMERO DE DOCUMENTO",
        "PASSAPORTE NO",
        "PASSAPORTO N",
        "PASPOORTNUMMER",
        "NUMER PASZPORTU",
    ),
    "birth_date": (
        "DATE OF BIRTH",
        "BIRTH DATE",
        "DATE DE NAISSANCE",
        "GEBURTSDATUM",
        "GEBURTSTAG",
        "FECHA DE NACIMIENTO",
        "DATA DI NASCITA",
        "GEBOORTEDATUM",
        "DATA DE NASCIMENTO",
        "DATA URODZENIA",
        "DATUM NAROZENI",
        "FODELSEDATUM",
        "FODSELSDATO",
        "SYNTYMAAIKA",
    ),
    "expiry_date": (
        "DATE OF EXPIRY",
        "EXPIRY DATE",
        "DATE OF EXPIRATION",
        "EXPIRES",
        "DATE D EXPIRATION",
        "GULTIG BIS",
        "FECHA DE CADUCIDAD",
        "FECHA DE VALIDEZ",
        "DATA DI SCADENZA",
        "GELDIG TOT",
        "VALIDO ATE",
        "DATA DE VALIDADE",
        "TERMIN WAZNOSCI",
        "PLATNOST DO",
        "GILTIG TILL",
        "UTLOPSDATO",
        "VOIMASSA",
    ),
}
#: month names and abbreviations -> month, in the languages of LABELS
MONTHS: dict[str, int] = {}
for _month, _names in enumerate(
    (
        "JAN JANV JANUARY JANVIER JANUAR ENE ENERO GEN GENNAIO JANEIRO",
        "FEB FEV FEBRUARY FEVRIER FEBRUAR FEBRERO FEBBRAIO FEVEREIRO",
        "MAR MARCH MARS MAERZ MARZ MARZO MAART MARCO",
        "APR AVR APRIL AVRIL ABR ABRIL APRILE",
        "MAY MAI MAYO MAG MAGGIO MEI MAIO",
        "JUN JUIN JUNE JUNI JUNIO GIU GIUGNO JUNHO",
        "JUL JUIL JULY JUILLET JULI JULIO LUG LUGLIO JULHO",
        "AUG AOU AOUT AUGUST AUGUSTUS AGO AGOSTO",
        "SEP SEPT SEPTEMBER SEPTEMBRE SEPTIEMBRE SET SETTEMBRE SETEMBRO",
        "OCT OKT OCTOBER OCTOBRE OKTOBER OCTUBRE OTT OTTOBRE OUT OUTUBRO",
        "NOV NOVEMBER NOVEMBRE NOVIEMBRE NOVEMBRO",
        "DEC DEZ DIC DECEMBER DECEMBRE DEZEMBER DICIEMBRE DICEMBRE DEZEMBRO",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _month
_WORD_DATE = re.compile(
    r"(\d{1,2})\s*[ ./-]?\s*([A-Z]{3,9})(?:\s*/\s*[A-Z]{3,9})?\s*[ ./-]?\s*(\d{4}|\d{2})\b"
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{4}|\d{2})\b")
_ISO_DATE = re.compile(r"\b(\d{4})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{1,2})\b")


def fold(text: str) -> str:
    """Upper case without accents or punctuation (labels and names compare on letters and digits)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").upper()
    return re.sub(r"[^A-Z0-9]+", " ", plain).strip()


def printed_dates(text: str) -> list[tuple[int, int, int, bool]]:
    """Every (year, month, day, year_has_century) a line of printed text may state."""
    raw = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").upper()
    out = []
    for mt in _WORD_DATE.finditer(raw):
        month = MONTHS.get(mt.group(2))
        if month:
            out.append((int(mt.group(3)), month, int(mt.group(1)), len(mt.group(3)) == 4))
    for mt in _NUMERIC_DATE.finditer(raw):
        out.append((int(mt.group(3)), int(mt.group(2)), int(mt.group(1)), len(mt.group(3)) == 4))
    for mt in _ISO_DATE.finditer(raw):
        out.append((int(mt.group(1)), int(mt.group(2)), int(mt.group(3)), True))
    return [d for d in out if 1 <= d[1] <= 12 and 1 <= d[2] <= 31]


def _same_date(printed: tuple[int, int, int, bool], wanted: date) -> bool:
    year, month, day, full = printed
    return (month, day) == (wanted.month, wanted.day) and (
        year == wanted.year if full else year == wanted.year % 100
    )


def _as_date(printed: tuple[int, int, int, bool], near: date) -> date | None:
    """A printed date as a date; a two-digit year takes the century that puts it nearest ``near``."""
    year, month, day, full = printed
    if not full:
        candidates = [c * 100 + year for c in (near.year // 100 - 1, near.year // 100, near.year // 100 + 1)]
        year = min(candidates, key=lambda y: abs(y - near.year))
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _wanted(result: MRZResult) -> dict[str, str | date]:
    f = result.fields
    out: dict[str, str | date] = {}
    for key in ("surname", "given_names", "document_number"):
        if f.get(key):
            out[key] = f[key]
    if result.birth_date:
        out["birth_date"] = result.birth_date
    if result.expiry_date:
        out["expiry_date"] = result.expiry_date
    return out


def _field(key: str, line: PageLine, value: str) -> PrintedField:
    return PrintedField(key=key, text=line.text, score=line.score, value=value, box=line.box)


def _by_value(key: str, wanted: str | date, lines: list[PageLine]) -> PrintedField | None:
    for line in lines:
        if isinstance(wanted, date):
            if any(_same_date(d, wanted) for d in printed_dates(line.text)):
                return _field(key, line, wanted.isoformat())
        elif key == "document_number":
            if fold(wanted).replace(" ", "") in fold(line.text).replace(" ", ""):
                return _field(key, line, wanted)
        else:
            words = fold(line.text).split()
            target = fold(wanted).split()
            if target and all(any(osa_distance(t, w) <= len(t) // 8 for w in words) for t in target):
                return _field(key, line, fold(line.text))
    return None


def _label_line(key: str, lines: list[PageLine]) -> PageLine | None:
    for line in lines:
        text = " " + fold(line.text) + " "
        if any(f" {label} " in text for label in LABELS[key]):
            return line
    return None


def _value_near(label: PageLine, lines: list[PageLine]) -> PageLine | None:
    """The line just below a label (left edges close), or else just right of it on the same row."""
    lx, ly, lw, lh = label.box
    below = [
        ln
        for ln in lines
        if ln is not label
        and -0.5 * lh <= ln.box[1] - (ly + lh) <= 2.0 * lh
        and abs(ln.box[0] - lx) <= max(3 * lh, 0.25 * lw)
    ]
    if below:
        return min(below, key=lambda ln: ln.box[1])
    right = [
        ln
        for ln in lines
        if ln is not label and abs(ln.box[1] - ly) <= 0.6 * lh and 0 <= ln.box[0] - (lx + lw) <= 6 * lh
    ]
    return min(right, key=lambda ln: ln.box[0]) if right else None


def _by_label(key: str, wanted: str | date, lines: list[PageLine]) -> PrintedField | None:
    label = _label_line(key, lines)
    value = _value_near(label, lines) if label is not None else None
    if value is None or value.score < MIN_VALUE_SCORE or _label_line(key, [value]) is not None:
        return None
    if isinstance(wanted, date):
        dates = [d for d in (_as_date(p, wanted) for p in printed_dates(value.text)) if d is not None]
        return _field(key, value, dates[0].isoformat()) if dates else None
    text = fold(value.text)
    return _field(key, value, text.replace(" ", "") if key == "document_number" else text) if text else None


def upright(bgr: UInt8Array, orientation: int) -> UInt8Array:
    """The photo turned the way its MRZ reads (``orientation`` degrees clockwise), at the page size."""
    if orientation:
        code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
        bgr = np.asarray(cv2.rotate(bgr, code[orientation]), dtype=np.uint8)
    scale = PAGE_SIDE / max(bgr.shape[:2])
    if scale < 1:
        size = (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale))
        bgr = np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return bgr


def read_viz(bgr: UInt8Array, orientation: int, mrz: MRZResult) -> dict[str, PrintedField]:
    """The printed fields of a page the MRZ was read from, found by value or by label (see the module)."""
    lines = [ln for ln in read_page(upright(bgr, orientation)) if ln.text.strip()]
    mrz_text = {fold(line) for line in mrz.lines}
    lines = [ln for ln in lines if fold(ln.text) not in mrz_text and "<<" not in ln.text]
    out: dict[str, PrintedField] = {}
    for key, wanted in _wanted(mrz).items():
        found = _by_value(key, wanted, lines) or _by_label(key, wanted, lines)
        if found is not None:
            out[key] = found
    return out
