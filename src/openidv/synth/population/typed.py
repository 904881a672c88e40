"""How people type identifiers into an onboarding form: the same phone, address or mailbox reaches us
in many spellings, so exact string matching under-links and normalisation has real work to do."""

from __future__ import annotations

import random

from openidv.synth.population.draw import between, cumulative, index, pick
from openidv.synth.population.people import Address, ascii_fold

_STREET_WORDS = {
    "US": (
        ("Street", "St", "St.", "street", "ST"),
        ("Avenue", "Ave", "Ave.", "avenue"),
        ("Road", "Rd", "Rd."),
    ),
    "GB": (("Street", "St", "St.", "street"), ("Road", "Rd", "Rd.", "road"), ("Lane", "Ln", "lane")),
}
_US_STYLES = cumulative((26, 22, 6, 14, 10, 12, 4, 6))
_STYLES = cumulative((30, 18, 18, 14, 7, 4, 6, 3))
_ES_STYLES = cumulative((30, 18, 18, 14, 7, 0, 6, 3))
_UNIT_WORDS = {
    "US": ("Apt {u}", "Apt. {u}", "#{u}", "Unit {u}", "apt {u}"),
    "GB": ("Flat {u}", "Flat {u},", "flat {u}", "Apartment {u}"),
    "DE": ("Whg. {u}", "Wohnung {u}", "App. {u}"),
    "FR": ("Apt {u}", "Appt {u}", "Bât {u}", "appartement {u}"),
    "ES": ("{f}º {d}", "{f}º{d}", "{f}{d}", "piso {f} {d}", "{f}-{d}"),
}


def phone(rng: random.Random, e164: str, country_code: str) -> str:
    """One of the ways a mobile number is typed: national with trunk 0, international with or without
    +, grouped with spaces, dashes, dots or brackets."""
    national = e164[1 + len(country_code) :]
    if country_code == "1":
        a, b, c = national[:3], national[3:6], national[6:]
        options = (
            f"({a}) {b}-{c}",
            f"{a}-{b}-{c}",
            f"{a}.{b}.{c}",
            national,
            f"+1 {a} {b} {c}",
            e164,
            f"1{national}",
            f"+1 ({a}) {b}-{c}",
        )
        return options[index(rng, _US_STYLES)]
    spaced = _groups(national, country_code)
    trunk = national if country_code == "34" else "0" + national  # Spain dials no trunk 0
    spaced_trunk = spaced if country_code == "34" else "0" + spaced
    options = (
        spaced_trunk,
        trunk,
        f"+{country_code} {spaced}",
        e164,
        f"00{country_code}{national}",
        f"+{country_code} (0){spaced}",
        spaced_trunk.replace(" ", "-"),
        spaced_trunk.replace(" ", "."),
    )
    return options[index(rng, _ES_STYLES if country_code == "34" else _STYLES)]


def _groups(national: str, country_code: str) -> str:
    """The grouping each country writes: 7700 900123 (GB), 151 23456789 (DE), 6 12 34 56 78 (FR),
    612 34 56 78 (ES)."""
    if country_code == "44":
        return f"{national[:4]} {national[4:]}"
    if country_code == "49":
        return f"{national[:3]} {national[3:]}"
    if country_code == "33":
        return " ".join([national[0]] + [national[i : i + 2] for i in range(1, len(national), 2)])
    return " ".join([national[:3]] + [national[i : i + 2] for i in range(3, len(national), 2)])


def address(rng: random.Random, addr: Address) -> str:
    """The address as typed: abbreviations, case, punctuation and where the unit goes vary."""
    text = _layout(rng, addr)
    roll = rng.random()
    if roll < 0.08:
        text = text.upper()
    elif roll < 0.16:
        text = text.lower()
    elif roll < 0.22:
        text = text.replace(", ", " ")
    if rng.random() < 0.05:
        text = text + " "
    return text


def _layout(rng: random.Random, a: Address) -> str:
    unit = None
    if a.unit:  # Spanish flats are a floor and a door: 3º B
        unit = pick(rng, _UNIT_WORDS[a.locale]).format(u=a.unit, f=a.unit[:-1], d=a.unit[-1:])
    if a.locale in {"US", "GB"}:
        kind = _STREET_WORDS[a.locale][sum(map(ord, a.street)) % len(_STREET_WORDS[a.locale])]
        street = f"{a.number} {a.street} {pick(rng, kind)}"
        if a.locale == "US":
            parts = [street + (f" {unit}" if unit and rng.random() < 0.6 else ""), a.city + f" {a.postcode}"]
            if unit and unit not in parts[0]:
                parts.insert(1, unit)
            return ", ".join(parts)
        pc = a.postcode if rng.random() < 0.8 else a.postcode.replace(" ", "")
        parts = ([unit.rstrip(",")] if unit else []) + [street, a.city, pc]
        return ", ".join(parts)
    if a.locale == "DE":
        suffix = pick(rng, ("straße", "str.", "strasse", "Straße", "str"))
        street = (
            f"{a.street}{suffix} {a.number}" if suffix[0].islower() else f"{a.street} {suffix} {a.number}"
        )
        return ", ".join([street] + ([unit] if unit else []) + [f"{a.postcode} {a.city}"])
    if a.locale == "FR":
        way = pick(rng, ("rue", "Rue", "r.", "RUE"))
        sep = pick(rng, (" ", ", "))
        return ", ".join(
            [f"{a.number}{sep}{way} {a.street}"] + ([unit] if unit else []) + [f"{a.postcode} {a.city}"]
        )
    way = pick(rng, ("Calle", "C/", "c/", "Calle"))
    num = pick(rng, (f" {a.number}", f", {a.number}", f" nº {a.number}"))
    return ", ".join([f"{way} {a.street}{num}"] + ([unit] if unit else []) + [f"{a.postcode} {a.city}"])


def email(rng: random.Random, local: str, provider: str, *, variant: bool = False) -> str:
    """A mailbox as typed; ``variant`` gives the same mailbox in another spelling (Gmail ignores dots and
    ``+tags``, googlemail.com is gmail.com, Outlook keeps ``+tags``), as a person's second account would."""
    if not variant:
        return f"{local}@{provider}" if rng.random() > 0.04 else f"{local.capitalize()}@{provider}"
    if provider in {"gmail.com", "googlemail.com"}:
        plain = local.replace(".", "")
        roll = rng.random()
        if roll < 0.35:
            cut = between(rng, 1, max(1, len(plain) - 1))
            local = f"{plain[:cut]}.{plain[cut:]}"
        elif roll < 0.5:
            provider = "googlemail.com" if provider == "gmail.com" else "gmail.com"
        elif roll < 0.6:
            local = plain
    if (
        provider.split(".")[0]
        in {"gmail", "googlemail", "outlook", "hotmail", "icloud", "proton", "protonmail"}
        and rng.random() < 0.6
    ):
        local = f"{local}+{pick(rng, ('shop', 'bank', 'news', 'signup', 'finance', '2', 'promo'))}"
    if rng.random() < 0.15:
        return (
            f"{local}@{provider}".upper()
            if rng.random() < 0.3
            else f"{local.capitalize()}@{provider.capitalize()}"
        )
    return f"{local}@{provider}"


_GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def names(rng: random.Random, surname: str, given: str, *, variant: bool = False) -> tuple[str, str]:
    """Names as declared: usually as on the document; on a ``variant`` (a second account) or now and then,
    without the middle name, without accents (Müller -> Muller or Mueller), or in capitals."""
    if not variant and rng.random() > 0.04:
        return surname, given
    roll = rng.random()
    if roll < 0.3 and " " in given:
        return surname, given.split()[0]
    if roll < 0.5:
        return ascii_fold(surname), ascii_fold(given)
    if roll < 0.6:
        return surname.translate(_GERMAN_FOLD), given.translate(_GERMAN_FOLD)
    if roll < 0.75:
        return surname.upper(), given.upper()
    return surname, given
