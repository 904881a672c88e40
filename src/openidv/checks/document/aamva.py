"""AAMVA DL/ID card barcode payloads (the PDF417 on the back of North American licences): compose and parse.

The payload is a header (``@``, LF, RS, CR, ``ANSI `` + issuer identification number + versions + subfile
directory) followed by subfiles; the ``DL``/``ID`` subfile holds three-letter elements, one per line
(``DCSDOE`` = family name DOE). Real issuers deviate from the standard, so ``QUIRKS`` says per issuer (by IIN)
how to read dates and names; the standard's own rule that Canadian issuers write dates CCYYMMDD is applied
from the country element when an issuer is not in the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

LF, RS, CR = "\n", "\x1e", "\r"

#: element id -> the field name used across openidv (MRZ-style keys where one exists)
ELEMENTS: dict[str, str] = {
    "DCA": "dl_class",
    "DCB": "restrictions",
    "DCD": "endorsements",
    "DBA": "expiry_date",
    "DCS": "surname",
    "DAC": "first_name",
    "DAD": "middle_names",
    "DBD": "issue_date",
    "DBB": "birth_date",
    "DBC": "sex",
    "DAY": "eye_color",
    "DAU": "height",
    "DAG": "street",
    "DAI": "city",
    "DAJ": "jurisdiction",
    "DAK": "postal_code",
    "DAQ": "document_number",
    "DCF": "document_discriminator",
    "DCG": "country",
    "DDE": "surname_truncated",
    "DDF": "first_name_truncated",
    "DDG": "middle_name_truncated",
    "DAA": "full_name",  # AAMVA version 1: LAST,FIRST,MIDDLE
}
DATE_ELEMENTS = ("DBA", "DBD", "DBB")
SEX_CODES = {"1": "M", "2": "F", "9": "X"}


@dataclass(frozen=True)
class Quirks:
    """How one issuer departs from the standard."""

    date_order: str = "MMDDCCYY"  # or CCYYMMDD
    name_element: str = "DCS"  # DAA for issuers still writing version-1 full names
    note: str = ""


#: per issuer identification number (IIN). Only fictional issuers are listed with certainty; add real ones
#: from observed payloads, never from memory.
QUIRKS: dict[str, Quirks] = {
    "636999": Quirks(note="State of Jefferson (fictional, synthetic data): follows the standard"),
    "636998": Quirks(date_order="CCYYMMDD", note="Province of Acadia (fictional): Canadian date order"),
    "636997": Quirks(name_element="DAA", note="fictional issuer still writing version-1 full names"),
}


@dataclass(frozen=True)
class AamvaRecord:
    """A parsed payload: header facts, raw elements, and normalised fields."""

    iin: str
    version: int
    jurisdiction_version: int
    subfile: str
    elements: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)  # normalised (dates ISO, sex M/F/X)
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "iin": self.iin,
            "version": self.version,
            "jurisdiction_version": self.jurisdiction_version,
            "subfile": self.subfile,
            "elements": dict(self.elements),
            "fields": dict(self.fields),
            "problems": list(self.problems),
        }


def format_date(value: date, order: str) -> str:
    return value.strftime("%Y%m%d") if order == "CCYYMMDD" else value.strftime("%m%d%Y")


def parse_date(raw: str, order: str) -> date | None:
    if not re.fullmatch(r"\d{8}", raw):
        return None
    try:
        if order == "CCYYMMDD":
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        return date(int(raw[4:]), int(raw[:2]), int(raw[2:4]))
    except ValueError:
        return None


def compose_aamva(
    iin: str,
    elements: Mapping[str, str],
    *,
    version: int = 10,
    jurisdiction_version: int = 0,
    subfile: str = "DL",
) -> str:
    """Build a payload with one subfile; ``elements`` maps element ids to values (already formatted)."""
    body = subfile + "".join(f"{key}{value}{LF}" for key, value in elements.items()) + CR
    header_len = 21 + 10  # fixed header + one subfile directory entry
    header = f"@{LF}{RS}{CR}ANSI {iin}{version:02d}{jurisdiction_version:02d}01"
    directory = f"{subfile}{header_len:04d}{len(body):04d}"
    return header + directory + body


_HEADER = re.compile(r"(ANSI |AAMVA)(\d{6})(\d{2})(\d{2})(\d{2})")


def parse_aamva(payload: str | bytes) -> AamvaRecord | None:
    """Parse a decoded payload; None when it is not an AAMVA payload at all."""
    text = payload.decode("latin-1") if isinstance(payload, bytes) else payload
    head = _HEADER.search(text[:64])
    if head is None:
        return None
    iin, version, jver = head.group(2), int(head.group(3)), int(head.group(4))
    quirks = QUIRKS.get(iin)
    problems: list[str] = []
    start = _subfile_start(text, head.end())
    if start < 0:
        return AamvaRecord(iin, version, jver, "", {}, {}, ("no DL or ID subfile found",))
    subfile = text[start : start + 2]
    elements: dict[str, str] = {}
    for line in re.split(r"[\n\r]+", text[start + 2 :]):
        line = line.strip(RS + " ")
        if len(line) >= 3 and re.fullmatch(r"[A-Z]{3}", line[:3]):
            elements.setdefault(line[:3], line[3:].strip())
    if "DCG" in elements and quirks is None:
        order = "CCYYMMDD" if elements["DCG"] == "CAN" else "MMDDCCYY"
        quirks = Quirks(date_order=order, note="not in the quirks table: date order from the country")
    quirks = quirks or Quirks()
    return AamvaRecord(
        iin, version, jver, subfile, elements, _normalise(elements, quirks, problems), tuple(problems)
    )


def _subfile_start(text: str, after: int) -> int:
    """Offsets in the directory are often wrong in the wild: find the subfile by its designator instead."""
    for designator in ("DL", "ID"):
        match = re.search(designator + r"(?=[A-Z]{3})", text[after + 10 :])
        if match:
            return after + 10 + match.start()
    return -1


def _normalise(elements: Mapping[str, str], quirks: Quirks, problems: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in elements.items():
        name = ELEMENTS.get(key)
        if name is None:
            continue
        if key in DATE_ELEMENTS:
            parsed = parse_date(value, quirks.date_order)
            if parsed is None:
                problems.append(f"{key} {value!r} is not a {quirks.date_order} date")
                continue
            out[name] = parsed.isoformat()
        elif key == "DBC":
            out[name] = SEX_CODES.get(value, value)
        else:
            out[name] = value
    if quirks.name_element == "DAA" or ("DCS" not in elements and "DAA" in elements):
        parts = [p.strip() for p in elements.get("DAA", "").split(",")]
        out["surname"] = parts[0] if parts else ""
        out["first_name"] = parts[1] if len(parts) > 1 else ""
        out["middle_names"] = " ".join(parts[2:])
    given = " ".join(p for p in (out.get("first_name", ""), out.get("middle_names", "")) if p and p != "NONE")
    out["given_names"] = given
    return out
