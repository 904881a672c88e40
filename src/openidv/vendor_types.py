"""The plain types of the vendor contract: what a vendor is asked (``VendorRequest``), what it answers
(``VendorOutcome``) and how a call fails (``VendorFault``).

Why here, in the base layer, and not in ``openidv.vendors``: the vendor checks (``openidv.checks.vendor``)
build requests and sit below ``openidv.vendors`` in the import layers, so they may not import it. These
dataclasses import nothing above ``openidv.results``; ``openidv.vendors.protocol`` re-exports them (and adds
the adapter protocol and ``normalise``), so code above the checks keeps importing from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openidv.results import Meaning


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
    #: extra facts for adapters that understand them (optional, added by issue 15's core): the simulated
    #: vendor reads ``ground_truth`` (genuine | attack) of a labelled benchmark input; real adapters ignore it
    metadata: Mapping[str, Any] = field(default_factory=dict)


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
    #: HTTP attempts the resilient client made for this outcome (retries included; optional, issue 15 core)
    attempts: int = 1


class VendorFault(Exception):
    """A technical failure: the router may retry or fail over. ``kind`` is one of ``timeout``,
    ``connection``, ``http_5xx``, ``rate_limited``, ``malformed``, ``circuit_open``, ``auth``, ``config``."""

    def __init__(self, vendor: str, kind: str, detail: str = "") -> None:
        super().__init__(f"{vendor}: {kind}{': ' + detail if detail else ''}")
        self.vendor = vendor
        self.kind = kind
        self.detail = detail
