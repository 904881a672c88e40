"""Email addresses to one canonical form: the same mailbox, however it was typed, gives the same key.

Fraud rings reuse one mailbox behind provider aliases (``j.o.h.n+1@gmail.com``); innocent applicants never
share a mailbox. So the rules strip only what the provider itself ignores, and only for providers known to do
so.
"""

from __future__ import annotations

import re
import unicodedata

from openidv.checks.graph.identifier import preview, require_text
from openidv.errors import InvalidInput

#: Gmail ignores dots and everything after "+"; googlemail.com is the same service
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
#: providers whose "+tag" reaches the base mailbox (subaddressing); dots are significant there
PLUS_DOMAINS = frozenset(
    {
        # Microsoft consumer mail
        "outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
        "hotmail.it", "hotmail.es", "outlook.fr", "outlook.de", "outlook.es", "outlook.it", "live.co.uk",
        "live.fr", "live.de", "live.it", "live.ca", "live.com.au",
        # Fastmail
        "fastmail.com", "fastmail.fm",
        # Apple iCloud
        "icloud.com", "me.com", "mac.com",
        # Proton
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me",
    }
)  # fmt: skip
#: Yahoo's disposable addresses are "base-keyword"; Yahoo ids cannot contain "-", so the base is before it
HYPHEN_DOMAINS = frozenset(
    {
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.ca", "yahoo.co.in",
        "yahoo.com.br", "yahoo.com.au", "ymail.com", "rocketmail.com",
    }
)  # fmt: skip

# RFC 5322 dot-atom text, plus any non-ASCII letter or digit (RFC 6531 internationalised local parts)
_LOCAL_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DOTS = re.compile("[\u3002\uff0e\uff61]")  # ideographic and full-width full stops, which IDNA treats as "."


def canonical_email(text: object) -> str:
    """``local@domain`` in canonical form, or InvalidInput saying what is wrong (one line)."""
    raw = require_text(text, "email", max_chars=320)
    address = unicodedata.normalize("NFKC", raw)
    if address.count("@") != 1:
        raise InvalidInput(f"email: expected exactly one '@' in {preview(raw)}")
    local, domain = address.split("@")
    domain = canonical_domain(domain, raw)
    local = _canonical_local(local, raw)
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.split("+", 1)[0].replace(".", "")
    elif domain in PLUS_DOMAINS:
        local = local.split("+", 1)[0]
    elif domain in HYPHEN_DOMAINS:
        local = local.split("-", 1)[0]
    if not local or local.endswith("."):
        # "+tag@gmail.com" or "a.+tag@outlook.com": no valid base mailbox for the provider to deliver to
        raise InvalidInput(
            f"email: no valid mailbox name left after the provider's alias rules in {preview(raw)}"
        )
    return f"{local}@{domain}"


def _canonical_local(local: str, raw: str) -> str:
    """The lower-cased local part, refused unless it is a plain dot-atom (no quoted strings, no comments)."""
    if not local:
        raise InvalidInput(f"email: missing the name before '@' in {preview(raw)}")
    if len(local) > 64:
        raise InvalidInput("email: the name before '@' is longer than 64 characters")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidInput(f"email: misplaced dot in {preview(raw)}")
    # every large provider treats mailbox names case-insensitively, whatever RFC 5321 permits; folding twice
    # catches the rare characters whose lower case is not in NFKC form (their canonical form is unstable)
    folded = unicodedata.normalize("NFKC", local.lower())
    if unicodedata.normalize("NFKC", folded.lower()) != folded:
        raise InvalidInput(f"email: the name before '@' has no stable lower-case form in {preview(raw)}")
    for char in folded:
        if char != "." and not _LOCAL_ATOM.fullmatch(char) and not (ord(char) > 127 and char.isalnum()):
            raise InvalidInput(f"email: character {char!r} is not allowed in {preview(raw)}")
    return folded


def canonical_domain(domain: str, raw: str) -> str:
    """The domain in lower-case ASCII (IDN labels as punycode), or InvalidInput."""
    domain = _DOTS.sub(".", domain).lower()
    if domain.endswith("."):
        domain = domain[:-1]  # the fully qualified form names the same domain
    if not domain:
        raise InvalidInput(f"email: missing the domain after '@' in {preview(raw)}")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidInput(f"email: domain needs at least two labels in {preview(raw)}")
    ascii_labels = [_ascii_label(label, raw) for label in labels]
    if ascii_labels[-1].isdigit():
        raise InvalidInput(f"email: the top-level domain cannot be numeric in {preview(raw)}")
    ascii_domain = ".".join(ascii_labels)
    if len(ascii_domain) > 253:
        raise InvalidInput("email: domain longer than 253 characters")
    return ascii_domain


def _ascii_label(label: str, raw: str) -> str:
    """One domain label as LDH ASCII; non-ASCII labels go through IDNA (nameprep + punycode)."""
    if label.isascii():
        ascii_label = label
    else:
        try:
            ascii_label = label.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidInput(f"email: domain label {preview(label)} is not a valid IDN") from None
    if not _LABEL.fullmatch(ascii_label):
        raise InvalidInput(f"email: domain label {preview(label)} is not a valid host name in {preview(raw)}")
    return ascii_label
