"""Phone numbers to E.164 with Google's libphonenumber metadata (the ``phonenumbers`` port).

"(020) 7946 0958" typed by a Londoner and "+44 20 7946 0958" are one line; the key must say so, and a string
that cannot be a real number must not become a key that links strangers.
"""

from __future__ import annotations

import phonenumbers

from openidv.checks.graph.identifier import preview, require_text
from openidv.errors import InvalidInput


def canonical_phone(text: object, default_region: str | None = None) -> str:
    """The number in E.164 (``+442079460958``), or InvalidInput.

    ``default_region`` (ISO 3166 alpha-2, e.g. the applicant's country) reads numbers written in national
    form; numbers written with ``+`` or ``00`` and a country code need none. Extensions are dropped:
    they reach the same line.
    """
    raw = require_text(text, "phone", max_chars=64)
    region = _region(default_region)
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"phone: cannot read {preview(raw)} as a phone number ({_reason(exc)})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"phone: {preview(raw)} has the wrong length for its country")
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"phone: {preview(raw)} is not a number in use in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _region(default_region: str | None) -> str | None:
    """The default region upper-cased, refused unless libphonenumber knows it."""
    if default_region is None:
        return None
    if not isinstance(default_region, str):
        raise InvalidInput(f"phone: default region must be text, got {type(default_region).__name__}")
    region = default_region.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"phone: unknown default region {preview(default_region)} (expected alpha-2)")
    return region


def _reason(exc: phonenumbers.NumberParseException) -> str:
    """libphonenumber's parse error in plain words."""
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no country code and no default region",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "unreadable")
