"""Signed webhooks: how openidv signs each event, and how a receiver checks the signature.

Every delivery carries ``Openidv-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
and ``Openidv-Event-Id``. The timestamp is inside the signed text, so a captured delivery cannot be
replayed later than ``tolerance_s`` with a fresh timestamp; within the tolerance a replay is the same event
id, which receivers must deduplicate anyway: delivery is at-least-once.

Receivers::

    from openidv.webhooks import verify_signature
    if not verify_signature(secret, request.headers["Openidv-Signature"], raw_body):
        return 400
    if event_id_seen(request.headers["Openidv-Event-Id"]):
        return 200   # a retry of an event already handled

This module is plain standard library, so a receiver can copy it without installing openidv.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time

SIGNATURE_HEADER = "Openidv-Signature"
EVENT_ID_HEADER = "Openidv-Event-Id"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh 256-bit signing secret, shown to its owner once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Openidv-Signature`` header value for ``body`` sent at ``timestamp`` (now by default)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={_mac(secret, t, body)}"


def verify_signature(
    secret: str, header: str | None, body: bytes, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """True when ``header`` is a valid signature of the exact raw ``body`` made within ``tolerance_s``
    seconds of ``now``. Any ``v1`` entry may match (several are sent while a secret is being rotated);
    the comparison takes constant time."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]. Full jitter
    spreads the retries of many deliveries that failed together (a receiver's outage) instead of sending
    them back in waves."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0, ceiling)
