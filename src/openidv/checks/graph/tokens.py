"""Identifiers that are opaque tokens: document numbers, national ids, device ids and face cluster ids.

They carry no spelling variants worth modelling, only formatting noise (MRZ fillers, dashes, spaces) that must
not split one document into two keys, and hostile content (control characters, megabytes) that must not enter.
"""

from __future__ import annotations

import re
from typing import Literal

from openidv.checks.graph.identifier import Identifier, preview, require_text
from openidv.errors import InvalidInput

#: separators people and MRZ readers put inside document and national id numbers
_FILLERS = re.compile(r"[<\s\-‐‑‒–—./]+")
_ALNUM = re.compile(r"[A-Z0-9]+")
_ISSUER = re.compile(r"[A-Z]{3}")
#: MRZ codes shorter than three letters, padded with "<" on the document (ICAO 9303 part 3)
_SHORT_MRZ_ISSUERS = {"D": "DEU"}
_TOKEN = re.compile(r"[!-~]+")  # printable ASCII, no spaces: ids minted by software

MAX_DOCUMENT_CHARS = 40
MAX_NATIONAL_ID_CHARS = 40
MAX_TOKEN_CHARS = 128


def canonical_issuer(text: object) -> str:
    """An ISO 3166 alpha-3 issuer code as the MRZ writes it (``DEU``, ``GBR``, also ``UNO``, ``XXA``)."""
    raw = require_text(text, "document_issuer", max_chars=16)
    code = _FILLERS.sub("", raw).upper()
    code = _SHORT_MRZ_ISSUERS.get(code, code)
    if not _ISSUER.fullmatch(code):
        raise InvalidInput(f"document_issuer: {preview(raw)} is not an ISO 3166 alpha-3 code")
    return code


def document_identifier(number: object, issuer: object) -> Identifier:
    """``document:ISSUER:NUMBER``: one document, whether read from the MRZ, a barcode or typed by hand."""
    raw = require_text(number, "document_number", max_chars=4 * MAX_DOCUMENT_CHARS)
    value = _FILLERS.sub("", raw).upper()
    if not value or not _ALNUM.fullmatch(value) or len(value) > MAX_DOCUMENT_CHARS:
        raise InvalidInput(
            f"document_number: {preview(raw)} must be letters and digits (at most {MAX_DOCUMENT_CHARS})"
        )
    return Identifier("document", f"{canonical_issuer(issuer)}:{value}")


def national_id_identifier(text: object) -> Identifier:
    """A national id number with its separators removed ("123-45-6789" and "123 45 6789" are one SSN)."""
    raw = require_text(text, "national_id", max_chars=4 * MAX_NATIONAL_ID_CHARS)
    value = _FILLERS.sub("", raw).upper()
    if not value or not _ALNUM.fullmatch(value) or len(value) > MAX_NATIONAL_ID_CHARS:
        raise InvalidInput(
            f"national_id: {preview(raw)} must be letters and digits (at most {MAX_NATIONAL_ID_CHARS})"
        )
    return Identifier("national_id", value)


def token_identifier(kind: Literal["device", "face"], text: object) -> Identifier:
    """A device or face id kept exactly (ids may be case-sensitive), refused unless printable ASCII."""
    raw = require_text(text, kind, max_chars=MAX_TOKEN_CHARS)
    if not _TOKEN.fullmatch(raw):
        raise InvalidInput(f"{kind}: {preview(raw)} must be printable ASCII without spaces")
    return Identifier(kind, raw)
