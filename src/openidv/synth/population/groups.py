"""Innocent groups: individuals (some with a second account), families, coworkers, students.

They share identifiers for honest reasons (a home, a family phone, an office network, a dorm), which is
what makes ring detection a weighting problem rather than a lookup."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta

from openidv.synth.population import typed
from openidv.synth.population.accounts import Labelled, any_day, application, day_time
from openidv.synth.population.draw import Weighted, below, between, pick
from openidv.synth.population.network import Network, device_id
from openidv.synth.population.people import (
    TODAY,
    Address,
    Person,
    birth_date,
    make_person,
    pick_locale,
    postcode,
)

_FAMILY_SIZE = Weighted((2, 3, 4, 5), (45, 28, 19, 8))

#: share of innocent accounts per group typology
INNOCENT_MIX = {"individual": 0.56, "family": 0.24, "coworkers": 0.12, "students": 0.08}


def individual(rng: random.Random, net: Network, size: int) -> list[Labelled]:
    """One person; 4% come back later for a second account (same face and documents, a variant email)."""
    person = make_person(rng)
    phone = net.number_for(person.locale, person.phone)
    if phone != person.phone:
        person = replace(person, phone=phone)
    if rng.random() < 0.003:  # a typo in the birth year: honest data can look like a synthetic tell
        person = replace(person, birth_date=person.birth_date + timedelta(days=3652))
    home_ip = net.home_ip(person.locale)
    device = net.kiosk_device(person.locale) if rng.random() < 0.02 else device_id(rng)
    first = day_time(rng, any_day(rng))
    ip = net.everyday_ip(person.locale, home_ip)
    out = [_innocent(first, application(rng, person, first, ip=ip, device=device), "individual")]
    if size > 1 and rng.random() < 0.04:
        later = day_time(rng, any_day(rng, first, 120))
        again = device if rng.random() < 0.6 else device_id(rng)
        ip = net.everyday_ip(person.locale, home_ip)
        record = application(rng, person, later, ip=ip, device=again, second=True)
        out.append(_innocent(later, record, "individual"))
    return out


def family(rng: random.Random, net: Network, size: int) -> list[Labelled]:
    """A household: one address, one broadband line, often one surname, sometimes a shared phone or tablet."""
    loc = pick_locale(rng)
    first = make_person(rng, loc, born=birth_date(rng, 35, 70))
    members = [first]
    for k in range(1, size):
        surname = first.surname if rng.random() < 0.72 else None
        born = birth_date(rng, 30, 70) if k == 1 else _child_birth(rng, first)
        members.append(make_person(rng, loc, surname=surname, home=first.home, born=born))
    home_ip = net.home_ip(loc)
    family_phone = first.phone if rng.random() < 0.3 else None
    family_mail = typed.email(rng, first.email_local, first.email_provider) if rng.random() < 0.1 else None
    tablet = device_id(rng) if rng.random() < 0.2 else None
    out = []
    for k, member in enumerate(members):
        when = day_time(rng, any_day(rng))
        phone = family_phone if family_phone and k > 0 and rng.random() < 0.5 else None
        mail = family_mail if family_mail and rng.random() < 0.6 else None
        device = tablet if tablet and rng.random() < 0.5 else device_id(rng)
        ip = home_ip if rng.random() < 0.65 else net.everyday_ip(loc, home_ip)
        out.append(
            _innocent(
                when, application(rng, member, when, ip=ip, device=device, phone=phone, email=mail), "family"
            )
        )
    return out


def coworkers(rng: random.Random, net: Network, size: int) -> list[Labelled]:
    """Staff of one office applying from its network during work hours; they live in its area and some
    give the office address (business accounts)."""
    loc = pick_locale(rng)
    city = pick(rng, loc.cities)
    office = Address(
        loc.alpha2,
        between(rng, 1, 60),
        pick(rng, loc.streets),
        f"{between(rng, 1, 9)}",
        city[0],
        postcode(rng, loc, city[1]),
    )
    egress = net.addresses_in(net.slash24(), between(rng, 1, 4))
    start = any_day(rng)
    out = []
    for _ in range(size):
        person = make_person(rng, loc)
        person = replace(
            person, home=replace(person.home, city=city[0], postcode=postcode(rng, loc, city[1]))
        )
        when = day_time(rng, any_day(rng, start, 150), office_hours=True)
        ip = pick(rng, egress) if rng.random() < 0.8 else net.mobile_ip(loc)
        addr = office if rng.random() < 0.15 else None
        out.append(
            _innocent(
                when, application(rng, person, when, ip=ip, device=device_id(rng), address=addr), "coworkers"
            )
        )
    return out


def students(rng: random.Random, net: Network, size: int) -> list[Labelled]:
    """A dormitory: one building with numbered rooms, a campus network, ages 18-24, and a burst of
    sign-ups at the start of term (innocent velocity)."""
    loc = pick_locale(rng)
    city = pick(rng, loc.cities)
    hall = f"{pick(rng, ('North', 'Park', 'College', 'Union', 'Riverside'))} Hall"
    building = Address(
        loc.alpha2,
        between(rng, 1, 30),
        f"{hall}, {pick(rng, loc.streets)}",
        None,
        city[0],
        postcode(rng, loc, city[1]),
    )
    campus = net.addresses_in(net.slash24(), between(rng, 2, 8))
    term = any_day(rng)
    out = []
    for _ in range(size):
        person = (
            make_person(rng, born=birth_date(rng, 18, 24))
            if rng.random() < 0.15
            else make_person(rng, loc, born=birth_date(rng, 18, 24))
        )
        room = replace(building, unit=str(between(rng, 100, 450)))
        when = day_time(rng, any_day(rng, term, 21 if rng.random() < 0.7 else 150))
        ip = pick(rng, campus) if rng.random() < 0.75 else net.mobile_ip(person.locale)
        addr = room if rng.random() < 0.85 else None
        out.append(
            _innocent(
                when, application(rng, person, when, ip=ip, device=device_id(rng), address=addr), "students"
            )
        )
    return out


def group_size(rng: random.Random, typology: str) -> int:
    """Accounts in one group: families of 2-5, offices heavy-tailed up to a few hundred, dorms 5-80."""
    if typology == "individual":
        return 2
    if typology == "family":
        return _FAMILY_SIZE(rng)
    if typology == "coworkers":
        return min(300, 4 + int(rng.paretovariate(1.2) * 3))
    return between(rng, 5, 80)


GROUPS = {"individual": individual, "family": family, "coworkers": coworkers, "students": students}


def _child_birth(rng: random.Random, parent: Person) -> date:
    """An adult child living at home (onboarding needs 18+)."""
    child = parent.birth_date + timedelta(days=365 * between(rng, 20, 38) + below(rng, 365))
    return min(child, TODAY - timedelta(days=18 * 365 + 1))


def _innocent(when: datetime, record: dict[str, str | None], typology: str) -> Labelled:
    return Labelled(when, record, "", typology)
