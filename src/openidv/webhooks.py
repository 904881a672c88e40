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
import ipaddress
import random
import secrets
import socket
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


#: set to 1 to let webhooks reach loopback, private and link-local addresses (a receiver on the same host
#: or network; tests). Off by default: a tenant must not make openidv post into the operator's network.
ALLOW_PRIVATE_ENV = "OPENIDV_WEBHOOK_ALLOW_PRIVATE"


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def literal_host_refused(host: str) -> str | None:
    """Why a webhook may not be registered for ``host`` without resolving it (an IP literal that is not
    public, or a ``localhost`` name), or None. Names are checked again, resolved, at every delivery."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine"
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return None
    return f"{host} is not a public address" if _non_public(name) else None


def resolved_host_refused(host: str, port: int) -> str | None:
    """Why a delivery to ``host`` is refused now: it resolves to a loopback, private, link-local, reserved or
    multicast address (a DNS name pointed at the operator's network), or it does not resolve; else None."""
    refused = literal_host_refused(host)
    if refused:
        return refused
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return f"{host} does not resolve"
    for info in infos:
        address = str(info[4][0])
        if _non_public(address):
            return f"{host} resolves to a non-public address"
    return None
