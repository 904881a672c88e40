"""ICAO Doc 9303 part 3 transliteration of Latin-script names, and a tolerant, conservative name comparison.

Why: the MRZ alphabet is A-Z and the filler ``<``. A name typed as "Jürgen Müller-Øberg" appears in an MRZ as
``MUELLER<OEBERG<<JUERGEN``, ``MULLER<OBERG<<JURGEN`` or ``MUXXLLER...`` depending on the issuer, so a
declared name is compared with *every* transliteration Doc 9303 accepts, never with one guess.

Transliteration (Doc 9303 part 3, section 6, Latin characters):

* letters with accents, cedillas, carons, ogoneks ... lose the mark (É -> E, Č -> C, Ł -> L, ı -> I);
* the letters with an accepted multi-letter form get all their forms, Doc 9303's recommendation first:
  Ä -> AE | A, Å -> AA | A, Æ -> AE, Ö -> OE | O, Ø -> OE | O, Œ -> OE, Ü -> UE | U | UXX, Ñ -> N | NXX,
  ß -> SS, Þ -> TH, Ĳ -> IJ, Ð -> D;
* spaces and hyphens become the filler ``<``; apostrophes, full stops and commas are omitted (O'Brien ->
  OBRIEN, St. John -> ST<JOHN);
* anything else (digits, other scripts) cannot be transliterated here and raises ``ValueError``.

Name matching rules (``names_match``), chosen so that the same person's name matches across issuers and forms,
and different people's names do not:

* surnames compare on their letters only, separators ignored (VAN DER BERG = VANDERBERG, SMITH-JONES =
  SMITH<JONES); every declared surname part must be there (GARCIA does not match GARCIA MARQUEZ);
* every declared given name must match a distinct given name on the document, in any order; given names on the
  document that the applicant left out (middle names) are allowed: declared "Anna" matches ANNA MARIA, and the
  detail lists MARIA as undeclared. Declared given names that are not on the document fail the match;
* typos: a surname or a single given name may differ by at most ``MAX_TYPO_EDITS`` Damerau-Levenshtein edits
  (optimal string alignment) *and* keep a similarity ``1 - edits / longer length`` of at least
  ``TYPO_MIN_SIMILARITY`` (0.85: no edit on names of 6 letters or fewer, one edit from 7 letters, two
  from 14), *and* its last ``TYPO_PROTECTED_SUFFIX`` letters must agree, because many different names differ
  only in their ending (DANIEL/DANIELA, CHRISTIAN/CHRISTINA, KOWALSKI/KOWALSKA, MICHAEL/MICHAL);
* truncation (the MRZ name filled its field): the last name part on the document may be a prefix of the
  declared one, a one-letter given name may be an initial, and declared given names past the end of the field
  are not required.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

FILLER = "<"

#: Typo tolerance bounds; see the module docstring.
TYPO_MIN_SIMILARITY = 0.85
MAX_TYPO_EDITS = 2
TYPO_PROTECTED_SUFFIX = 2

#: Beyond this many variants only uniform choices are kept (all first forms, all second forms, ...).
MAX_VARIANTS = 256

# Doc 9303 part 3 multi-letter and non-decomposable letters; recommended form first.
_SPECIAL_UPPER: dict[str, tuple[str, ...]] = {
    "Ä": ("AE", "A"),
    "Å": ("AA", "A"),
    "Æ": ("AE",),
    "Ö": ("OE", "O"),
    "Ø": ("OE", "O"),
    "Œ": ("OE",),
    "Ü": ("UE", "U", "UXX"),
    "Ñ": ("N", "NXX"),
    "ẞ": ("SS",),
    "Þ": ("TH",),
    "Ĳ": ("IJ",),
    "Ð": ("D",),
    "Đ": ("D",),
    "Ħ": ("H",),
    "Ł": ("L",),
    "Ŀ": ("L",),
    "Ŋ": ("N",),
    "Ŧ": ("T",),
    "İ": ("I",),
}
_SPECIAL: dict[str, tuple[str, ...]] = {
    **_SPECIAL_UPPER,
    **{key.lower(): value for key, value in _SPECIAL_UPPER.items() if len(key.lower()) == 1},
    "ß": ("SS",),
    "ı": ("I",),
}
_SEPARATORS = frozenset(" \t-\u2010\u2011\u2012\u2013\u2014\u00a0" + FILLER)
_OMITTED = frozenset("'\u2019\u2018\u02bc`\u00b4.,")
_SEP = ("<",)


@dataclass(frozen=True)
class NameMatch:
    """The outcome of comparing an MRZ name with a declared name."""

    matched: bool
    similarity: float  # 0..1, higher means more alike
    detail: str


def _char_options(ch: str) -> tuple[str, ...]:
    """The MRZ forms of one character; raises ValueError when Doc 9303 gives it none."""
    if ch in _SEPARATORS or ch.isspace():
        return _SEP
    if ch in _OMITTED:
        return ("",)
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if "A" <= ch.upper() <= "Z" and len(ch.upper()) == 1:
        return (ch.upper(),)
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and all(c.isascii() and c.isalpha() for c in base):
        return (base.upper(),)
    raise ValueError(f"cannot transliterate {ch!r} (U+{ord(ch):04X}) to the MRZ alphabet")


def _clean(mrz: str) -> str:
    """Collapse filler runs and drop leading/trailing fillers."""
    return re.sub("<+", FILLER, mrz).strip(FILLER)


def _combine(options: Sequence[Sequence[str]]) -> list[str]:
    """Every concatenation taking one option per position; over ``MAX_VARIANTS``, only uniform choices."""
    total = 1
    for opts in options:
        total *= len(opts)
    if total <= MAX_VARIANTS:
        return ["".join(combo) for combo in product(*options)]
    widest = max(len(opts) for opts in options)
    return ["".join(opts[min(i, len(opts) - 1)] for opts in options) for i in range(widest)]


def transliteration_variants(name: str) -> tuple[str, ...]:
    """Every MRZ spelling Doc 9303 accepts for ``name``, the recommended one first.

    Parts are separated by a single ``<``. Raises ValueError for characters outside the Latin script.
    """
    options = [_char_options(ch) for ch in unicodedata.normalize("NFC", name.strip())]
    return tuple(dict.fromkeys(_clean(spelling) for spelling in _combine(options)))


def name_parts(name: str) -> list[tuple[str, ...]]:
    """The parts of a name (split at spaces, hyphens and fillers), each with its own MRZ spellings.

    Why per part: a name with many special letters has a product of spellings that grows fast, while
    given names are matched one by one anyway.
    """
    parts: list[str] = [""]
    for ch in unicodedata.normalize("NFC", name):
        if _char_options(ch) == _SEP:
            parts.append("")
        else:
            parts[-1] += ch
    spelled = (tuple(v for v in transliteration_variants(part) if v) for part in parts if part)
    return [variants for variants in spelled if variants]


def _spells(parts: Sequence[Sequence[str]], target: str) -> bool:
    """True when ``target`` is one spelling of each part, concatenated in order (no enumeration)."""
    positions = {0}
    for variants in parts:
        positions = {p + len(v) for p in positions for v in variants if target.startswith(v, p)}
        if not positions:
            return False
    return len(target) in positions


def transliterate(name: str) -> str:
    """The Doc 9303 recommended MRZ spelling: ``Müller-Lüdenscheidt`` -> ``MUELLER<LUEDENSCHEIDT``."""
    return transliteration_variants(name)[0]


def osa_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance, optimal-string-alignment form (adjacent transpositions cost 1)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def name_similarity(a: str, b: str) -> float:
    """``1 - edits / longer length``: 1.0 for equal strings, 0.0 for nothing in common."""
    if not a and not b:
        return 1.0
    return 1.0 - osa_distance(a, b) / max(len(a), len(b))


def typo_tolerated(declared: str, mrz: str) -> bool:
    """True when ``declared`` and ``mrz`` differ by a small typo under the documented bounds."""
    if declared == mrz:
        return True
    if declared[-TYPO_PROTECTED_SUFFIX:] != mrz[-TYPO_PROTECTED_SUFFIX:]:
        return False
    edits = osa_distance(declared, mrz)
    return edits <= MAX_TYPO_EDITS and name_similarity(declared, mrz) >= TYPO_MIN_SIMILARITY


@dataclass(frozen=True)
class _Part:
    """The comparison of one name component (surname or given names): ok, similarity, notes for people."""

    ok: bool
    similarity: float
    notes: tuple[str, ...] = ()


def _mrz_tokens(mrz_name: str) -> list[str]:
    """Name parts of an MRZ name given with spaces or fillers (``ANNA MARIA`` or ``ANNA<MARIA``)."""
    cleaned = _clean("".join("<" if ch.isspace() else ch for ch in mrz_name.upper()))
    return [token for token in cleaned.split(FILLER) if token]


def _compare_surname(mrz_tokens: Sequence[str], parts: Sequence[Sequence[str]], *, prefix_ok: bool) -> _Part:
    """Compare surnames on their letters; under truncation the document's may be a prefix."""
    mrz = "".join(mrz_tokens)
    if _spells(parts, mrz):
        return _Part(True, 1.0)
    spellings = _combine(parts)
    if prefix_ok and mrz and any(spelling.startswith(mrz) for spelling in spellings):
        return _Part(True, 1.0, (f"surname compared on the prefix {mrz} (truncated MRZ)",))
    near = [sp for sp in spellings if abs(len(sp) - len(mrz)) <= MAX_TYPO_EDITS and typo_tolerated(sp, mrz)]
    if mrz and near:
        best = max(near, key=lambda sp: name_similarity(sp, mrz))
        return _Part(True, name_similarity(best, mrz), (f"surname typo tolerated ({best} vs {mrz})",))
    return _Part(False, name_similarity(spellings[0], mrz), (f"surname differs ({spellings[0]} vs {mrz})",))


def _token_score(declared: str, mrz: str, *, prefix_ok: bool, initial_ok: bool) -> tuple[bool, float, str]:
    """Compare one declared given name with one on the document: (ok, similarity, note)."""
    if declared == mrz:
        return True, 1.0, ""
    if prefix_ok and declared.startswith(mrz):
        return True, 1.0, f"{mrz} taken as the truncated {declared}"
    if initial_ok and len(mrz) == 1 and declared.startswith(mrz):
        return True, 1.0, f"{mrz} taken as the initial of {declared}"
    similarity = name_similarity(declared, mrz)
    if typo_tolerated(declared, mrz):
        return True, similarity, f"given-name typo tolerated ({declared} vs {mrz})"
    return False, similarity, ""


def _best_token_score(
    variants: Sequence[str], mrz: str, *, prefix_ok: bool, initial_ok: bool
) -> tuple[bool, float, str]:
    scores = (_token_score(v, mrz, prefix_ok=prefix_ok, initial_ok=initial_ok) for v in variants)
    return max(scores, key=lambda score: (score[0], score[1]))


def _assign_given(declared: Sequence[Sequence[str]], mrz: Sequence[str], *, truncated: bool) -> _Part:
    """Match each declared given name to a distinct one on the document (greedy, best pairs first)."""
    scored = []
    for i, variants in enumerate(declared):
        for j, m_token in enumerate(mrz):
            last = j == len(mrz) - 1
            ok, sim, note = _best_token_score(
                variants, m_token, prefix_ok=truncated and last, initial_ok=truncated
            )
            scored.append((ok, sim, -abs(i - j), i, j, note))
    pairs: dict[int, tuple[bool, float, int, str]] = {}
    taken: set[int] = set()
    for ok, sim, _, i, j, note in sorted(scored, reverse=True):
        if i not in pairs and j not in taken:
            pairs[i] = (ok, sim, j, note)
            taken.add(j)
    return _given_part([variants[0] for variants in declared], mrz, pairs, truncated=truncated)


def _given_part(
    declared: Sequence[str],
    mrz: Sequence[str],
    pairs: dict[int, tuple[bool, float, int, str]],
    *,
    truncated: bool,
) -> _Part:
    """Summarise an assignment: every declared name paired and alike, or left over only by truncation."""
    unlike = [declared[i] for i, (ok, _, _, _) in sorted(pairs.items()) if not ok]
    left_over = [declared[i] for i in range(len(declared)) if i not in pairs]
    notes = [note for (_, _, _, note) in pairs.values() if note]
    missing = unlike if truncated else unlike + left_over
    if missing:
        notes.append(f"declared given names not on the document: {' '.join(missing)}")
    if truncated and left_over:
        notes.append(f"declared given names past the end of the truncated MRZ field: {' '.join(left_over)}")
    undeclared = [token for j, token in enumerate(mrz) if j not in {p[2] for p in pairs.values()}]
    if undeclared:
        notes.append(f"given names on the document not declared: {' '.join(undeclared)}")
    order = [pairs[i][2] for i in sorted(pairs)]
    if order != sorted(order):
        notes.append("given names in a different order")
    sims = [sim for (_, sim, _, _) in pairs.values()] + ([] if truncated else [0.0] * len(left_over))
    ok = not unlike and (truncated or not left_over)
    return _Part(ok, sum(sims) / len(sims) if sims else 0.0, tuple(notes))


def _compare_given(mrz_tokens: Sequence[str], parts: Sequence[Sequence[str]], *, truncated: bool) -> _Part:
    """Compare given names: declared ones must all be on the document; undeclared middle names are fine."""
    if not parts and not mrz_tokens:
        return _Part(True, 1.0)
    if not parts:
        return _Part(False, 0.0, ("no given names declared, the document has some",))
    if not mrz_tokens:
        if truncated:
            return _Part(True, 1.0, ("given names cut off by the truncated MRZ field",))
        return _Part(False, 0.0, ("the document has no given names",))
    if _spells(parts, "".join(mrz_tokens)):
        return _Part(True, 1.0)
    return _assign_given(parts, mrz_tokens, truncated=truncated)


def _compare(
    mrz_surname: str, mrz_given: str, declared_surname: str, declared_given: str, *, truncated: bool
) -> tuple[_Part, _Part]:
    """Best surname and given-name comparisons over the transliteration variants of each name part."""
    surname_tokens, given_tokens = _mrz_tokens(mrz_surname), _mrz_tokens(mrz_given)
    prefix_ok = truncated and not given_tokens
    surname = _compare_surname(surname_tokens, name_parts(declared_surname), prefix_ok=prefix_ok)
    given = _compare_given(given_tokens, name_parts(declared_given), truncated=truncated)
    return surname, given


def names_match(
    mrz_surname: str,
    mrz_given: str,
    declared_surname: str,
    declared_given: str,
    *,
    truncated: bool = False,
) -> NameMatch:
    """Compare the name read from an MRZ with the name an applicant declared (rules: module docstring).

    ``truncated`` says the MRZ name filled its whole field (``MRZResult.name_truncated``), which allows the
    prefix, initial and dropped-given-name rules. ``similarity`` is the mean of the surname and given-name
    similarities.
    """
    try:
        surname, given = _compare(
            mrz_surname, mrz_given, declared_surname, declared_given, truncated=truncated
        )
    except ValueError as exc:
        return NameMatch(False, 0.0, f"declared name not comparable: {exc}")
    matched = surname.ok and given.ok
    similarity = round((surname.similarity + given.similarity) / 2, 4)
    notes = list(surname.notes + given.notes)
    if not matched and _swapped_matches(mrz_surname, mrz_given, declared_surname, declared_given):
        notes.append("would match with surname and given names swapped (not accepted)")
    return NameMatch(matched, similarity, "; ".join(notes) if notes else "same name")


def _swapped_matches(mrz_surname: str, mrz_given: str, declared_surname: str, declared_given: str) -> bool:
    """Whether the declared fields look swapped; reported for reviewers, never accepted as a match."""
    if not declared_given.strip():
        return False
    try:
        surname, given = _compare(mrz_surname, mrz_given, declared_given, declared_surname, truncated=False)
    except ValueError:
        return False
    return surname.ok and given.ok
