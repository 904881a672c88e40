"""The vendor adapter contract: what every external IDV provider's adapter takes and returns.

Why a contract of our own: vendors disagree on everything (field names, decision words, score direction,
reason codes). An adapter turns our ``VendorRequest`` into the vendor's HTTP call and the vendor's answer
into a ``VendorOutcome``; ``normalise`` then makes the same ``CheckResult`` an in-house check returns,
with the vendor's reason codes mapped to ours through the configured map. Routing, failover, shadow calls,
cost accounting and the audit copy of the raw response work on these types only, never on a vendor's
JSON.

Failures are of two kinds, and the router treats them differently:

- a **technical fault** (timeout, connection error, 5xx, 429, malformed answer, circuit open) raises
  ``VendorFault``: the router may fail over to another vendor;
- a **decision** (pass, decline, review, or "could not process the image") is a ``VendorOutcome``: it is
  final; a decline is never re-routed (fraudsters must not shop for a lenient vendor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import httpx

from openidv.results import CheckResult, Meaning, Status
from openidv.vendor_types import (
    MEANING,
    Capability,
    VendorDecision,
    VendorFault,
    VendorOutcome,
    VendorRequest,
)

__all__ = [
    "MEANING",
    "Capability",
    "VendorAdapter",
    "VendorDecision",
    "VendorFault",
    "VendorOutcome",
    "VendorRequest",
    "normalise",
]


class VendorAdapter(Protocol):
    """One vendor's API. Adapters are stateless apart from their configuration; the resilient client
    (timeouts, retries, circuit breaker) wraps ``call``."""

    #: the adapter kind named in vendors.yaml (``simulated``, ``onfido``, ``veriff``...)
    kind: ClassVar[str]
    name: str  # this configured vendor's name (two configured vendors may share one adapter kind)

    async def call(self, request: VendorRequest, client: httpx.AsyncClient) -> VendorOutcome:
        """One HTTP exchange (or the few a vendor's API needs). Raise ``VendorFault`` on a technical
        failure; return the outcome otherwise."""
        ...


_HIGHER = {
    Meaning.SIMILARITY: "higher = more likely the same person",
    Meaning.ATTACK: "higher = more likely fraud or an attack",
}


def normalise(
    outcome: VendorOutcome,
    *,
    check: str,
    version: str,
    reason_map: Mapping[str, str],
    routing: Mapping[str, Any] | None = None,
) -> CheckResult:
    """The vendor's outcome as our ``CheckResult``: the capability's meaning, our reason codes (vendor codes
    missing from ``reason_map`` become ``VENDOR_REASON_UNMAPPED``), a decline or review as
    ``VENDOR_DECLINED`` / ``VENDOR_REVIEW``, an unprocessable input as ``failed_to_acquire``, and details
    that say which vendor judged it and why it was chosen (``routing``). The raw answer is not copied."""
    codes: list[str] = []
    if outcome.decision == VendorDecision.DECLINE:
        codes.append("VENDOR_DECLINED")
    elif outcome.decision == VendorDecision.REVIEW:
        codes.append("VENDOR_REVIEW")
    for code in outcome.vendor_reason_codes:
        codes.append(reason_map.get(code, "VENDOR_REASON_UNMAPPED"))
    status = Status.FAILED_TO_ACQUIRE if outcome.decision == VendorDecision.UNPROCESSABLE else Status.OK
    meaning = MEANING[outcome.capability]
    details: dict[str, Any] = {
        "vendor": outcome.vendor,
        "capability": str(outcome.capability),
        "vendor_decision": str(outcome.decision),
        "vendor_reason_codes": list(outcome.vendor_reason_codes),
        "vendor_reference": outcome.vendor_reference,
        "cost": outcome.cost,
        "vendor_latency_ms": round(outcome.latency_ms, 3),
        "score_meaning": f"{meaning.value}: the vendor's score mapped to our scale; {_HIGHER[meaning]}",
    }
    if routing:
        details["routing"] = dict(routing)
    return CheckResult(
        check=check,
        version=version,
        status=status,
        score=outcome.score if status == Status.OK else None,
        meaning=meaning,
        reason_codes=tuple(dict.fromkeys(codes)),
        details=details,
    )
