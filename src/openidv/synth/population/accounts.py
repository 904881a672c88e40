"""One onboarding application: a person's identifiers as the form received them, plus its label."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from openidv.synth.population import typed
from openidv.synth.population.draw import below, between, cumulative, index
from openidv.synth.population.locales import LOCALES
from openidv.synth.population.people import TODAY, Address, Person

#: applications arrive over the half year before ``TODAY``
WINDOW_START = datetime(2026, 1, 1)
WINDOW_DAYS = (datetime(TODAY.year, TODAY.month, TODAY.day) - WINDOW_START).days

FIELDS = (
    "account_id", "created_at", "surname", "given_names", "birth_date", "email", "phone", "address", "ip",
    "device_id", "national_id", "national_id_issued", "document_number", "document_issuer", "face_id",
    "country",
)  # fmt: skip

#: how often an optional field is left empty (forms differ, people skip fields, SDKs fail)
_MISSING = {
    "email": 0.01,
    "phone": 0.04,
    "address": 0.03,
    "ip": 0.005,
    "device_id": 0.03,
    "national_id": 0.08,
}
_CALLING = {loc.calling_code: loc.calling_code for loc in LOCALES}
#: hour-of-day weights: people apply in the evening more than at 4 am
_HOURS = cumulative((1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 8, 7, 7, 7, 7, 8, 9, 10, 10, 9, 6, 3))


@dataclass(slots=True)
class Labelled:
    """An application with its truth: which ring (if any) and which typology (innocent ones too)."""

    created: datetime
    record: dict[str, str | None]
    ring_id: str
    typology: str
    #: which group it was made in (a ring, a family, an office...): for tests and analysis, not written
    group: str = ""


def calling_code(e164: str) -> str:
    """The country calling code of one of our E.164 numbers (1, 33, 34, 44, 49 do not overlap)."""
    return "1" if e164.startswith("+1") else _CALLING[e164[1:3]]


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def day_time(rng: random.Random, day: datetime, *, office_hours: bool = False) -> datetime:
    """A moment in the day, evening-heavy, or 9-17 for people applying from work."""
    hour = between(rng, 9, 16) if office_hours else index(rng, _HOURS)
    return day.replace(hour=hour, minute=below(rng, 60), second=below(rng, 60))


def any_day(rng: random.Random, start: datetime = WINDOW_START, days: int = WINDOW_DAYS) -> datetime:
    """A day in ``[start, start + days)``, clipped to the window."""
    offset = min(max(0, (start - WINDOW_START).days + below(rng, max(1, days))), WINDOW_DAYS - 1)
    return WINDOW_START + timedelta(days=offset)


def application(
    rng: random.Random,
    person: Person,
    created: datetime,
    *,
    ip: str,
    device: str,
    phone: str | None = None,
    address: Address | None = None,
    email: str | None = None,
    second: bool = False,
    keep: frozenset[str] = frozenset(),
) -> dict[str, str | None]:
    """The record an onboarding form would send; ``keep`` names fields never blanked (a ring's tell)."""
    e164 = phone or person.phone
    surname, given = typed.names(rng, person.surname, person.given_names, variant=second)
    record: dict[str, str | None] = {
        "account_id": None,
        "created_at": iso(created),
        "surname": surname,
        "given_names": given,
        "birth_date": person.birth_date.isoformat(),
        "email": email or typed.email(rng, person.email_local, person.email_provider, variant=second),
        "phone": typed.phone(rng, e164, calling_code(e164)),
        "address": typed.address(rng, address or person.home),
        "ip": ip,
        "device_id": device,
        "national_id": person.national_id,
        "national_id_issued": person.national_id_issued.isoformat() if person.national_id_issued else None,
        "document_number": person.document_number,
        "document_issuer": person.document_issuer,
        "face_id": person.face_id,
        "country": person.locale.alpha2,
    }
    for name, rate in _MISSING.items():
        if name not in keep and rng.random() < rate:
            record[name] = None
    if record["national_id"] is None:
        record["national_id_issued"] = None
    return record
