"""Fictional document holders and the data printed on their documents, drawn from a seeded generator.

Product code because the reader renders each template with a few of them for its reference thumbnails
(``templates.references``); the synthetic data generator (``openidv.synth``) draws its holders here too.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from openidv.checks.document.mrz import compose_mrz
from openidv.checks.document.template_spec import MONTHS, TemplateSpec

SURNAMES = (
    "ERIKSSON",
    "MARTIN",
    "NOVAK",
    "OKAFOR",
    "TANAKA",
    "SILVA",
    "KOWALSKI",
    "HANSEN",
    "ROSSI",
    "DUBOIS",
    "MUELLER",
    "GARCIA",
    "NGUYEN",
    "OBRIEN",
    "PETROV",
    "LINDQVIST",
    "MORENO",
    "SCHMIDT",
    "BAKER",
    "HOLM",
    "JOHANSSON",
    "KAPOOR",
    "LEBLANC",
    "MENSAH",
    "RIVERA",
    "SATO",
    "VARGA",
    "WEBER",
    "YILMAZ",
    "ZIELINSKI",
)
GIVEN_F = ("ANNA", "MARIA", "SOFIA", "LENA", "AMARA", "YUKI", "ELENA", "NORA", "IRIS", "CLARA", "EVA", "ROSE")
GIVEN_M = ("JOHN", "PETER", "KOFI", "HIRO", "LUCAS", "MARCO", "OMAR", "IVAN", "NOAH", "ADAM", "LEO", "PAUL")
PLACES = ("UTOPIA CITY", "NORTH HAVEN", "PORT LUMEN", "EASTWOOD", "CLEARWATER", "SILVERTON", "BAYSIDE")
STREETS = ("MAIN ST", "OAK AVE", "ELM ST", "RIVER RD", "HILL ST", "PARK AVE", "LAKE DR", "MILL LN")
AUTHORITIES = ("MINISTRY OF INTERIOR", "PASSPORT OFFICE", "CITY HALL", "CONSULATE")
EYES = ("BLU", "BRO", "GRN", "HAZ", "GRY")


@dataclass(frozen=True)
class DocumentData:
    """Everything a document says about its holder, as the issuer recorded it (the ground truth)."""

    template_id: str
    surname: str
    given_names: str
    sex: str  # M | F | X
    birth_date: date
    place_of_birth: str
    nationality: str
    document_number: str
    issue_date: date
    expiry_date: date
    authority: str
    address: str = ""
    city: str = ""
    postal_code: str = ""
    height_cm: int = 170
    eye_color: str = "BRO"
    dl_class: str = "C"

    def replace(self, **changes: Any) -> DocumentData:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, str]:
        return {
            k: v.isoformat() if isinstance(v, date) else str(v) for k, v in dataclasses.asdict(self).items()
        }


def viz_date(value: date, fmt: str) -> str:
    """A date as the template prints it; ``%b`` is always the English upper-case month (locale-free)."""
    return value.strftime(fmt.replace("%b", MONTHS[value.month - 1]))


def printed_values(data: DocumentData, spec: TemplateSpec) -> dict[str, str]:
    """The text printed in each field of the visual inspection zone."""
    fmt = spec.viz_date_format
    feet, inches = divmod(round(data.height_cm / 2.54), 12)
    height = f"{feet}'-{inches:02d}\""
    return {
        "document_code": spec.document_code or "",
        "issuer": spec.issuer,
        "document_number": data.document_number,
        "surname": data.surname,
        "given_names": data.given_names,
        "nationality": data.nationality,
        "birth_date": viz_date(data.birth_date, fmt),
        "sex": data.sex,
        "place_of_birth": data.place_of_birth,
        "issue_date": viz_date(data.issue_date, fmt),
        "expiry_date": viz_date(data.expiry_date, fmt),
        "authority": data.authority,
        "address": data.address,
        "dl_class": data.dl_class,
        "height": height if spec.country == "USA" else f"{data.height_cm} cm",
        "eye_color": data.eye_color,
    }


def mrz_fields(data: DocumentData, spec: TemplateSpec) -> dict[str, str]:
    number = data.document_number.replace("-", "")
    return {
        "document_code": spec.document_code or "P",
        "issuer": spec.issuer,
        "surname": data.surname,
        "given_names": data.given_names,
        "document_number": number,
        "nationality": data.nationality,
        "birth_date": data.birth_date.strftime("%y%m%d"),
        "sex": data.sex,
        "expiry_date": data.expiry_date.strftime("%y%m%d"),
    }


def mrz_text(data: DocumentData, spec: TemplateSpec) -> str | None:
    if spec.mrz_format is None:
        return None
    return compose_mrz(spec.mrz_format, mrz_fields(data, spec))


def document_number(pattern: str, rng: random.Random) -> str:
    """``L`` a letter, ``#`` a digit, anything else copied."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q: issuers avoid them because they read as digits
    return "".join(
        rng.choice(letters) if ch == "L" else str(rng.randrange(10)) if ch == "#" else ch for ch in pattern
    )


def random_document(
    spec: TemplateSpec, rng: random.Random, as_of: date, sex: str | None = None
) -> DocumentData:
    """A plausible, valid, unexpired document of ``spec`` for a fictional adult."""
    sex = sex or rng.choice("MF")
    given_pool = GIVEN_F if sex == "F" else GIVEN_M
    given = rng.choice(given_pool) + ("" if rng.random() < 0.5 else " " + rng.choice(given_pool))
    birth = as_of - timedelta(days=rng.randrange(19 * 365, 75 * 365))
    issue = as_of - timedelta(days=rng.randrange(30, max(31, (spec.validity_years - 1) * 365)))
    expiry = _add_years(issue, spec.validity_years) - timedelta(days=1)
    nationality = spec.issuer if spec.mrz_format else (spec.country or "USA")
    return DocumentData(
        template_id=spec.id,
        surname=rng.choice(SURNAMES),
        given_names=" ".join(dict.fromkeys(given.split())),
        sex=sex,
        birth_date=birth,
        place_of_birth=rng.choice(PLACES),
        nationality=nationality,
        document_number=document_number(spec.number_pattern, rng),
        issue_date=issue,
        expiry_date=expiry,
        authority=rng.choice(AUTHORITIES),
        address=f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}",
        city=rng.choice(PLACES),
        postal_code=f"{rng.randrange(10000, 99999)}",
        height_cm=rng.randrange(150, 200),
        eye_color=rng.choice(EYES),
        dl_class=rng.choice(("C", "D", "CM")),
    )


def _add_years(value: date, years: int) -> date:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


def aamva_elements(data: DocumentData, spec: TemplateSpec, order: str) -> dict[str, str]:
    """The DL subfile elements for a licence, dates in the issuer's order."""
    from openidv.checks.document.aamva import format_date

    first, _, middle = data.given_names.partition(" ")
    inches = round(data.height_cm / 2.54)
    return {
        "DCA": data.dl_class,
        "DCB": "NONE",
        "DCD": "NONE",
        "DBA": format_date(data.expiry_date, order),
        "DCS": data.surname,
        "DAC": first,
        "DAD": middle or "NONE",
        "DBD": format_date(data.issue_date, order),
        "DBB": format_date(data.birth_date, order),
        "DBC": {"M": "1", "F": "2"}.get(data.sex, "9"),
        "DAY": data.eye_color,
        "DAU": f"{inches:03d} IN" if spec.country == "USA" else f"{data.height_cm:03d} CM",
        "DAG": data.address,
        "DAI": data.city,
        "DAJ": spec.issuer,
        "DAK": data.postal_code,
        "DAQ": data.document_number,
        "DCF": f"{spec.issuer}{data.issue_date:%Y%m%d}{data.document_number[-4:]}",
        "DCG": spec.country or "USA",
        "DDE": "N",
        "DDF": "N",
        "DDG": "N",
    }
