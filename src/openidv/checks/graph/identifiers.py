"""An applicant's declared fields to the identifiers the graph links on, one bad field at a time.

``identifiers_of`` is what onboarding, ``openidv graph ingest`` and the synthetic population all call, so a
key means the same thing everywhere. A field that cannot be normalised becomes a problem string, never an
exception: a mistyped phone must not hide the applicant's device from the ring detector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openidv.checks.graph.addresses import canonical_address
from openidv.checks.graph.emails import canonical_email
from openidv.checks.graph.identifier import KINDS, Identifier, Kind
from openidv.checks.graph.networks import ip_identifiers
from openidv.checks.graph.phones import canonical_phone
from openidv.checks.graph.tokens import (
    canonical_issuer,
    document_identifier,
    national_id_identifier,
    token_identifier,
)
from openidv.errors import InvalidInput

__all__ = [
    "APPLICANT_FIELDS",
    "KINDS",
    "Identifier",
    "Kind",
    "canonical_address",
    "canonical_email",
    "canonical_phone",
    "document_identifier",
    "identifiers_of",
    "ip_identifiers",
    "national_id_identifier",
    "token_identifier",
]

#: the applicant fields identifiers_of reads; any may be missing or null
APPLICANT_FIELDS = (
    "email",
    "phone",
    "country",
    "address",
    "ip",
    "device_id",
    "national_id",
    "document_number",
    "document_issuer",
    "face_id",
)


def identifiers_of(applicant: Mapping[str, Any]) -> tuple[list[Identifier], list[str]]:
    """The applicant's identifiers (no duplicates, in field order) and one problem line per unusable field."""
    found: list[Identifier] = []
    problems: list[str] = []

    def attempt(make: Callable[[], list[Identifier]]) -> None:
        try:
            found.extend(make())
        except InvalidInput as exc:
            problems.append(str(exc))

    region = _region(applicant.get("country"), problems)
    if _present(applicant, "email"):
        attempt(lambda: [Identifier("email", canonical_email(applicant["email"]))])
    if _present(applicant, "phone"):
        attempt(lambda: [Identifier("phone", canonical_phone(applicant["phone"], region))])
    if _present(applicant, "address"):
        attempt(lambda: [Identifier("address", canonical_address(applicant["address"], region))])
    if _present(applicant, "ip"):
        attempt(lambda: ip_identifiers(applicant["ip"]))
    if _present(applicant, "device_id"):
        attempt(lambda: [token_identifier("device", applicant["device_id"])])
    if _present(applicant, "national_id"):
        attempt(lambda: [national_id_identifier(applicant["national_id"])])
    if _present(applicant, "document_number") or _present(applicant, "document_issuer"):
        attempt(lambda: [_document(applicant)])
    if _present(applicant, "face_id"):
        attempt(lambda: [token_identifier("face", applicant["face_id"])])
    return list(dict.fromkeys(found)), problems


def _present(applicant: Mapping[str, Any], field: str) -> bool:
    """True when the field holds something other than null or blank text."""
    value = applicant.get(field)
    return value is not None and not (isinstance(value, str) and not value.strip())


def _region(country: object, problems: list[str]) -> str | None:
    """The applicant's alpha-2 country (the phone's default region), or None with a problem when malformed."""
    if country is None or (isinstance(country, str) and not country.strip()):
        return None
    if (
        isinstance(country, str)
        and len(code := country.strip().upper()) == 2
        and code.isascii()
        and code.isalpha()
    ):
        return code
    problems.append(f"country: {country!r:.40} is not an ISO 3166 alpha-2 code")
    return None


def _document(applicant: Mapping[str, Any]) -> Identifier:
    """The document identifier; a number without an issuer (or the reverse) is a problem, not a key."""
    if not _present(applicant, "document_issuer"):
        raise InvalidInput("document_number: given without document_issuer")
    if not _present(applicant, "document_number"):
        canonical_issuer(applicant["document_issuer"])  # report a bad issuer first
        raise InvalidInput("document_issuer: given without document_number")
    return document_identifier(applicant["document_number"], applicant["document_issuer"])
