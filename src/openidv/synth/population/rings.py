"""Fraud rings, one function per typology. Each ring leaves the trace its typology is known for, and
otherwise looks as ordinary as the innocent population (carrier IPs, common names, typed variants)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from openidv.synth.population import typed
from openidv.synth.population.accounts import Labelled, any_day, application, day_time
from openidv.synth.population.draw import below, between, pick
from openidv.synth.population.locales import THROWAWAY_PROVIDERS, Locale
from openidv.synth.population.network import Network, device_id
from openidv.synth.population.people import TODAY, Person, birth_date, make_person, mobile_number, pick_locale

#: share of ring accounts per typology
RING_MIX = {
    "synthetic_identity": 0.26,
    "device_farm": 0.22,
    "document_reuse": 0.16,
    "face_reuse": 0.16,
    "bust_out": 0.20,
}
#: a burst starts early enough to end inside the window
WINDOW_FOR_BURST = 175
SIZES = {
    "synthetic_identity": (3, 10),
    "device_farm": (6, 40),
    "document_reuse": (3, 8),
    "face_reuse": (3, 8),
    "bust_out": (5, 20),
}


def synthetic_identity(rng: random.Random, net: Network, size: int, ring: str) -> list[Labelled]:
    """Fabricated people: national ids that were never issued to them (issued before the birth date, or
    brand new for a 35-year-old: a thin file), one phone or device for all, opened within days, often a
    mail-drop address."""
    loc = pick_locale(rng)
    shared = pick(rng, ("phone", "device", "both"))
    phone = mobile_number(rng, loc)
    device = device_id(rng)
    drop = make_person(rng, loc).home if rng.random() < 0.5 else None
    ips = [net.home_ip(loc), net.vpn_ip(), net.mobile_ip(loc)]
    start = any_day(rng, days=170)
    out = []
    for _ in range(size):
        person = make_person(rng, loc, born=birth_date(rng, 21, 45))
        nid = person.national_id or f"{below(rng, 10**8, 10**9)}"
        if rng.random() < 0.55:
            issued = person.birth_date - timedelta(days=between(rng, 30, 4000))
        else:
            issued = TODAY - timedelta(days=between(rng, 20, 500))
        person = replace(
            person,
            national_id=nid,
            national_id_issued=issued,
            email_local=_throwaway_local(rng, person),
            email_provider=pick(rng, THROWAWAY_PROVIDERS),
        )
        when = day_time(rng, start + timedelta(days=between(rng, 0, between(rng, 1, 10))))
        keep = frozenset(
            {"national_id"}
            | ({"phone"} if shared != "device" else set())
            | ({"device_id"} if shared != "phone" else set())
        )
        record = application(
            rng,
            person,
            when,
            ip=pick(rng, ips),
            device=device if shared != "phone" else device_id(rng),
            phone=phone if shared != "device" else None,
            address=drop if drop and rng.random() < 0.7 else None,
            keep=keep,
        )
        out.append(Labelled(when, record, ring, "synthetic_identity"))
    return out


def device_farm(rng: random.Random, net: Network, size: int, ring: str) -> list[Labelled]:
    """One device (an emulator or a rack phone) opens many accounts with bought identities; addresses,
    phones, mailboxes and IPs (residential proxies) all differ."""
    device = device_id(rng)
    loc = pick_locale(rng)
    start = any_day(rng, days=150)
    span = between(rng, 2, 30)
    out = []
    for _ in range(size):
        person = make_person(rng, loc if rng.random() < 0.8 else None)
        when = day_time(rng, any_day(rng, start, span))
        ip = net.any_residential_ip() if rng.random() < 0.7 else net.vpn_ip()
        record = application(rng, person, when, ip=ip, device=device, keep=frozenset({"device_id"}))
        out.append(Labelled(when, record, ring, "device_farm"))
    return out


def document_reuse(rng: random.Random, net: Network, size: int, ring: str) -> list[Labelled]:
    """One stolen or forged document number (same issuer) presented under different faces and names."""
    loc = pick_locale(rng)
    victim = make_person(rng, loc)
    start = any_day(rng, days=160)
    span = between(rng, 1, 20)
    device = device_id(rng) if rng.random() < 0.3 else None
    names: set[tuple[str, str]] = set()
    out = []
    for _ in range(size):
        person = replace(
            _new_name(rng, loc, names),
            document_number=victim.document_number,
            document_issuer=victim.document_issuer,
        )
        when = day_time(rng, any_day(rng, start, span))
        record = application(rng, person, when, ip=net.everyday_ip(loc), device=device or device_id(rng))
        out.append(Labelled(when, record, ring, "document_reuse"))
    return out


def face_reuse(rng: random.Random, net: Network, size: int, ring: str) -> list[Labelled]:
    """One fraudster's face on many identities: different names, documents and national ids; a couple of
    devices and networks of their own."""
    loc = pick_locale(rng)
    face = make_person(rng, loc).face_id
    devices = [device_id(rng) for _ in range(between(rng, 1, 3))]
    home = net.home_ip(loc)
    start = any_day(rng, days=150)
    span = between(rng, 1, 30)
    names: set[tuple[str, str]] = set()
    out = []
    for _ in range(size):
        person = replace(_new_name(rng, loc, names), face_id=face)
        when = day_time(rng, any_day(rng, start, span))
        ip = home if rng.random() < 0.5 else net.everyday_ip(loc)
        record = application(rng, person, when, ip=ip, device=pick(rng, devices))
        out.append(Labelled(when, record, ring, "face_reuse"))
    return out


def bust_out(rng: random.Random, net: Network, size: int, ring: str) -> list[Labelled]:
    """A burst: many accounts within hours from one /24 with one contact phone (typed differently), to
    max out credit before anyone looks."""
    loc = pick_locale(rng)
    phone = mobile_number(rng, loc)
    subnet = net.addresses_in(net.slash24(), between(rng, 2, 6))
    devices = [device_id(rng) for _ in range(between(rng, 1, 4))]
    start = day_time(rng, any_day(rng, days=WINDOW_FOR_BURST))
    hours = rng.uniform(0.5, 6)
    # some crews route every confirmation mail to one Gmail box, spelt with dots and +tags
    mailbox = _throwaway_local(rng, make_person(rng, loc)) if rng.random() < 0.4 else None
    out = []
    for _ in range(size):
        person = make_person(rng, loc)
        when = start + timedelta(seconds=below(rng, int(hours * 3600)))
        record = application(
            rng,
            person,
            when,
            ip=pick(rng, subnet),
            device=pick(rng, devices),
            phone=phone,
            email=typed.email(rng, mailbox, "gmail.com", variant=True) if mailbox else None,
            keep=frozenset({"phone", "ip"}),
        )
        out.append(Labelled(when, record, ring, "bust_out"))
    return out


RINGS = {
    "synthetic_identity": synthetic_identity,
    "device_farm": device_farm,
    "document_reuse": document_reuse,
    "face_reuse": face_reuse,
    "bust_out": bust_out,
}


def _new_name(rng: random.Random, loc: Locale, used: set[tuple[str, str]]) -> Person:
    """A person whose name differs from every other identity the ring has presented."""
    while True:
        person = make_person(rng, loc)
        if (person.surname, person.given_names) not in used:
            used.add((person.surname, person.given_names))
            return person


def _throwaway_local(rng: random.Random, person: Person) -> str:
    """Mailboxes opened for the occasion: name plus digits, or random letters."""
    if rng.random() < 0.5:
        return f"{person.email_local.split('.')[0]}{between(rng, 100, 99999)}"
    return "".join(pick(rng, "abcdefghijkmnpqrstuvwxyz23456789") for _ in range(between(rng, 7, 12)))
