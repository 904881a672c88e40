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
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx

from openidv.results import CheckResult, Meaning, Status


class Capability(StrEnum):
    """What a vendor is asked to judge; each maps to one of our checks' meanings."""

    DOCUMENT = "document"  # document authenticity: score meaning attack (higher = more likely forged)
    FACE_MATCH = "face_match"  # selfie vs document portrait: similarity (higher = same person)
    LIVENESS = "liveness"  # presentation attack on the selfie: attack (higher = more likely an attack)


MEANING: Mapping[Capability, Meaning] = {
    Capability.DOCUMENT: Meaning.ATTACK,
    Capability.FACE_MATCH: Meaning.SIMILARITY,
    Capability.LIVENESS: Meaning.ATTACK,
}


class VendorDecision(StrEnum):
    PASS = "pass"  # the vendor accepts (genuine document, same person, live)
    DECLINE = "decline"  # the vendor refuses (forged, impostor, attack): final, never re-routed
    REVIEW = "review"  # the vendor wants a person to look
    UNPROCESSABLE = "unprocessable"  # the vendor could not judge the input (blurry, no face): final too


@dataclass(frozen=True)
class VendorRequest:
    """One call's input, built from ``Evidence`` by the vendor check. Images are encoded bytes (JPEG/PNG
    as supplied); text fields are what the applicant declared or what our readers read."""

    capability: Capability
    #: unique per (verification, capability, vendor attempt): sent as the vendor's idempotency key so a
    #: retried call is not billed or judged twice
    idempotency_key: str
    tenant: str
    country: str | None = None  # ISO 3166 alpha-2 or alpha-3 of the document's issuer (routing slice)
    document_type: str | None = None  # passport | id_card | driving_licence | residence_permit | visa
    channel: str | None = None  # capture channel: web | mobile | api (routing and benchmark slice)
    document_front: bytes | None = None
    document_back: bytes | None = None
    selfie: bytes | None = None
    declared: Mapping[str, str] = field(default_factory=dict)  # surname, given_names, birth_date (ISO)...


@dataclass(frozen=True)
class VendorOutcome:
    """A vendor's decision on one request, before normalisation."""

    vendor: str
    capability: Capability
    decision: VendorDecision
    #: the vendor's score converted to the capability's meaning (``MEANING``), in [0, 1]; None if none given
    score: float | None
    vendor_reason_codes: tuple[str, ...] = ()
    latency_ms: float = 0.0
    cost: float = 0.0  # in the configured currency, for this call (retries included)
    #: the vendor's raw answer (parsed JSON or text): stored sealed for audit, never shown to callers
    raw: Any = None
    vendor_reference: str | None = None  # the vendor's id for the check, for disputes and audit


class VendorFault(Exception):
    """A technical failure: the router may retry or fail over. ``kind`` is one of ``timeout``,
    ``connection``, ``http_5xx``, ``rate_limited``, ``malformed``, ``circuit_open``, ``auth``, ``config``."""

    def __init__(self, vendor: str, kind: str, detail: str = "") -> None:
        super().__init__(f"{vendor}: {kind}{': ' + detail if detail else ''}")
        self.vendor = vendor
        self.kind = kind
        self.detail = detail


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
