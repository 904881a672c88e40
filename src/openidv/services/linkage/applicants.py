"""Onboarding applicants as Splink records, and the model that finds one person's accounts among them.

Typed fields go through the graph's own normalisers (``openidv.checks.graph.identifiers``) first, so
Splink compares canonical emails, E.164 phones and canonical addresses; names are case- and accent-folded.
Never compared: face, device and IP (the exact-key graph links those online, and the synthetic evaluation
uses the face as the truth of who is who).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openidv.checks.graph.identifiers import identifiers_of
from openidv.errors import InvalidInput
from openidv.services.linkage.model import LinkageModel

#: the columns of an applicant record as Splink sees it (besides ``unique_id``)
COLUMNS = (
    "given_name",
    "surname",
    "birth_date",
    "email",
    "phone",
    "address",
    "national_id",
    "document",
    "country",
)
_NOT_LETTER = re.compile(r"[^a-z\s'-]+")
_SPACES = re.compile(r"[\s'-]+")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ID_CHARS = 128


def fold_name(text: object) -> str | None:
    """Lower case, accents off (``ß`` to ``ss``), letters only, one space between parts; None if empty."""
    if not isinstance(text, str):
        return None
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = _SPACES.sub(" ", _NOT_LETTER.sub(" ", plain)).split()
    return " ".join(words) or None


def record_of(applicant: Mapping[str, Any]) -> dict[str, str | None]:
    """One applicant (the fields of ``applicants.jsonl``) as a Splink record; unusable fields are null."""
    found, _problems = identifiers_of(applicant)
    by_kind = {identifier.kind: identifier.value for identifier in found}
    given = fold_name(applicant.get("given_names"))
    birth = applicant.get("birth_date")
    country = applicant.get("country")
    return {
        "unique_id": str(applicant["account_id"]),
        "given_name": given.split()[0] if given else None,
        "surname": fold_name(applicant.get("surname")),
        "birth_date": birth if isinstance(birth, str) and _DATE.match(birth) else None,
        "email": by_kind.get("email"),
        "phone": by_kind.get("phone"),
        "address": by_kind.get("address"),
        "national_id": by_kind.get("national_id"),
        "document": by_kind.get("document"),
        "country": country.strip().upper()[:2] if isinstance(country, str) and country.strip() else None,
    }


def read_applicants(path: Path) -> list[dict[str, str | None]]:
    """Every applicant of a JSON-lines file as a record; InvalidInput names the first bad line (not JSON,
    not an object, no string ``account_id``, an ``account_id`` seen before)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    records: list[dict[str, str | None]] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                records.append(_parse(line, seen, f"{path.name} line {number}"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    if not records:
        raise InvalidInput(f"{path}: no applicants")
    return records


def _parse(line: str, seen: set[str], where: str) -> dict[str, str | None]:
    try:
        item: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: expected a JSON object")
    account = item.get("account_id")
    if not isinstance(account, str) or not account.strip() or len(account) > MAX_ID_CHARS:
        raise InvalidInput(f"{where}: account_id: a non-empty string of at most {MAX_ID_CHARS} characters")
    if account in seen:
        raise InvalidInput(f"{where}: account_id {account[:40]!r} appears twice")
    seen.add(account)
    record = record_of(item)
    created = item.get("created_at")
    record["created_at"] = created if isinstance(created, str) else None  # carried, never compared
    return record


def frame_of(records: Iterable[Mapping[str, str | None]]) -> Any:
    """Records as the pandas frame Splink registers (every column a string or null)."""
    import pandas as pd

    return pd.DataFrame.from_records(list(records), columns=["unique_id", *COLUMNS]).astype(object)


#: how many of email, phone and address two records share (a null never agrees)
_SHARED_CONTACTS = " + ".join(
    f"(case when {c}_l = {c}_r then 1 else 0 end)" for c in ("email", "phone", "address")
)


def _comparisons() -> list[Any]:
    """The comparisons, each level with its m (share of one person's account pairs that land there).

    m is set, not learned: EM on a population whose second accounts copy the first one learns m = 0 for
    levels it never sees (an infinite penalty for a real typo), and households break the independence EM
    and Fellegi-Sunter assume: family members share an address, a phone, sometimes a mailbox and even a
    name. So email, phone and address are one comparison that counts how many of them agree (scoring them
    apart would add three household agreements and merge a mother and daughter of the same name), and a
    different birth date or national id weighs heavily against. u (chance agreement) is learned from the
    population's own random pairs.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    contact = cl.CustomComparison(
        output_column_name="contact",
        comparison_description="how many of email, phone and address agree",
        comparison_levels=[
            cll.And(cll.NullLevel("email"), cll.NullLevel("phone"), cll.NullLevel("address")),
            cll.CustomLevel(f"{_SHARED_CONTACTS} = 3", "all three").configure(m_probability=0.3),
            cll.CustomLevel(f"{_SHARED_CONTACTS} = 2", "two").configure(m_probability=0.35),
            cll.CustomLevel(f"{_SHARED_CONTACTS} = 1", "one").configure(m_probability=0.25),
            cll.ElseLevel().configure(m_probability=0.1),
        ],
    )
    return [
        cl.NameComparison("given_name", jaro_winkler_thresholds=[0.92, 0.88]).configure(
            term_frequency_adjustments=True, m_probabilities=[0.93, 0.045, 0.0249, 0.0001]
        ),
        cl.NameComparison("surname").configure(
            term_frequency_adjustments=True, m_probabilities=[0.88, 0.05, 0.02, 0.02, 0.03]
        ),
        cl.DamerauLevenshteinAtThresholds("birth_date", [1]).configure(
            term_frequency_adjustments=True, m_probabilities=[0.97, 0.0299, 0.0001]
        ),
        contact,
        cl.DamerauLevenshteinAtThresholds("national_id", [1]).configure(
            m_probabilities=[0.97, 0.0299, 0.0001]
        ),
        cl.ExactMatch("document").configure(m_probabilities=[0.8, 0.2]),
    ]


def applicant_model(threshold: float = 0.9) -> LinkageModel:
    """Accounts of one person: blocked on any strong key, or on the birth date with a name; u and the
    prior learned from the population itself (seeded), m set (see ``_comparisons``)."""
    return LinkageModel(
        name="applicants",
        link_type="dedupe_only",
        comparisons=_comparisons,
        blocking=(
            "l.national_id = r.national_id",
            "l.document = r.document",
            "l.email = r.email",
            "l.phone = r.phone",
            "l.birth_date = r.birth_date and l.surname = r.surname",
            "l.birth_date = r.birth_date and l.given_name = r.given_name",
            "l.surname = r.surname and l.given_name = r.given_name",
        ),
        em_blocking=(),
        deterministic=(
            "l.birth_date = r.birth_date and l.national_id = r.national_id",
            "l.birth_date = r.birth_date and l.document = r.document",
        ),
        deterministic_recall=0.8,
        threshold=threshold,
        u_max_pairs=2e6,
        prior_matches_per_record=0.02,
    )
