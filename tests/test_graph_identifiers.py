"""Identity-graph identifiers (issue 13): one key per real-world identifier, however it was typed.

Covers each normaliser on realistic variants, one-line InvalidInput on malformed input, hypothesis properties
(idempotence; nothing but InvalidInput on arbitrary text), identifiers_of on whole applicants, and the address
rule set's accuracy on the hand-made labelled pairs (the figures docs/graph.md prints).
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openidv.checks.graph.address_rules import SUFFIXES, WORDS
from openidv.checks.graph.identifiers import (
    APPLICANT_FIELDS,
    Identifier,
    canonical_address,
    canonical_email,
    canonical_phone,
    document_identifier,
    identifiers_of,
    ip_identifiers,
    national_id_identifier,
    token_identifier,
)
from openidv.errors import InvalidInput

REPO_ROOT = Path(__file__).resolve().parents[1]
PAIRS = REPO_ROOT / "tests" / "data" / "graph_address_pairs.csv"
DOC = REPO_ROOT / "docs" / "graph.md"
FAST = settings(max_examples=150, deadline=None)


def refuses(call: Callable[[], object]) -> str:
    """The InvalidInput message of ``call``, checked to be one non-empty line."""
    with pytest.raises(InvalidInput) as caught:
        call()
    message = str(caught.value)
    assert message and "\n" not in message, message
    return message


# --- Identifier ---------------------------------------------------------------------------------------------


def test_identifier_key_is_kind_and_value() -> None:
    ident = Identifier("email", "a@example.com")
    assert ident.key == "email:a@example.com"
    assert (
        ident == Identifier("email", "a@example.com")
        and len({ident, Identifier("email", "a@example.com")}) == 1
    )
    with pytest.raises(AttributeError):
        ident.value = "b@example.com"  # type: ignore[misc]
    refuses(lambda: Identifier("shoe_size", "42"))  # type: ignore[arg-type]
    refuses(lambda: Identifier("email", ""))


# --- email --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variants", "canonical"),
    [
        (
            [
                "john.doe@gmail.com",
                "JohnDoe@Gmail.com",
                "j.o.h.n.d.o.e+shop@gmail.com",
                "johndoe@googlemail.com",
            ],
            "johndoe@gmail.com",
        ),
        (
            ["jane.roe@outlook.com", "Jane.Roe+bank@Outlook.COM", " jane.roe+x+y@outlook.com "],
            "jane.roe@outlook.com",
        ),
        (["a.b@hotmail.co.uk", "a.b+1@hotmail.co.uk"], "a.b@hotmail.co.uk"),
        (["sam@fastmail.com", "sam+news@fastmail.com"], "sam@fastmail.com"),
        (["kim@icloud.com", "KIM+x@iCloud.com"], "kim@icloud.com"),
        (["lee@proton.me", "lee+a@proton.me"], "lee@proton.me"),
        (["pat_r@yahoo.com", "pat_r-shopping@yahoo.com"], "pat_r@yahoo.com"),
        (["Info@Example.COM", "info@example.com.", "info@EXAMPLE.com"], "info@example.com"),
        (["müller@bücher.de", "MÜLLER@BÜCHER.DE"], "müller@xn--bcher-kva.de"),
        (["x@xn--bcher-kva.de", "x@bücher.de"], "x@xn--bcher-kva.de"),
    ],
)
def test_email_variants_share_one_key(variants: list[str], canonical: str) -> None:
    assert {canonical_email(variant) for variant in variants} == {canonical}


def test_email_rules_apply_only_to_providers_known_for_them() -> None:
    # dots and plus-tags are part of the mailbox elsewhere: stripping them would merge strangers
    assert canonical_email("john.doe+x@example.com") == "john.doe+x@example.com"
    assert canonical_email("j.doe@outlook.com") != canonical_email("jdoe@outlook.com")
    assert canonical_email("first-last@gmail.com") == "first-last@gmail.com"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "user@",
        "a@b@c.com",
        "user@localhost",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "user@exa mple.com",
        "user@-example.com",
        "user@example.123",
        "us er@example.com",
        '"quoted"@example.com',
        "+tag@gmail.com",
        "...@gmail.com",
        "-x@yahoo.com",
        "user@[192.0.2.1]",
        "x" * 65 + "@example.com",
        "user@" + "a" * 64 + ".com",
        "a\x00b@example.com",
    ],
)
def test_malformed_emails_are_refused_in_one_line(bad: str) -> None:
    assert refuses(lambda: canonical_email(bad)).startswith("email:")


def test_email_refuses_non_text() -> None:
    assert "expected a string" in refuses(lambda: canonical_email(42))


_LOCAL = st.text(alphabet="abcXYZ019._+-'", min_size=1, max_size=20)
_DOMAIN = st.sampled_from(
    ["gmail.com", "GoogleMail.com", "outlook.com", "yahoo.com", "example.org", "bücher.de", "icloud.com"]
)


@FAST
@given(_LOCAL, _DOMAIN)
def test_email_canonicalisation_is_idempotent(local: str, domain: str) -> None:
    try:
        once = canonical_email(f"{local}@{domain}")
    except InvalidInput:
        return
    assert canonical_email(once) == once


@FAST
@given(st.text(max_size=80))
def test_email_never_raises_anything_but_invalid_input(text: str) -> None:
    try:
        once = canonical_email(text)
    except InvalidInput:
        return
    assert canonical_email(once) == once


# --- phone --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "variants", "e164"),
    [
        (
            "US",
            [
                "(650) 253-0000",
                "650-253-0000",
                "650.253.0000",
                "+1 650 253 0000",
                "1 (650) 253 0000",
                "+1-650-253-0000 ext. 12",
            ],
            "+16502530000",
        ),
        (
            "GB",
            [
                "020 7946 0958",
                "(020) 7946-0958",
                "+44 20 7946 0958",
                "+44 (0)20 7946 0958",
                "0044 20 7946 0958",
            ],
            "+442079460958",
        ),
        ("DE", ["030 901820", "(030) 90 18 20", "+49 30 901820", "0049-30-901820"], "+4930901820"),
        (
            "FR",
            ["01 42 68 53 00", "01-42-68-53-00", "+33 1 42 68 53 00", "+33 (0)1 42 68 53 00"],
            "+33142685300",
        ),
        ("IN", ["098765 43210", "98765-43210", "+91 98765 43210", "+91-9876543210"], "+919876543210"),
        (
            "BR",
            ["(11) 91234-5678", "11 91234 5678", "+55 11 91234-5678", "+55 (11) 91234 5678"],
            "+5511912345678",
        ),
    ],
)
def test_phone_national_and_international_forms_give_one_e164(
    region: str, variants: list[str], e164: str
) -> None:
    assert {canonical_phone(variant, region) for variant in variants} == {e164}


def test_international_numbers_need_no_region_and_ignore_the_default() -> None:
    assert canonical_phone("+44 20 7946 0958") == "+442079460958"
    assert canonical_phone("+44 20 7946 0958", "us") == "+442079460958"


@pytest.mark.parametrize(
    ("bad", "region"),
    [
        ("", "US"),
        ("12", "US"),
        ("abc", "US"),
        ("650 253 0000", None),
        ("+1 123 456 7890", None),
        ("+44 20 7946", None),
        ("+44 20 7946 0958 1234 5678", None),
        ("+999 1234 5678", None),
        ("1" * 70, "US"),
        ("650 253 0000", "XX"),
        ("650 253 0000", "USA"),
    ],
)
def test_invalid_phones_are_refused_in_one_line(bad: str, region: str | None) -> None:
    assert refuses(lambda: canonical_phone(bad, region)).startswith("phone:")


@FAST
@given(st.text(max_size=40), st.sampled_from([None, "US", "GB", "DE", "FR", "IN", "BR"]))
def test_phone_never_raises_anything_but_invalid_input(text: str, region: str | None) -> None:
    try:
        once = canonical_phone(text, region)
    except InvalidInput:
        return
    assert canonical_phone(once) == once


# --- address ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "variants"),
    [
        (
            "US",
            ["12 Main St. Apt 4", "12 main street, apartment 4", "12 MAIN ST #4", "Apt. #4, 12 Main Street"],
        ),
        ("US", ["42 Elm Dr, Springfield, IL 62704", "42 Elm Drive Springfield Illinois 62704-1234"]),
        ("GB", ["Flat 2, 14 Victoria Road, Leeds LS6 1AA", "14 Victoria Rd, Flat 2, Leeds, LS61AA, UK"]),
        ("DE", ["Hauptstraße 5, 10115 Berlin", "Hauptstr. 5, 10115 Berlin", "HAUPTSTRASSE 5 10115 BERLIN"]),
        ("FR", ["5 avenue des Champs-Élysées, 75008 Paris", "5 av. des Champs Elysees 75008 PARIS"]),
        ("ES", ["Calle Mayor, nº 5, 28013 Madrid", "C/ Mayor 5, 28013 Madrid"]),
    ],
)
def test_address_variants_share_one_key(country: str, variants: list[str]) -> None:
    assert len({canonical_address(variant, country) for variant in variants}) == 1


def test_address_keeps_what_tells_neighbours_apart() -> None:
    assert canonical_address("12 Main St Apt 4") != canonical_address("12 Main St Apt 5")
    assert canonical_address("12 Main St") != canonical_address("12 Main Ave")
    assert canonical_address("12 N Main St") != canonical_address("12 S Main St")
    assert canonical_address("1 High St, Leeds LS6 1AA") != canonical_address("1 High St, Leeds LS6 1AB")
    assert canonical_address("Flat Rock Rd 5") == "flat rock rd 5"  # no number: "flat" is a word, not a unit
    assert canonical_address("1600 Pennsylvania Ave, Washington, DC", "US").startswith(
        "1600 pennsylvania ave"
    )


@pytest.mark.parametrize("bad", ["", "   ", ",,, ...", "#", "x" * 501])
def test_unusable_addresses_are_refused_in_one_line(bad: str) -> None:
    assert refuses(lambda: canonical_address(bad)).startswith("address:")


def test_address_refuses_a_malformed_country() -> None:
    assert "alpha-2" in refuses(lambda: canonical_address("12 Main St", "USA"))
    assert "must be text" in refuses(lambda: canonical_address("12 Main St", 1))  # type: ignore[arg-type]
    assert "must be text" in refuses(lambda: canonical_phone("+1 650 253 0000", 1))  # type: ignore[arg-type]


def test_address_word_tables_are_fixed_points() -> None:
    """Every short form maps to itself, so a canonical address normalises to itself."""
    for short in WORDS.values():
        assert WORDS.get(short, short) == short, short
        assert not any(short.endswith(suffix) for suffix in SUFFIXES), short


_ADDRESS_WORDS = st.sampled_from(
    [
        "12",
        "4",
        "3b",
        "no",
        "apt",
        "#",
        "unit",
        "flat",
        "ste",
        "suite",
        "street",
        "st.",
        "Main",
        "North",
        "n",
        "Straße",
        "hauptstr.",
        "C/",
        "c/o",
        "avenida",
        "New",
        "York",
        "10118",
        "62704-1234",
        "LS6",
        "1AA",
        "USA",
        "United",
        "Kingdom",
        "p.o.",
        "box",
        "first",
        "Illinois",
        "Köln",
        "São",
        ",",
        "-",
        "'s",
        "nº5",
    ]
)


@FAST
@given(
    st.lists(_ADDRESS_WORDS, min_size=1, max_size=10), st.sampled_from([None, "US", "GB", "DE", "ES", "IN"])
)
def test_address_canonicalisation_is_idempotent(words: list[str], country: str | None) -> None:
    try:
        once = canonical_address(" ".join(words), country)
    except InvalidInput:
        return
    assert canonical_address(once, country) == once


@FAST
@given(st.text(max_size=120), st.sampled_from([None, "US", "DE", "NL"]))
def test_address_never_raises_anything_but_invalid_input(text: str, country: str | None) -> None:
    try:
        once = canonical_address(text, country)
    except InvalidInput:
        return
    assert canonical_address(once, country) == once


def _pair_accuracy() -> dict[str, tuple[int, int]]:
    """Correct / total per split of the hand-made labelled pairs."""
    with PAIRS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    scores: dict[str, tuple[int, int]] = {}
    for row in rows:
        same = canonical_address(row["a"], row["country"]) == canonical_address(row["b"], row["country"])
        right, total = scores.get(row["split"], (0, 0))
        scores[row["split"]] = (right + (same == (row["label"] == "same")), total + 1)
    return scores


def test_address_pair_accuracy_is_the_figure_the_docs_print() -> None:
    scores = _pair_accuracy()
    print("address pairs correct:", scores)
    assert scores["dev"] == (40, 40) and scores["holdout"][1] == 40 and scores["limits"][1] == 13
    assert scores["holdout"][0] >= 38  # the measured 40/40, with room for a reviewed trade-off
    doc = DOC.read_text(encoding="utf-8")
    for split, (right, total) in scores.items():
        assert re.search(rf"\|\s*{split}\s*\|\s*{right}\s*/\s*{total}\s*\|", doc), f"docs must print {split}"


# --- IP -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ip", "network"),
    [
        ("203.0.113.7", "203.0.113.7", "203.0.113.0/24"),
        (" 198.51.100.255 ", "198.51.100.255", "198.51.100.0/24"),
        ("2001:DB8:1:2::5", "2001:db8:1:2::5", "2001:db8:1::/48"),
        ("2001:0db8:0001:0000:0000:0000:0000:0005", "2001:db8:1::5", "2001:db8:1::/48"),
        ("[2001:db8::1]", "2001:db8::1", "2001:db8::/48"),
        ("::ffff:203.0.113.7", "203.0.113.7", "203.0.113.0/24"),
        ("fe80::1%eth0", "fe80::1", "fe80::/48"),
    ],
)
def test_ip_and_its_network(text: str, ip: str, network: str) -> None:
    assert [ident.key for ident in ip_identifiers(text)] == [f"ip:{ip}", f"ip24:{network}"]


@pytest.mark.parametrize(
    "bad", ["", "300.1.1.1", "1.2.3", "010.1.1.1", "1.2.3.4/24", "example.com", "::g", "1.2.3.4 x"]
)
def test_malformed_ips_are_refused_in_one_line(bad: str) -> None:
    assert refuses(lambda: ip_identifiers(bad)).startswith("ip:")


@FAST
@given(st.text(max_size=50))
def test_ip_never_raises_anything_but_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        ip_identifiers(text)


# --- documents, national ids, devices, faces ----------------------------------------------------------------


def test_document_number_fillers_and_issuer() -> None:
    keys = {
        document_identifier("C01X00T47", "DEU").key,
        document_identifier("c01x-00t47<<", "D<<").key,
        document_identifier(" C01X 00T47 ", "deu").key,
    }
    assert keys == {"document:DEU:C01X00T47"}
    assert document_identifier("123456789", "GBR") != document_identifier("123456789", "IRL")


@pytest.mark.parametrize(
    ("number", "issuer"),
    [
        ("", "GBR"),
        ("12#45", "GBR"),
        ("A" * 41, "GBR"),
        ("123", "GB"),
        ("123", "G1R"),
        ("123", ""),
        ("123", "UK<"),
    ],
)
def test_bad_documents_are_refused_in_one_line(number: str, issuer: str) -> None:
    assert refuses(lambda: document_identifier(number, issuer)).startswith("document_")


def test_national_id_separators_removed() -> None:
    assert national_id_identifier("123-45-6789") == national_id_identifier(" 123 45 6789 ")
    assert national_id_identifier("123.456.789-09").value == "12345678909"
    for bad in ("", "12\x0045", "🙂123", "9" * 41):
        assert refuses(partial(national_id_identifier, bad)).startswith("national_id:")


def test_device_and_face_ids_kept_exactly() -> None:
    assert token_identifier("device", " dev-AbC_123 ").key == "device:dev-AbC_123"
    assert token_identifier("device", "AbC") != token_identifier("device", "abc")
    assert token_identifier("face", "cluster:42").key == "face:cluster:42"
    for bad in ("", "two words", "tab\there", "x" * 129, "naïve", "\x1b[31m"):
        assert refuses(partial(token_identifier, "device", bad)).startswith("device:")


@FAST
@given(st.text(max_size=60), st.text(max_size=8))
def test_tokens_never_raise_anything_but_invalid_input(text: str, issuer: str) -> None:
    makers: list[Callable[[], Identifier]] = [
        partial(document_identifier, text, issuer),
        partial(national_id_identifier, text),
        partial(token_identifier, "device", text),
        partial(token_identifier, "face", text),
    ]
    for make in makers:
        with contextlib.suppress(InvalidInput):
            make()


# --- identifiers_of -----------------------------------------------------------------------------------------

APPLICANT: dict[str, Any] = {
    "email": "J.Doe+onboarding@gmail.com",
    "phone": "(020) 7946 0958",
    "country": "gb",
    "address": "Flat 2, 14 Victoria Road, Leeds LS6 1AA",
    "ip": "203.0.113.9",
    "device_id": "dev-1",
    "national_id": "QQ 12 34 56 C",
    "document_number": "123456789<",
    "document_issuer": "GBR",
    "face_id": "face-7",
}


def test_identifiers_of_a_whole_applicant() -> None:
    assert set(APPLICANT) == set(APPLICANT_FIELDS)
    identifiers, problems = identifiers_of(APPLICANT)
    assert problems == []
    assert [ident.key for ident in identifiers] == [
        "email:jdoe@gmail.com",
        "phone:+442079460958",
        "address:14 victoria rd leeds ls61aa unit 2",
        "ip:203.0.113.9",
        "ip24:203.0.113.0/24",
        "device:dev-1",
        "national_id:QQ123456C",
        "document:GBR:123456789",
        "face:face-7",
    ]


def test_missing_and_null_fields_are_fine() -> None:
    assert identifiers_of({}) == ([], [])
    assert identifiers_of(dict.fromkeys(APPLICANT_FIELDS)) == ([], [])
    identifiers, problems = identifiers_of({"phone": "+1 650 253 0000", "email": "  ", "country": None})
    assert [ident.key for ident in identifiers] == ["phone:+16502530000"] and problems == []


def test_one_bad_field_never_drops_the_others() -> None:
    applicant = dict(APPLICANT, email="not-an-email", ip="300.1.1.1", document_issuer=None, device_id=7)
    identifiers, problems = identifiers_of(applicant)
    kinds = [ident.kind for ident in identifiers]
    assert kinds == ["phone", "address", "national_id", "face"]
    assert [problem.split(":")[0] for problem in problems] == ["email", "ip", "device", "document_number"]
    assert all("\n" not in problem for problem in problems)


def test_a_bad_country_is_a_problem_and_phones_then_need_a_country_code() -> None:
    identifiers, problems = identifiers_of(
        {"country": "Britain", "phone": "+44 20 7946 0958", "address": "1 A St"}
    )
    assert [ident.kind for ident in identifiers] == ["phone", "address"]
    assert problems == ["country: 'Britain' is not an ISO 3166 alpha-2 code"]
    _, problems = identifiers_of({"country": "Britain", "phone": "020 7946 0958"})
    assert [problem.split(":")[0] for problem in problems] == ["country", "phone"]


def test_shared_identifiers_dedupe_within_one_applicant() -> None:
    identifiers, _ = identifiers_of({"email": "a.b@gmail.com", "device_id": "d", "face_id": "d"})
    assert len(identifiers) == len({ident.key for ident in identifiers}) == 3


@FAST
@given(
    st.dictionaries(
        st.sampled_from(APPLICANT_FIELDS), st.one_of(st.none(), st.text(max_size=40), st.integers())
    )
)
def test_identifiers_of_never_raises(applicant: dict[str, Any]) -> None:
    identifiers, problems = identifiers_of(applicant)
    assert all(isinstance(ident, Identifier) for ident in identifiers)
    assert all(isinstance(problem, str) and "\n" not in problem for problem in problems)
