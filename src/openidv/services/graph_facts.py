"""Account facts: what an application says about itself that the ring model reads, with no personal data.

Synthetic identities give themselves away by facts about one application (a national id issued before the
holder was born, or brand new for a 35-year-old: a thin file) and by facts across applications ("many
names on one phone"). The graph keeps identifier keys, not names or dates, so these facts are derived once
at ingest and kept beside the account: booleans, day counts and *name tokens*, a keyed hash of the
normalised name that lets the graph count distinct names on one device without storing any name.

The token is an HMAC-SHA256 (a plain hash when no key is given) truncated to 16 hex digits: a plain hash of
a name can be reversed by hashing a list of common names, so a deployment passes a secret key (the
integrator takes it from the key ring); the synthetic population and the tests use the empty key.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

#: hex digits kept of a name token: 64 bits, collisions negligible at a tenant's size
TOKEN_HEX = 16
_DAYS_A_YEAR = 365.25


@dataclass(frozen=True)
class AccountFacts:
    """Facts of one application (None: the field was missing or unreadable). JSON-able via ``to_dict``."""

    #: the national id's issue date lies before the birth date (a fabricated identity, or a typo)
    national_id_before_birth: bool | None = None
    #: days between the national id's issue and the application (small for an adult: a thin file)
    national_id_age_days: int | None = None
    #: applicant's age at application, years
    age_years: float | None = None
    #: applicant's age when the national id was issued, years (negative: before birth)
    age_at_id_issue_years: float | None = None
    #: keyed hash of the normalised first given name and surname
    name_token: str | None = None
    #: keyed hash of the normalised surname alone (families share it; fabricated people do not)
    surname_token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AccountFacts:
        """The inverse of ``to_dict``; unknown keys are ignored so older readers accept newer rows."""
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def normalise_name(text: str) -> str:
    """Case-folded, accents removed, letters only, single spaces: "José  O'Neil" -> "jose oneil"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if c.isalpha() or c.isspace())
    return " ".join(kept.split())


def name_token(text: str, key: bytes = b"") -> str:
    """Keyed hash of ``text`` (already normalised), truncated to ``TOKEN_HEX`` hex digits."""
    if key:
        digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest[:TOKEN_HEX]


def facts_from_applicant(
    applicant: Mapping[str, Any], created_at: datetime | None = None, *, key: bytes = b""
) -> AccountFacts:
    """Facts of one applicant record (the fields of ``openidv synth identities``' applicants.jsonl:
    ``surname``, ``given_names``, ``birth_date``, ``national_id_issued``, ``created_at``). Never raises on
    a bad field: that fact is None."""
    born = _date(applicant.get("birth_date"))
    issued = _date(applicant.get("national_id_issued"))
    applied = created_at.date() if created_at is not None else _date(applicant.get("created_at"))
    surname = normalise_name(str(applicant.get("surname") or ""))
    given = normalise_name(str(applicant.get("given_names") or "")).split(" ")[0]
    full = f"{given} {surname}".strip()
    return AccountFacts(
        national_id_before_birth=None if born is None or issued is None else issued < born,
        national_id_age_days=None if issued is None or applied is None else (applied - issued).days,
        age_years=None if born is None or applied is None else round((applied - born).days / _DAYS_A_YEAR, 3),
        age_at_id_issue_years=(
            None if born is None or issued is None else round((issued - born).days / _DAYS_A_YEAR, 3)
        ),
        name_token=name_token(full, key) if full else None,
        surname_token=name_token(surname, key) if surname else None,
    )


def _date(value: object) -> date | None:
    """``YYYY-MM-DD`` (or an ISO time, whose date is taken) -> date; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
