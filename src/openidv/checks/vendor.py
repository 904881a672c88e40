"""``vendor_document``, ``vendor_face_match``, ``vendor_liveness``: an external IDV vendor as a check.

The check only builds a ``VendorRequest`` from the evidence and asks the ``vendor_router`` service
(``VendorRouting``) for a ``CheckResult``: which vendor, timeouts, retries, circuit breakers, failover and
normalising the vendor's answer are the router's (``openidv.vendors``). A check does no network I/O itself.

What is sent: the document's front and back and the selfie, re-encoded as JPEG (openidv holds decoded
pixels, never the uploaded file); the issuing country and document type as the ``mrz`` or
``document_read`` check read them (so these checks run after those, ``after``), else as the caller gave
them in ``metadata`` (``country``, ``document_type``) or the applicant's ``document_issuer``/``country``;
the capture ``channel`` from ``metadata``. The result carries the capability's meaning (face match:
similarity; document and liveness: attack) and the vendor's reason codes mapped to ours.

Audit: the router keeps each call's raw answer in memory under the request's idempotency key; the
``RecordVendorCalls`` follow-up asks it to write them (sealed) in the transaction that stores the
verification, rejected ones and router errors included (a decline and a failed, billed call are exactly
what an audit needs). A verification that is never stored writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from openidv.checks.base import Check, CheckParams, FollowUp
from openidv.checks.document.icao_codes import iso_countries
from openidv.checks.mrz_reading import DOCUMENT_CHECKS, mrz_field_sets
from openidv.checks.services import VENDOR_ROUTER
from openidv.checks.vendor_params import VendorParams
from openidv.evidence import Evidence
from openidv.imageio import Image, encode_jpeg
from openidv.results import CheckResult, Meaning, Status
from openidv.vendor_types import MEANING, Capability, VendorRequest

#: the ICAO 9303 document code's first letter -> our document type
_DOCUMENT_CODES = {"P": "passport", "I": "id_card", "A": "id_card", "C": "id_card", "V": "visa"}


class VendorRouting(Protocol):
    """What the vendor checks ask of the ``vendor_router`` service: judge one request and return our
    result (VENDOR_UNAVAILABLE, status ``error``, when no vendor could)."""

    def decide(self, request: VendorRequest) -> CheckResult: ...


@dataclass(frozen=True)
class RecordVendorCalls(FollowUp):
    """Store the raw answers of the calls made for ``call_key`` (an idempotency key), sealed, with the
    verification: applied for rejected applicants too."""

    service: ClassVar[str] = VENDOR_ROUTER
    on_reject: ClassVar[bool] = True

    call_key: str
    check: str


def alpha2(code: str | None) -> str | None:
    """An issuer as ISO alpha-2 (vendors.yaml routes on alpha-2); alpha-3 codes are converted, others kept."""
    if not code:
        return None
    code = code.strip().upper().rstrip("<")
    if len(code) == 3:
        known = iso_countries().get(code)
        return known[0] if known else code
    return code or None


def document_type_of(code: str | None) -> str | None:
    """``P``, ``PM``, ``ID``, ``I<``... -> passport, id_card...; residence permits (``AR``, ``IR``) too."""
    if not code:
        return None
    code = code.strip().upper()
    if code[:2] in ("AR", "IR", "CR", "RP"):
        return "residence_permit"
    return _DOCUMENT_CODES.get(code[:1])


def _read_document(prior: Mapping[str, CheckResult]) -> tuple[str | None, str | None]:
    """Issuer and document type as the MRZ was read by either document check, when it was."""
    for fields in mrz_field_sets(prior):
        if fields.get("issuer"):
            return alpha2(str(fields["issuer"])), document_type_of(str(fields.get("document_code") or ""))
    return None, None


def _jpeg(image: Image | None, quality: int) -> bytes | None:
    if image is None:
        return None
    return image.memo(("vendor_jpeg", quality), lambda: encode_jpeg(image, quality))


class VendorCheck(Check):
    """Base of the three vendor checks: subclasses name the capability and the evidence it needs."""

    version: ClassVar[str] = "1.0.0"
    capability: ClassVar[Capability]
    Params: ClassVar[type[CheckParams]] = VendorParams
    needs: ClassVar[tuple[str, ...]] = (VENDOR_ROUTER,)
    after: ClassVar[tuple[str, ...]] = DOCUMENT_CHECKS
    #: its error results (no vendor reachable) still record the calls they made: they were billed
    follow_ups_on_error: ClassVar[bool] = True

    @property
    def router(self) -> VendorRouting:
        routing: VendorRouting = self.services[VENDOR_ROUTER]
        return routing

    def request(self, evidence: Evidence, prior: Mapping[str, CheckResult]) -> VendorRequest:
        """The vendor request for this applicant (a fresh idempotency key per verification and check)."""
        params = self.params
        assert isinstance(params, VendorParams)
        metadata = evidence.metadata or {}
        country, document_type = _read_document(prior)
        applicant = evidence.applicant
        country = (
            country
            or alpha2(_text(metadata.get("country")))
            or alpha2(applicant.document_issuer if applicant else None)
            or alpha2(applicant.country if applicant else None)
        )
        document_type = document_type or _text(metadata.get("document_type"))
        declared: dict[str, str] = {}
        if params.send_declared and evidence.declared is not None:
            d = evidence.declared
            declared = {"surname": d.surname, "given_names": d.given_names}
            if d.birth_date is not None:
                declared["birth_date"] = d.birth_date.isoformat()
        wants_document = self.capability in (Capability.DOCUMENT, Capability.FACE_MATCH)
        wants_selfie = self.capability in (Capability.FACE_MATCH, Capability.LIVENESS)
        quality = params.jpeg_quality
        return VendorRequest(
            capability=self.capability,
            idempotency_key=f"idv-{uuid.uuid4().hex}-{self.capability}",
            tenant=evidence.tenant_id,
            country=country,
            document_type=document_type,
            channel=_text(metadata.get("channel")),
            document_front=_jpeg(evidence.document_image, quality) if wants_document else None,
            document_back=_jpeg(evidence.document_back, quality)
            if self.capability == Capability.DOCUMENT
            else None,
            selfie=_jpeg(evidence.selfie, quality) if wants_selfie else None,
            declared=declared,
        )

    def run(self, evidence: Evidence) -> CheckResult:
        return self.run_after(evidence, {})

    def run_after(self, evidence: Evidence, prior: Mapping[str, CheckResult]) -> CheckResult:
        request = self.request(evidence, prior)
        result = self.router.decide(request)
        details: dict[str, Any] = {**result.details, "call_key": request.idempotency_key}
        details.setdefault("country", request.country)
        details.setdefault("document_type", request.document_type)
        codes = list(result.reason_codes)
        if result.status == Status.FAILED_TO_ACQUIRE:
            codes.append("VENDOR_UNPROCESSABLE")  # the vendor could not judge: a person must
        # the router's result, as this check's: our name, version and the capability's meaning
        return self.result(result.status, result.score, codes, details)

    def follow_ups(self, evidence: Evidence, result: CheckResult) -> Sequence[FollowUp]:
        key = result.details.get("call_key")
        return (RecordVendorCalls(str(key), self.name),) if key else ()


def _text(value: Any) -> str | None:
    return str(value).strip() or None if isinstance(value, str) else None


class VendorDocumentCheck(VendorCheck):
    name: ClassVar[str] = "vendor_document"
    capability: ClassVar[Capability] = Capability.DOCUMENT
    meaning: ClassVar[Meaning] = MEANING[Capability.DOCUMENT]
    requires: ClassVar[tuple[str, ...]] = ("document_image",)
    file_fields: ClassVar[tuple[str, ...]] = ("document_image",)


class VendorFaceMatchCheck(VendorCheck):
    name: ClassVar[str] = "vendor_face_match"
    capability: ClassVar[Capability] = Capability.FACE_MATCH
    meaning: ClassVar[Meaning] = MEANING[Capability.FACE_MATCH]
    requires: ClassVar[tuple[str, ...]] = ("selfie", "document_image")
    file_fields: ClassVar[tuple[str, ...]] = ("selfie", "document_image")


class VendorLivenessCheck(VendorCheck):
    name: ClassVar[str] = "vendor_liveness"
    capability: ClassVar[Capability] = Capability.LIVENESS
    meaning: ClassVar[Meaning] = MEANING[Capability.LIVENESS]
    requires: ClassVar[tuple[str, ...]] = ("selfie",)
    file_fields: ClassVar[tuple[str, ...]] = ("selfie",)
