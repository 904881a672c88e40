"""Keyed pseudonyms for identity-graph keys: links say that two accounts share a phone, not which phone.

A key ``phone:+447700900123`` is stored and held in memory as ``phone:`` + the first 26 base32 characters
(130 bits) of HMAC-SHA256(graph key, tenant NUL key). The kind stays readable (models and explanations need
it); the value cannot be recovered or guessed without the graph key, even by someone who can read the
database, and the same value gives unrelated pseudonyms in two tenants. The clear value is kept beside it,
sealed (``graph_identifier_values``), for investigators.

The graph key is 32 random bytes from ``OPENIDV_GRAPH_KEY`` (base64) or the file
``<data dir>/keys/graph.key`` (mode 0600), created on first use when neither exists. It is separate from the
encryption key ring on purpose: a pseudonym must not change when the master key is rotated, or every link
would have to be rewritten.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from openidv.crypto import parse_key, write_key_file
from openidv.errors import ConfigurationError
from openidv.settings import Settings

log = logging.getLogger(__name__)

GRAPH_KEY_ENV = "OPENIDV_GRAPH_KEY"
#: base32 characters of the MAC kept: 130 bits, far beyond any collision among billions of identifiers
_PSEUDONYM_CHARS = 26


def graph_key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / "graph.key"


@dataclass(frozen=True)
class Pseudonymiser:
    """Turns clear identifier keys into keyed pseudonyms (same kind, hidden value)."""

    secret: bytes = field(repr=False)

    def key(self, clear_key: str, tenant: str) -> str:
        kind, _, _ = clear_key.partition(":")
        mac = hmac.new(self.secret, f"{tenant}\x00{clear_key}".encode(), hashlib.sha256).digest()
        return f"{kind}:{base64.b32encode(mac).decode('ascii')[:_PSEUDONYM_CHARS].lower()}"

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymiser:
        """The deployment's graph key (environment, then key file, else a new key file)."""
        env = os.environ.get(GRAPH_KEY_ENV)
        if env:
            return cls(parse_key(env, GRAPH_KEY_ENV))
        path = graph_key_path(settings)
        if not path.is_file():
            log.warning("no identity-graph key configured; creating one at %s (mode 0600)", path)
            with contextlib.suppress(ConfigurationError):  # another process created it first: use theirs
                write_key_file(path)
        return cls(parse_key(path.read_text(encoding="ascii"), str(path)))
