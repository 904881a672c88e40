"""The graph's key type: one normalised identifier an account used (an email, a phone, a device...).

Two applicants are linked when they share an ``Identifier.key``; everything in this package exists so that the
same real-world identifier written two ways gives the same key, and different ones never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from openidv.errors import InvalidInput

Kind = Literal["email", "phone", "address", "ip", "ip24", "device", "national_id", "document", "face"]
#: every kind, in the order identifiers_of reports them
KINDS: tuple[Kind, ...] = get_args(Kind)

#: longest raw text any normaliser reads: far above any real identifier, low enough that a hostile field
#: cannot make normalisation slow
MAX_INPUT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Identifier:
    """A canonical identifier; ``key`` (``kind:value``) is what graph edges join on."""

    kind: Kind
    value: str
    key: str = field(init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(f"unknown identifier kind {self.kind!r}")
        if not self.value:
            raise InvalidInput(f"empty {self.kind} identifier")
        object.__setattr__(self, "key", f"{self.kind}:{self.value}")


def require_text(text: object, what: str, *, max_chars: int = MAX_INPUT_CHARS) -> str:
    """The input as a stripped, non-empty string of bounded length, or InvalidInput naming ``what``."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what}: expected a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"{what}: empty")
    if len(stripped) > max_chars:
        raise InvalidInput(f"{what}: longer than {max_chars} characters")
    return stripped


def preview(text: str, limit: int = 40) -> str:
    """A short, printable rendering of bad input for one-line error messages."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return ascii(shown) if not shown.isprintable() else repr(shown)
