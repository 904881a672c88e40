"""ICAO Doc 9303 machine readable zones: a pure parser (``read_mrz``) and a builder (``compose_mrz``).

Formats: TD1 (3 x 30, identity cards), TD2 (2 x 36), TD3 (2 x 44, passports), MRV-A (2 x 44) and MRV-B
(2 x 36) visas; a visa is told from a TD3/TD2 of the same size by its document code ``V``.

Input tolerance (``read_mrz``): ``\\r\\n`` or ``\\n`` line ends, blank lines and whitespace around lines are
ignored. Spaces *inside* lines are removed only when that yields a valid shape (OCR often inserts them),
and a single line of exactly 72, 88 or 90 characters is cut into lines (forms that strip newlines). Lower-case
letters are *not* accepted: the MRZ alphabet is A-Z, 0-9 and ``<``, and accepting other text would hide OCR
errors.

Result contract (other tools rely on it):

* ``valid`` is True only when the text has an MRZ shape and every check digit holds (composite included).
  Expiry, unknown codes, bad dates or names are separate reason codes and do not change ``valid``.
* ``fields`` is keyed like ``shared/data/mrz/icao_specimens.json``: ``document_code``, ``issuer``,
  ``surname``, ``given_names`` (always present, ``""`` for none), ``document_number``, ``nationality``,
  ``birth_date`` and ``expiry_date`` (raw YYMMDD), ``sex`` (``M``, ``F``, ``X`` or ``<``), then
  ``optional_data`` (and, on TD1, ``optional_data_2`` for line 2) only when not empty. Fillers are stripped
  from the ends of codes, numbers and optional data; name parts are separated by single spaces.
* Centuries: a date of birth gets the latest century that does not put it after ``as_of`` (so an MRZ alone
  never shows anyone as 100 or older); a date of expiry gets the century that puts it within 50 years either
  side of ``as_of`` (``EXPIRY_PIVOT_YEARS``).
* Document numbers longer than 9 characters (TD1, TD2): the check-digit position holds ``<`` and the rest of
  the number, followed by its check digit, starts the optional data field, up to the next ``<``.
* TD3 optional-data check digit: ``<`` is accepted as well as ``0`` when the optional data is all fillers.
  Visa optional data has no check digit; visas have no composite check digit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from openidv.checks.document.icao_codes import is_known_code

MRZFormat = Literal["TD1", "TD2", "TD3", "MRV-A", "MRV-B"]

FILLER = "<"
MRZ_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
WEIGHTS = (7, 3, 1)
EXPIRY_PIVOT_YEARS = 50
MAX_INPUT_CHARS = 1000  # well above any MRZ with separators; refuse to scan megabytes of text

# Stable reason codes (catalogue: openidv/decision/reason_codes.yaml).
UNREADABLE = "MRZ_UNREADABLE"
DOCUMENT_CODE_INVALID = "MRZ_DOCUMENT_CODE_INVALID"
ISSUER_UNKNOWN = "MRZ_ISSUER_UNKNOWN"
NATIONALITY_UNKNOWN = "MRZ_NATIONALITY_UNKNOWN"
SEX_INVALID = "MRZ_SEX_INVALID"
BIRTH_DATE_INVALID = "MRZ_BIRTH_DATE_INVALID"
BIRTH_DATE_UNKNOWN = "MRZ_BIRTH_DATE_UNKNOWN"
EXPIRY_DATE_INVALID = "MRZ_EXPIRY_DATE_INVALID"
NAME_INVALID = "MRZ_NAME_INVALID"
NAME_TRUNCATED = "MRZ_NAME_TRUNCATED"
DOC_EXPIRED = "DOC_EXPIRED"


def check_digit_code(name: str) -> str:
    """The reason code for a failed check digit (``birth_date`` -> ``MRZ_CHECK_DIGIT_BIRTH_DATE``)."""
    return f"MRZ_CHECK_DIGIT_{name.upper()}"


# --------------------------------------------------------------------------------------------- check digits


def char_value(ch: str) -> int:
    """Doc 9303 character value: digits their value, A-Z 10-35, the filler 0."""
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch == FILLER:
        return 0
    raise ValueError(f"{ch!r} is not in the MRZ alphabet")


def check_digit(data: str) -> int:
    """Doc 9303 check digit: weights 7, 3, 1 repeating, sum modulo 10."""
    return sum(char_value(ch) * WEIGHTS[i % 3] for i, ch in enumerate(data)) % 10


@dataclass(frozen=True)
class CheckDigit:
    """One check digit as printed and as computed."""

    name: str  # document_number | birth_date | expiry_date | optional_data | composite
    expected: str
    found: str
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected, "found": self.found, "ok": self.ok}


def _digit(name: str, data: str, found: str, *, filler_ok: bool = False) -> CheckDigit:
    expected = str(check_digit(data))
    ok = found == expected or (filler_ok and found == FILLER)
    return CheckDigit(name=name, expected=expected, found=found, ok=ok)


# --------------------------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class Span:
    """Characters ``start:end`` of line ``line`` (0-based)."""

    line: int
    start: int
    end: int

    def of(self, lines: list[str]) -> str:
        return lines[self.line][self.start : self.end]


@dataclass(frozen=True)
class Layout:
    """Where each field sits in one format (Doc 9303 parts 4 to 7)."""

    format: MRZFormat
    lines: int
    width: int
    name: Span
    document_number: Span
    document_number_cd: Span
    nationality: Span
    birth_date: Span
    birth_date_cd: Span
    sex: Span
    expiry_date: Span
    expiry_date_cd: Span
    optional_data: Span
    optional_data_cd: Span | None = None
    optional_data_2: Span | None = None
    composite_cd: Span | None = None
    composite: tuple[Span, ...] = ()
    overflow: bool = False  # long document numbers continue in the optional data


def _two_line(fmt: MRZFormat, width: int, *, composite: bool, opt_cd: bool, overflow: bool) -> Layout:
    """TD2, TD3, MRV-A and MRV-B share line 2 up to the optional data."""
    opt_end = width - (1 if composite else 0) - (1 if opt_cd else 0)
    last = Span(1, width - 1, width)
    return Layout(
        format=fmt,
        lines=2,
        width=width,
        name=Span(0, 5, width),
        document_number=Span(1, 0, 9),
        document_number_cd=Span(1, 9, 10),
        nationality=Span(1, 10, 13),
        birth_date=Span(1, 13, 19),
        birth_date_cd=Span(1, 19, 20),
        sex=Span(1, 20, 21),
        expiry_date=Span(1, 21, 27),
        expiry_date_cd=Span(1, 27, 28),
        optional_data=Span(1, 28, opt_end),
        optional_data_cd=Span(1, opt_end, opt_end + 1) if opt_cd else None,
        composite_cd=last if composite else None,
        composite=(Span(1, 0, 10), Span(1, 13, 20), Span(1, 21, width - 1)) if composite else (),
        overflow=overflow,
    )


TD1 = Layout(
    format="TD1",
    lines=3,
    width=30,
    name=Span(2, 0, 30),
    document_number=Span(0, 5, 14),
    document_number_cd=Span(0, 14, 15),
    optional_data=Span(0, 15, 30),
    birth_date=Span(1, 0, 6),
    birth_date_cd=Span(1, 6, 7),
    sex=Span(1, 7, 8),
    expiry_date=Span(1, 8, 14),
    expiry_date_cd=Span(1, 14, 15),
    nationality=Span(1, 15, 18),
    optional_data_2=Span(1, 18, 29),
    composite_cd=Span(1, 29, 30),
    composite=(Span(0, 5, 30), Span(1, 0, 7), Span(1, 8, 15), Span(1, 18, 29)),
    overflow=True,
)
TD2 = _two_line("TD2", 36, composite=True, opt_cd=False, overflow=True)
TD3 = _two_line("TD3", 44, composite=True, opt_cd=True, overflow=False)
MRV_A = _two_line("MRV-A", 44, composite=False, opt_cd=False, overflow=False)
MRV_B = _two_line("MRV-B", 36, composite=False, opt_cd=False, overflow=False)
LAYOUTS: dict[str, Layout] = {layout.format: layout for layout in (TD1, TD2, TD3, MRV_A, MRV_B)}
DOCUMENT_CODE = Span(0, 0, 2)
ISSUER = Span(0, 2, 5)


def _layout_for(lines: list[str]) -> Layout:
    """Pick the format from the shape, and the document code for the visa / TD ambiguity."""
    if len(lines) == 3:
        return TD1
    is_visa = lines[0].startswith("V")
    if len(lines[0]) == 44:
        return MRV_A if is_visa else TD3
    return MRV_B if is_visa else TD2


# --------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class MRZResult:
    """What ``read_mrz`` found; see the module docstring for the contract."""

    valid: bool
    format: MRZFormat | None
    fields: dict[str, str] = field(hash=False)
    reason_codes: tuple[str, ...]
    check_digits: tuple[CheckDigit, ...]
    birth_date: date | None
    expiry_date: date | None
    expired: bool | None
    as_of: date
    name_truncated: bool = False
    lines: tuple[str, ...] = ()
    problem: str | None = None  # why the text is unreadable, for people

    @property
    def readable(self) -> bool:
        return self.format is not None

    def age(self) -> int | None:
        """Age in whole years on ``as_of``, from the decoded date of birth."""
        return age_on(self.birth_date, self.as_of) if self.birth_date else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for check details and ``--json`` output."""
        return {
            "valid": self.valid,
            "format": self.format,
            "fields": dict(self.fields),
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "expired": self.expired,
            "name_truncated": self.name_truncated,
            "check_digits": [cd.as_dict() for cd in self.check_digits],
            "reason_codes": list(self.reason_codes),
            "problem": self.problem,
        }


def age_on(born: date, on: date) -> int:
    """Whole years between ``born`` and ``on``."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _unreadable(problem: str, as_of: date) -> MRZResult:
    return MRZResult(
        valid=False,
        format=None,
        fields={},
        reason_codes=(UNREADABLE,),
        check_digits=(),
        birth_date=None,
        expiry_date=None,
        expired=None,
        as_of=as_of,
        problem=problem,
    )


# --------------------------------------------------------------------------------------------- input


_SHAPES = ((3, 30), (2, 36), (2, 44))
_SHAPE_TEXT = "3 x 30 (TD1), 2 x 36 (TD2, MRV-B) or 2 x 44 (TD3, MRV-A) characters"


def _has_shape(lines: list[str]) -> bool:
    return any(len(lines) == n and all(len(line) == w for line in lines) for n, w in _SHAPES)


def _split_lines(text: str) -> tuple[list[str], str | None]:
    """The MRZ lines of ``text``, or a problem saying why there are none (tolerance: module docstring)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return [], "the text is empty"
    if _has_shape(lines):
        return lines, None
    squeezed = ["".join(line.split()) for line in lines]
    if _has_shape(squeezed):
        return squeezed, None
    if len(squeezed) == 1:
        for n, w in _SHAPES:
            if len(squeezed[0]) == n * w:
                return [squeezed[0][i * w : (i + 1) * w] for i in range(n)], None
    lengths = ", ".join(str(len(line)) for line in lines)
    return [], f"{len(lines)} line(s) of {lengths} characters; an MRZ has {_SHAPE_TEXT}"


def _alphabet_problem(lines: list[str]) -> str | None:
    bad = sorted({ch for line in lines for ch in line if ch not in MRZ_ALPHABET})
    if not bad:
        return None
    if any(ch.islower() for ch in bad):
        return "lower-case letters: the MRZ alphabet is upper case A-Z, digits and '<'"
    return f"characters outside the MRZ alphabet (A-Z, 0-9, '<'): {''.join(bad)!r}"


# --------------------------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class _DocumentNumber:
    number: str
    check: CheckDigit
    optional_data: str  # what is left of the optional data field once the overflow is taken


def _document_number(lines: list[str], layout: Layout) -> _DocumentNumber:
    """The document number with its check digit, following the TD1/TD2 overflow into the optional data."""
    principal = layout.document_number.of(lines)
    found = layout.document_number_cd.of(lines)
    optional = layout.optional_data.of(lines)
    if not (layout.overflow and found == FILLER):
        check = _digit("document_number", principal, found)
        return _DocumentNumber(principal.rstrip(FILLER), check, optional.strip(FILLER))
    end = optional.find(FILLER)
    segment = optional if end < 0 else optional[:end]
    rest = "" if end < 0 else optional[end + 1 :]
    if not segment:  # overflow announced, but nothing follows: the check digit is missing
        return _DocumentNumber(principal.rstrip(FILLER), _digit("document_number", principal, FILLER), "")
    number = principal + segment[:-1]
    check = _digit("document_number", number, segment[-1])
    return _DocumentNumber(number.rstrip(FILLER), check, rest.strip(FILLER))


def _check_digits(lines: list[str], layout: Layout, number: _DocumentNumber) -> tuple[CheckDigit, ...]:
    """Every check digit of the format, in the order Doc 9303 prints them."""
    digits = [
        number.check,
        _digit("birth_date", layout.birth_date.of(lines), layout.birth_date_cd.of(lines)),
        _digit("expiry_date", layout.expiry_date.of(lines), layout.expiry_date_cd.of(lines)),
    ]
    if layout.optional_data_cd is not None:
        data = layout.optional_data.of(lines)
        found = layout.optional_data_cd.of(lines)
        digits.append(_digit("optional_data", data, found, filler_ok=set(data) == {FILLER}))
    if layout.composite_cd is not None:
        data = "".join(span.of(lines) for span in layout.composite)
        digits.append(_digit("composite", data, layout.composite_cd.of(lines)))
    return tuple(digits)


@dataclass(frozen=True)
class _Name:
    surname: str
    given_names: str
    valid: bool
    truncated: bool


def _parse_name(raw: str) -> _Name:
    """Split the name field on the first ``<<``; single fillers separate name parts.

    The name is flagged as possibly truncated when it fills the whole field (Doc 9303: the last position then
    holds a letter).
    """
    body = raw.rstrip(FILLER)
    surname_part, _, given_part = body.partition(FILLER * 2)
    surname = " ".join(part for part in surname_part.split(FILLER) if part)
    given = " ".join(part for part in given_part.split(FILLER) if part)
    valid = (
        bool(surname) and not raw.startswith(FILLER) and all("A" <= ch <= "Z" or ch == FILLER for ch in raw)
    )
    return _Name(surname, given, valid, truncated=bool(raw) and raw[-1] != FILLER)


def _fields(lines: list[str], layout: Layout, number: _DocumentNumber, name: _Name) -> dict[str, str]:
    fields = {
        "document_code": DOCUMENT_CODE.of(lines).rstrip(FILLER),
        "issuer": ISSUER.of(lines).rstrip(FILLER),
        "surname": name.surname,
        "given_names": name.given_names,
        "document_number": number.number,
        "nationality": layout.nationality.of(lines).rstrip(FILLER),
        "birth_date": layout.birth_date.of(lines),
        "sex": layout.sex.of(lines),
        "expiry_date": layout.expiry_date.of(lines),
    }
    if number.optional_data:
        fields["optional_data"] = number.optional_data
    if layout.optional_data_2 is not None and layout.optional_data_2.of(lines).strip(FILLER):
        fields["optional_data_2"] = layout.optional_data_2.of(lines).strip(FILLER)
    return fields


# --------------------------------------------------------------------------------------------- dates


def _calendar(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def decode_birth_date(raw: str, as_of: date) -> date | None:
    """YYMMDD -> the latest date with that YYMMDD that is not after ``as_of``; None if not a date."""
    if not (len(raw) == 6 and raw.isdigit()):
        return None
    yy, month, day = int(raw[:2]), int(raw[2:4]), int(raw[4:])
    year = as_of.year - (as_of.year - yy) % 100
    for candidate_year in (year, year - 100):
        born = _calendar(candidate_year, month, day)
        if born is not None and born <= as_of:
            return born
    return None


def decode_expiry_date(raw: str, as_of: date) -> date | None:
    """YYMMDD -> the date within ``EXPIRY_PIVOT_YEARS`` years either side of ``as_of``; None if not a date."""
    if not (len(raw) == 6 and raw.isdigit()):
        return None
    year = as_of.year - as_of.year % 100 + int(raw[:2])
    if year > as_of.year + EXPIRY_PIVOT_YEARS:
        year -= 100
    elif year < as_of.year - EXPIRY_PIVOT_YEARS:
        year += 100
    return _calendar(year, int(raw[2:4]), int(raw[4:]))


_PARTLY_UNKNOWN_BIRTH = re.compile(r"^(\d\d|\d{4})<+$|^<{6}$")


def _birth_codes(raw: str, born: date | None) -> list[str]:
    """Doc 9303 writes unknown parts of a date of birth as fillers (``74<<<<``): unknown, not invalid."""
    if born is not None:
        return []
    return [BIRTH_DATE_UNKNOWN if _PARTLY_UNKNOWN_BIRTH.match(raw) else BIRTH_DATE_INVALID]


def _expiry_codes(raw: str, expires: date | None) -> list[str]:
    """An all-filler expiry means "no expiry date"; anything else that is not a date is invalid."""
    return [] if expires is not None or raw == FILLER * 6 else [EXPIRY_DATE_INVALID]


# --------------------------------------------------------------------------------------------- codes


def _document_code_ok(code: str, fmt: MRZFormat) -> bool:
    """Doc 9303: P* on TD3; A*, C* or I* (second letter not V) on TD1/TD2; V* on visas."""
    first, second = code[0], code[1]
    if not ("A" <= second <= "Z" or second == FILLER):
        return False
    if fmt == "TD3":
        return first == "P"
    if fmt in ("TD1", "TD2"):
        return first in "ACI" and second != "V"
    return first == "V"


@dataclass(frozen=True)
class _Parsed:
    check_digits: tuple[CheckDigit, ...]
    name: _Name
    birth_date: date | None
    expiry_date: date | None
    as_of: date


def _reason_codes(lines: list[str], layout: Layout, parsed: _Parsed) -> tuple[str, ...]:
    codes = [check_digit_code(cd.name) for cd in parsed.check_digits if not cd.ok]
    if not _document_code_ok(DOCUMENT_CODE.of(lines), layout.format):
        codes.append(DOCUMENT_CODE_INVALID)
    if not is_known_code(ISSUER.of(lines)):
        codes.append(ISSUER_UNKNOWN)
    if not is_known_code(layout.nationality.of(lines)):
        codes.append(NATIONALITY_UNKNOWN)
    if layout.sex.of(lines) not in ("M", "F", "X", FILLER):
        codes.append(SEX_INVALID)
    codes += _birth_codes(layout.birth_date.of(lines), parsed.birth_date)
    codes += _expiry_codes(layout.expiry_date.of(lines), parsed.expiry_date)
    if not parsed.name.valid:
        codes.append(NAME_INVALID)
    if parsed.name.truncated:
        codes.append(NAME_TRUNCATED)
    if parsed.expiry_date is not None and parsed.expiry_date < parsed.as_of:
        codes.append(DOC_EXPIRED)
    return tuple(codes)


# --------------------------------------------------------------------------------------------- read_mrz


def read_mrz(text: str, *, as_of: date | None = None) -> MRZResult:
    """Parse and validate an ICAO Doc 9303 MRZ; never raises on bad text (it becomes ``MRZ_UNREADABLE``).

    ``as_of`` is the date the document is judged on (today when None): it resolves two-digit years and
    decides ``expired``.
    """
    as_of = as_of or date.today()
    if len(text) > MAX_INPUT_CHARS:
        return _unreadable(f"text of {len(text)} characters is too long for an MRZ", as_of)
    lines, problem = _split_lines(text)
    problem = problem or _alphabet_problem(lines)
    if problem:
        return _unreadable(problem, as_of)
    return _read_lines(lines, _layout_for(lines), as_of)


def _read_lines(lines: list[str], layout: Layout, as_of: date) -> MRZResult:
    number = _document_number(lines, layout)
    name = _parse_name(layout.name.of(lines))
    parsed = _Parsed(
        check_digits=_check_digits(lines, layout, number),
        name=name,
        birth_date=decode_birth_date(layout.birth_date.of(lines), as_of),
        expiry_date=decode_expiry_date(layout.expiry_date.of(lines), as_of),
        as_of=as_of,
    )
    return MRZResult(
        valid=all(cd.ok for cd in parsed.check_digits),
        format=layout.format,
        fields=_fields(lines, layout, number, name),
        reason_codes=_reason_codes(lines, layout, parsed),
        check_digits=parsed.check_digits,
        birth_date=parsed.birth_date,
        expiry_date=parsed.expiry_date,
        expired=None if parsed.expiry_date is None else parsed.expiry_date < as_of,
        as_of=as_of,
        name_truncated=name.truncated,
        lines=tuple(lines),
    )


# --------------------------------------------------------------------------------------------- compose


_NAME_PART = re.compile(r"^[A-Z]+$")
_CODE_CHARS = re.compile(r"^[A-Z0-9<]*$")
REQUIRED_FIELDS = (
    "document_code",
    "issuer",
    "surname",
    "given_names",
    "document_number",
    "nationality",
    "birth_date",
    "sex",
    "expiry_date",
)


def mrz_name_field(surname: str, given_names: str, width: int, *, truncate: bool = False) -> str:
    """``SURNAME<<GIVEN<NAMES`` padded to ``width``; parts are separated by spaces or ``<`` in the input.

    Names must already be in the MRZ alphabet (see ``transliteration.transliterate``). A name that does not
    fit raises ValueError, or with ``truncate=True`` is cut at ``width`` (a simplification of Doc 9303's
    rules, which first shorten given names).
    """
    surname_parts = [p for p in re.split(r"[\s<]+", surname) if p]
    given_parts = [p for p in re.split(r"[\s<]+", given_names) if p]
    if not surname_parts or not all(_NAME_PART.match(p) for p in surname_parts + given_parts):
        raise ValueError("names must be non-empty and hold only A-Z; transliterate them first")
    text = FILLER.join(surname_parts) + (FILLER * 2 + FILLER.join(given_parts) if given_parts else "")
    if len(text) > width and not truncate:
        raise ValueError(f"name {text!r} is longer than the {width}-character name field")
    return text[:width].ljust(width, FILLER)


def _code_field(value: str, width: int, key: str, *, pattern: re.Pattern[str] = _CODE_CHARS) -> str:
    if len(value) > width or not pattern.match(value):
        raise ValueError(f"{key} {value!r} does not fit {width} MRZ characters")
    return value.ljust(width, FILLER)


class _Canvas:
    """Lines being written, one span at a time."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.lines = [[FILLER] * layout.width for _ in range(layout.lines)]

    def put(self, span: Span, value: str) -> None:
        if len(value) != span.end - span.start:
            raise ValueError(f"internal: {value!r} does not fill its span")
        self.lines[span.line][span.start : span.end] = list(value)

    def get(self, span: Span) -> str:
        return "".join(self.lines[span.line][span.start : span.end])

    def text(self) -> list[str]:
        return ["".join(line) for line in self.lines]


def _put_document_number(canvas: _Canvas, number: str, optional: str) -> None:
    """Write the number, its check digit and the optional data, with the TD1/TD2 overflow when needed."""
    layout = canvas.layout
    span = layout.optional_data
    width = span.end - span.start
    if not re.fullmatch(r"[A-Z0-9]+", number):
        raise ValueError(f"document_number {number!r} must be 1 or more of A-Z, 0-9")
    if optional and (optional[0] == FILLER or optional[-1] == FILLER):
        raise ValueError("optional data must not start or end with the filler")
    if len(number) <= 9:
        canvas.put(layout.document_number, number.ljust(9, FILLER))
        canvas.put(layout.document_number_cd, str(check_digit(number.ljust(9, FILLER))))
        canvas.put(span, _code_field(optional, width, "optional_data"))
        return
    if not layout.overflow:
        raise ValueError(f"{layout.format} holds document numbers of at most 9 characters")
    overflow = number[9:] + str(check_digit(number))
    canvas.put(layout.document_number, number[:9])
    canvas.put(layout.document_number_cd, FILLER)
    canvas.put(span, _code_field(overflow + (FILLER + optional if optional else ""), width, "optional_data"))


def compose_mrz(fmt: MRZFormat | str, fields: Mapping[str, str], *, truncate_name: bool = False) -> str:
    """Build an MRZ (lines joined by ``\\n``) from ``fields`` keyed like ``MRZResult.fields``, with every
    check digit computed. ``read_mrz(compose_mrz(f, fields)).fields == fields`` for any fields that fit.

    Dates are raw YYMMDD strings; document numbers over 9 characters use the overflow (TD1, TD2 only).
    Raises ValueError for a field that does not fit the format or the MRZ alphabet.
    """
    if fmt not in LAYOUTS:
        raise ValueError(f"unknown MRZ format {fmt!r}; expected one of {', '.join(LAYOUTS)}")
    missing = [key for key in REQUIRED_FIELDS if key not in fields]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    layout = LAYOUTS[fmt]
    canvas = _Canvas(layout)
    canvas.put(DOCUMENT_CODE, _code_field(fields["document_code"], 2, "document_code"))
    canvas.put(ISSUER, _code_field(fields["issuer"], 3, "issuer"))
    name = mrz_name_field(
        fields["surname"], fields["given_names"], _width(layout.name), truncate=truncate_name
    )
    canvas.put(layout.name, name)
    _put_document_number(canvas, fields["document_number"], fields.get("optional_data", ""))
    canvas.put(layout.nationality, _code_field(fields["nationality"], 3, "nationality"))
    _put_dated(canvas, layout.birth_date, layout.birth_date_cd, fields["birth_date"], "birth_date")
    canvas.put(layout.sex, _code_field(fields["sex"], 1, "sex"))
    _put_dated(canvas, layout.expiry_date, layout.expiry_date_cd, fields["expiry_date"], "expiry_date")
    _put_optional_2(canvas, fields.get("optional_data_2", ""))
    _put_final_digits(canvas)
    return "\n".join(canvas.text())


def _width(span: Span) -> int:
    return span.end - span.start


def _put_dated(canvas: _Canvas, span: Span, cd_span: Span, value: str, key: str) -> None:
    if len(value) != 6 or not re.fullmatch(r"[0-9<]{6}", value):
        raise ValueError(f"{key} must be 6 characters YYMMDD (digits, or fillers for unknown parts)")
    canvas.put(span, value)
    canvas.put(cd_span, str(check_digit(value)))


def _put_optional_2(canvas: _Canvas, value: str) -> None:
    span = canvas.layout.optional_data_2
    if span is None:
        if value:
            raise ValueError(f"{canvas.layout.format} has no optional_data_2")
        return
    if value and (value[0] == FILLER or value[-1] == FILLER):
        raise ValueError("optional data must not start or end with the filler")
    canvas.put(span, _code_field(value, _width(span), "optional_data_2"))


def _put_final_digits(canvas: _Canvas) -> None:
    """TD3 optional-data check digit (``<`` over all-filler data) and the composite check digit."""
    layout = canvas.layout
    if layout.optional_data_cd is not None:
        data = canvas.get(layout.optional_data)
        canvas.put(layout.optional_data_cd, FILLER if set(data) == {FILLER} else str(check_digit(data)))
    if layout.composite_cd is not None:
        data = "".join(canvas.get(span) for span in layout.composite)
        canvas.put(layout.composite_cd, str(check_digit(data)))
