"""Real (synthetic) people: a name, a birth date, a face, a national id, an identity document, a phone,
a mailbox and a home. Accounts are made from people; one person may open more than one account."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from openidv.synth.population.draw import Weighted, below, between, pick
from openidv.synth.population.locales import LOCALES, Locale

#: the population's "today": fixed so a seed always gives the same ages and dates
TODAY = date(2026, 7, 1)

_LOCALE_PICK = Weighted(LOCALES, [loc.weight for loc in LOCALES])
_PROVIDERS = {
    loc.alpha2: Weighted([p for p, _ in loc.providers], [w for _, w in loc.providers]) for loc in LOCALES
}
_DOC_LETTERS = "CFGHJKLMNPRTVWXYZ"
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


@dataclass(frozen=True)
class Address:
    """A home or office as it really is; how people type it is ``typed.address``."""

    locale: str
    number: int
    street: str
    unit: str | None
    city: str
    postcode: str


@dataclass(frozen=True)
class Person:
    """One real human being (or one fabricated identity, for synthetic-identity rings)."""

    locale: Locale
    surname: str
    given_names: str
    birth_date: date
    face_id: str
    national_id: str | None
    national_id_issued: date | None
    document_number: str
    document_issuer: str
    phone: str  # E.164, the truth; accounts carry it as typed
    email_local: str
    email_provider: str
    home: Address


def pick_locale(rng: random.Random) -> Locale:
    """A country by population weight."""
    return _LOCALE_PICK(rng)


def hex_id(rng: random.Random, prefix: str, bits: int = 64) -> str:
    """An opaque id such as ``face_1f3a...``; 64 random bits make collisions negligible at our sizes."""
    return f"{prefix}{rng.getrandbits(bits):0{bits // 4}x}"


def birth_date(rng: random.Random, min_age: int = 18, max_age: int = 80) -> date:
    """Ages skew young-adult, like people opening accounts."""
    bell = (rng.random() + rng.random() + rng.random()) / 3
    age = min_age + int((max_age - min_age) * bell**1.5)
    return TODAY - timedelta(days=age * 365 + below(rng, 365))


def mobile_number(rng: random.Random, loc: Locale) -> str:
    """An E.164 mobile number shaped like the country's."""
    prefix = pick(rng, loc.mobile_prefixes)
    if loc.alpha2 == "US":
        return f"+1{prefix}{between(rng, 2, 9)}{below(rng, 10**6):06d}"
    return f"+{loc.calling_code}{prefix}{below(rng, 10**loc.subscriber_digits):0{loc.subscriber_digits}d}"


def national_id(rng: random.Random, loc: Locale, born: date, female: bool) -> tuple[str | None, date | None]:
    """The country's national id and when it was issued (Germany has no personal number: None)."""
    code = loc.alpha2
    if code == "US":
        area = between(rng, 1, 899)
        area = 667 if area == 666 else area
        ssn = f"{area:03d}-{between(rng, 1, 99):02d}-{between(rng, 1, 9999):04d}"
        at = born + timedelta(
            days=below(rng, 30, 700) if born.year > 1987 else below(rng, 14 * 365, 19 * 365)
        )
        return ssn, at
    if code == "GB":
        letters = "ABCEGHJKLMNPRSTWXYZ"
        nino = f"{pick(rng, letters)}{pick(rng, letters)}{below(rng, 10**6):06d}{pick(rng, 'ABCD')}"
        return nino, born + timedelta(days=16 * 365 - below(rng, 90))
    if code == "FR":
        place = f"{between(rng, 1, 95):02d}{between(rng, 1, 999):03d}{between(rng, 1, 999):03d}"
        body = f"{2 if female else 1}{born.year % 100:02d}{born.month:02d}{place}"
        key = 97 - int(body) % 97
        return f"{body}{key:02d}", born + timedelta(days=below(rng, 5, 40))
    if code == "ES":
        digits = below(rng, 10**7, 10**8)
        return f"{digits}{_DNI_LETTERS[digits % 23]}", born + timedelta(days=14 * 365 + below(rng, 700))
    return None, None


def document_number(rng: random.Random, loc: Locale) -> str:
    """A passport or identity-card number in the issuer's shape."""
    code = loc.alpha2
    if code == "US":
        return f"{pick(rng, '5A')}{below(rng, 10**8):08d}"
    if code == "GB":
        return f"{below(rng, 10**9):09d}"
    if code == "DE":
        return "".join(pick(rng, _DOC_LETTERS + "0123456789") for _ in range(9))
    if code == "FR":
        letters = pick(rng, string.ascii_uppercase) + pick(rng, string.ascii_uppercase)
        return f"{below(rng, 100):02d}{letters}{below(rng, 10**5):05d}"
    return f"{pick(rng, 'PAX')}{pick(rng, 'AB')}{pick(rng, string.ascii_uppercase)}{below(rng, 10**6):06d}"


def home_address(rng: random.Random, loc: Locale, city: tuple[str, str] | None = None) -> Address:
    """A dwelling: about a third are flats with a unit."""
    name, prefix = city or pick(rng, loc.cities)
    unit = None
    if rng.random() < 0.35:
        unit = (
            f"{between(rng, 1, 12)}{pick(rng, 'ABCD')}"
            if loc.alpha2 in {"US", "ES"}
            else str(between(rng, 1, 40))
        )
    return Address(
        loc.alpha2, between(rng, 1, 240), pick(rng, loc.streets), unit, name, postcode(rng, loc, prefix)
    )


def postcode(rng: random.Random, loc: Locale, prefix: str) -> str:
    """A postcode inside the prefix (so neighbours share an area)."""
    if loc.alpha2 == "GB":
        inward = "ABDEFGHJLNPQRSTUWXY"
        return f"{prefix} {between(rng, 1, 9)}{pick(rng, inward)}{pick(rng, inward)}"
    return prefix + "".join(str(below(rng, 10)) for _ in range(5 - len(prefix)))


def email_local(rng: random.Random, given: str, surname: str, born: date) -> str:
    """The part before the @, the way people pick it from their name."""
    g = ascii_fold(given.split()[0]).lower()
    s = ascii_fold(surname).lower().replace("'", "").replace(" ", "")
    year = born.year
    patterns: tuple[Callable[[], str], ...] = (
        lambda: f"{g}.{s}",
        lambda: f"{g}{s}",
        lambda: f"{g[0]}{s}",
        lambda: f"{g}.{s}{year % 100:02d}",
        lambda: f"{g}{s}{year}",
        lambda: f"{s}.{g}",
        lambda: f"{g}_{s}",
        lambda: f"{g[0]}.{s}{between(rng, 1, 99)}",
        lambda: f"{g}{between(rng, 1, 999)}",
        lambda: f"{s}{g[0]}{year % 100:02d}",
    )
    return pick(rng, patterns)()


def make_person(
    rng: random.Random,
    loc: Locale | None = None,
    *,
    surname: str | None = None,
    home: Address | None = None,
    born: date | None = None,
) -> Person:
    """A fresh person; a family passes its surname and home, a campus its students' ages."""
    loc = loc or pick_locale(rng)
    female = rng.random() < 0.5
    given = pick(rng, loc.given_female if female else loc.given_male)
    if rng.random() < 0.25:
        given = f"{given} {pick(rng, loc.given_female if female else loc.given_male)}"
    surname = surname or pick(rng, loc.surnames)
    born = born or birth_date(rng)
    nid, issued = national_id(rng, loc, born, female)
    return Person(
        locale=loc,
        surname=surname,
        given_names=given,
        birth_date=born,
        face_id=hex_id(rng, "face_"),
        national_id=nid,
        national_id_issued=issued,
        document_number=document_number(rng, loc),
        document_issuer=loc.alpha3,
        phone=mobile_number(rng, loc),
        email_local=email_local(rng, given, surname, born),
        email_provider=_PROVIDERS[loc.alpha2](rng),
        home=home or home_address(rng, loc),
    )


def new_identity_documents(rng: random.Random, person: Person, loc: Locale | None = None) -> Person:
    """The same face under another name with its own documents (what a face-reuse fraudster presents)."""
    other = make_person(rng, loc or person.locale)
    return replace(other, face_id=person.face_id)


_ASCII = str.maketrans("äöüéèêëàâçîïôûùñáíóúıÄÖÜÉÁÍÓÚÑ", "aoueeeeaaciiouunaiouiAOUEAIOUN")


def ascii_fold(text: str) -> str:
    """Mailbox names drop accents (Müller -> muller, Weiß -> weiss)."""
    return text.replace("ß", "ss").translate(_ASCII)
