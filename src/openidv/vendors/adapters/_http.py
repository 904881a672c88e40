"""One HTTP exchange with a vendor, its technical failures turned into ``VendorFault``.

Why shared: every real adapter must treat timeouts, connection errors, 5xx, 429 (with ``Retry-After``),
auth failures and unparseable bodies the same way, or the router would fail over for one vendor and not
for another on the same symptom.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from openidv.results import Meaning
from openidv.vendors.protocol import MEANING, Capability, VendorDecision, VendorFault

#: the longest an adapter waits on a vendor's Retry-After while polling
MAX_WAIT_S = 30.0


class RateLimited(VendorFault):
    """HTTP 429; ``retry_after_s`` is the vendor's ``Retry-After`` in seconds (None when absent)."""

    def __init__(self, vendor: str, retry_after_s: float | None, detail: str = "") -> None:
        super().__init__(vendor, "rate_limited", detail)
        self.retry_after_s = retry_after_s


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (the delta-seconds form; an HTTP date is not parsed)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


async def send(
    client: httpx.AsyncClient, vendor: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """Send one request; return the response when it is 2xx, raise ``VendorFault`` otherwise."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise VendorFault(vendor, "timeout", f"{method} {url}: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        raise VendorFault(vendor, "connection", f"{method} {url}: {type(exc).__name__}") from None
    status = response.status_code
    if status < 300:
        return response
    body = " ".join(response.text[:200].split())
    where = f"{method} {response.request.url.path}: HTTP {status}"
    if status == 429:
        wait = retry_after(response.headers.get("Retry-After"))
        raise RateLimited(vendor, wait, f"{where}; retry after {wait}s" if wait is not None else where)
    if status >= 500:
        raise VendorFault(vendor, "http_5xx", f"{where} {body}")
    if status in (401, 403):
        raise VendorFault(vendor, "auth", f"{where} {body}")
    raise VendorFault(vendor, "config", f"{where} {body}")


def json_object(response: httpx.Response, vendor: str) -> dict[str, Any]:
    """The body as a JSON object, or a ``malformed`` fault."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VendorFault(vendor, "malformed", f"{response.request.url.path}: body is not JSON") from None
    if not isinstance(data, dict):
        raise VendorFault(vendor, "malformed", f"{response.request.url.path}: body is not a JSON object")
    return data


def field(data: dict[str, Any], vendor: str, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` or a ``malformed`` fault naming the missing key."""
    node: Any = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise VendorFault(vendor, "malformed", f"answer lacks {'.'.join(path)}")
        node = node[key]
    return node


def decision_score(capability: Capability, decision: VendorDecision) -> float | None:
    """A score on the capability's meaning for vendors that answer with a decision only.

    Why: the evaluation layer needs a number per row; a decision-only vendor has three operating points
    (pass < review < decline in attack terms), and the error rates at those points are exactly the vendor's.
    """
    if decision == VendorDecision.UNPROCESSABLE:
        return None
    attack = {VendorDecision.PASS: 0.0, VendorDecision.REVIEW: 0.5, VendorDecision.DECLINE: 1.0}[decision]
    return attack if MEANING[capability] == Meaning.ATTACK else 1.0 - attack
