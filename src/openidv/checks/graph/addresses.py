"""Postal addresses to a canonical string, with a small measured rule set (libpostal does not install here).

Two accounts at one address are a family, a shared flat, or a ring's mail drop; the key must survive the usual
ways one address is typed ("12 Main St. Apt 4" and "12 main street, apartment 4") without merging neighbours
("Apt 4" and "Apt 5", "Main St" and "Main Ave"). Typos and transpositions are left to the fuzzy matcher.
The rules run in an order that keeps the result idempotent (normalising twice changes nothing).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from openidv.checks.graph.address_rules import (
    COUNTRY_NAMES,
    LETTERS,
    NUMBER_MARKERS,
    SUFFIXES,
    UMLAUT_COUNTRIES,
    UMLAUTS,
    UNIT_DESIGNATORS,
    US_STATES,
    WORDS,
)
from openidv.checks.graph.identifier import require_text
from openidv.errors import InvalidInput

MAX_ADDRESS_CHARS = 500
#: rounds of the rules at most; real addresses reach the fixed point in one or two
MAX_ROUNDS = 4
#: designators that are also ordinary words when no unit number follows ("Ste Catherine" is Sainte Catherine)
_AMBIGUOUS_DESIGNATORS = {"ste": "st"}
#: phrases that become one token, in any country
_PHRASES: dict[tuple[str, ...], str] = {
    ("p", "o", "box"): "pobox",
    ("po", "box"): "pobox",
    ("post", "office", "box"): "pobox",
}
_APOSTROPHES = re.compile("['’‘ʼ`´]")
_SPANISH_CALLE = re.compile(r"(?<![^\W_])c\s*/(?!\s*o\b)")  # "C/ Mayor"; not "c/o" (care of)
_GLUED_NUMBER_MARKER = re.compile(r"\b(?:n[o°º]|nr|num|numero)\.?\s*(?=\d)")
_DIGIT_HYPHEN = re.compile(r"(?<=\d)[-‐‑‒–](?=\d)")
_US_ZIP4 = re.compile(r"\b(\d{5})-\d{4}\b")
_UK_POSTCODE = re.compile(r"\b([a-z]{1,2}\d[a-z\d]?)\s+(\d[a-z]{2})\b")
_CA_POSTCODE = re.compile(r"\b([a-z]\d[a-z])\s+(\d[a-z]\d)\b")
_IN_PINCODE = re.compile(r"\b(\d{3})\s+(\d{3})\b")
_NL_POSTCODE = re.compile(r"\b(\d{4})\s+([a-z]{2})\b")
_ZIP = re.compile(r"\d{5}")
_NON_WORD = re.compile(r"[^\w#]|_")


def canonical_address(text: object, country: str | None = None) -> str:
    """The address as lower-case ASCII-folded words with abbreviations, units last; or InvalidInput.

    ``country`` (ISO 3166 alpha-2, optional) turns on that country's rules: US state names, postcode spacing
    (GB, CA, IN, NL), German umlauts as ae/oe/ue. Only the argument chooses rules, not a country named in the
    text: the canonical form drops that name, and normalising it again must give the same answer.
    """
    raw = require_text(text, "address", max_chars=MAX_ADDRESS_CHARS)
    code = _country_code(country)
    canonical = _normalise(raw, code)
    # one rule can expose work for another (a dropped "No." joins a postcode); repeat to the fixed point so
    # that normalising a canonical address never changes it
    for _ in range(MAX_ROUNDS):
        again = _normalise(canonical, code)
        if again == canonical:
            break
        canonical = again
    return canonical


def _normalise(text: str, code: str | None) -> str:
    """One round of the rules, in order: characters, postcodes, tokens, words, units."""
    tokens = _tokens(_postcodes(_fold(text, code), code))
    tokens = _strip_countries(_drop_number_markers(tokens))
    tokens = _replace_phrases(tokens, _PHRASES)
    if code == "us":
        tokens = _state_codes(tokens)
    rest, units = _extract_units([_word(token) for token in tokens])
    canonical = rest + [part for unit in units for part in ("unit", unit)]
    if not any(any(char.isalnum() for char in token) for token in canonical):
        raise InvalidInput("address: no street, number or place left after normalisation")
    return " ".join(canonical)


def _country_code(country: str | None) -> str | None:
    """The alpha-2 code in lower case, or InvalidInput."""
    if country is None:
        return None
    if not isinstance(country, str):
        raise InvalidInput(f"address: country must be text, got {type(country).__name__}")
    code = country.strip().lower()
    if not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise InvalidInput(f"address: country {country!r} is not an ISO 3166 alpha-2 code")
    return code


def _fold(raw: str, country: str | None) -> str:
    """NFKC, case folding and accent folding (German umlauts written out in German-speaking countries)."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    if country in UMLAUT_COUNTRIES:
        text = "".join(UMLAUTS.get(char, char) for char in text)
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(char for char in decomposed if not unicodedata.combining(char))
    text = "".join(LETTERS.get(char, char) for char in text)
    return unicodedata.normalize("NFKC", text)


def _postcodes(text: str, country: str | None) -> str:
    """Postcode spacing made uniform per country; separators dropped between digits (CEP, house ranges)."""
    if country == "us":
        text = _US_ZIP4.sub(r"\1", text)  # ZIP+4 names a block face inside the same ZIP
    text = _DIGIT_HYPHEN.sub("", text)
    if country in (None, "gb", "im", "je", "gg"):
        text = _UK_POSTCODE.sub(r"\1\2", text)
    if country in (None, "ca"):
        text = _CA_POSTCODE.sub(r"\1\2", text)
    if country == "in":
        text = _IN_PINCODE.sub(r"\1\2", text)
    if country == "nl":
        text = _NL_POSTCODE.sub(r"\1\2", text)
    return text


def _tokens(text: str) -> list[str]:
    """Words and numbers: apostrophes vanish ("John's"), other punctuation separates, "#" stands alone."""
    text = _APOSTROPHES.sub("", text)
    text = _SPANISH_CALLE.sub(" calle ", text)
    text = _GLUED_NUMBER_MARKER.sub(" ", text)
    text = text.replace("#", " # ")
    return _NON_WORD.sub(" ", text).split()


def _is_unit_value(token: str) -> bool:
    """A unit number: has a digit ("4", "3b", "12a") or is one letter ("Suite A")."""
    return any(char.isdigit() for char in token) or (len(token) == 1 and token.isalpha())


def _extract_units(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """Tokens without unit clauses, and the unit values in order ("Apt #4" and "unit 4" give "4")."""
    rest: list[str] = []
    units: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token not in UNIT_DESIGNATORS:
            rest.append(token)
            index += 1
            continue
        end = index
        while end < len(tokens) and tokens[end] in UNIT_DESIGNATORS:
            end += 1
        if end < len(tokens) and _is_unit_value(tokens[end]):
            units.append(tokens[end])
            index = end + 1
        else:  # no unit number follows: the designators are ordinary words ("Flat Rock Rd", "Ste Catherine")
            rest.extend(_AMBIGUOUS_DESIGNATORS.get(t, t) for t in tokens[index:end])
            index = end
    return rest, units


def _drop_number_markers(tokens: Sequence[str]) -> list[str]:
    """Without "No."/"Nr."/"nº" before a number: "No. 10" and "10" are one house number."""
    kept: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in NUMBER_MARKERS and following[:1].isdigit():
            continue
        kept.append(token)
    return kept


def _strip_countries(tokens: list[str]) -> list[str]:
    """Without country names at the end: "..., USA" and "..." are one address."""
    stripped = True
    while stripped:
        stripped = False
        for name in COUNTRY_NAMES:
            if len(tokens) >= len(name) and tuple(tokens[-len(name) :]) == name:
                tokens = tokens[: -len(name)]
                stripped = True
                break
    return tokens


def _replace_phrases(
    tokens: Sequence[str],
    phrases: dict[tuple[str, ...], str],
    fits: Callable[[str | None], bool] = lambda after: True,
) -> list[str]:
    """Multi-word names to one token, longest first ("new york" to "ny", "p o box" to "pobox"), where
    ``fits`` accepts the token that follows the phrase (None at the end)."""
    longest = max(len(phrase) for phrase in phrases)
    out: list[str] = []
    index = 0
    while index < len(tokens):
        for size in range(min(longest, len(tokens) - index), 0, -1):
            replacement = phrases.get(tuple(tokens[index : index + size]))
            after = tokens[index + size] if index + size < len(tokens) else None
            if replacement is not None and fits(after):
                out.append(replacement)
                index += size
                break
        else:
            out.append(tokens[index])
            index += 1
    return out


def _state_codes(tokens: Sequence[str]) -> list[str]:
    """US state names in the state position (before a ZIP code or last) to their USPS codes.

    Only there: "Pennsylvania Ave" stays a street, while "Springfield, Illinois 62704" and "Springfield IL
    62704" become one address.
    """
    return _replace_phrases(tokens, US_STATES, lambda after: after is None or bool(_ZIP.fullmatch(after)))


def _word(token: str) -> str:
    """One word in its short form ("street" to "st", "hauptstrasse" to "hauptstr")."""
    if token in WORDS:
        return WORDS[token]
    for suffix, short in SUFFIXES.items():
        if token.endswith(suffix) and len(token) > len(suffix):
            return token[: -len(suffix)] + short
    return token
