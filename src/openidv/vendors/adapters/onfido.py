"""Onfido API v3.6 (https://api.{eu,us,ca}.onfido.com/v3.6): applicant, uploads, check, reports.

**Written from Onfido's public documentation; untested against the live service.** Pages used:

- API reference: https://documentation.onfido.com/api/latest/ (applicants, documents, live photos,
  checks, reports; ``Authorization: Token token=<API token>``; errors as ``{"error": {"type", "message"}}``)
- OpenAPI spec (v3.6): https://github.com/onfido/onfido-openapi-spec
- Document report: https://documentation.onfido.com/guide/document-report (``result`` clear/consider,
  ``sub_result`` clear/rejected/suspected/caution, ``breakdown`` tree)
- Facial similarity reports: https://documentation.onfido.com/guide/facial-similarity-reports
  (``face_comparison.face_match.properties.score``, ``visual_authenticity.spoofing_detection.properties
  .score``, ``image_integrity``)

Call sequence: ``POST /applicants`` -> ``POST /documents`` (multipart, front and back) ->
``POST /live_photos``
(multipart, face_match and liveness) -> ``POST /checks`` with ``report_names`` ``["document"]`` or
``["facial_similarity_photo"]`` and ``document_ids`` -> ``GET /checks/{id}`` until ``status`` is
``complete`` (``options.poll_interval_s``, ``options.max_polls``) -> ``GET /reports/{id}``.

Onfido documents no idempotency key; our key travels in the check's ``tags`` so a duplicate can be found.
Decisions: document ``sub_result`` clear -> pass, caution -> review, suspected -> decline, rejected ->
unprocessable; facial similarity: ``image_integrity`` consider -> unprocessable, else the capability's
breakdown (``face_comparison`` for face_match, ``visual_authenticity`` for liveness) clear -> pass,
consider -> decline. Scores: the face match score as given (similarity), 1 - spoofing score (attack),
otherwise the decision on the capability's meaning. Reason codes: the dotted names of breakdowns whose
``result`` is ``consider`` (``visual_authenticity.original_document_present``).
Credentials (``credentials_env``): ``api_token``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import httpx

from openidv.vendors.adapters._http import MAX_WAIT_S, RateLimited, decision_score, field, json_object, send
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import Capability, VendorDecision, VendorFault, VendorOutcome, VendorRequest

DOCUMENT_TYPES = {
    "passport": "passport",
    "id_card": "national_identity_card",
    "driving_licence": "driving_licence",
    "residence_permit": "residence_permit",
}
SUB_RESULTS = {
    "clear": VendorDecision.PASS,
    "caution": VendorDecision.REVIEW,
    "suspected": VendorDecision.DECLINE,
    "rejected": VendorDecision.UNPROCESSABLE,
}


def considered(breakdown: Any, prefix: str = "") -> list[str]:
    """Dotted names of the breakdowns (at any depth) whose ``result`` is ``consider``."""
    out: list[str] = []
    if not isinstance(breakdown, dict):
        return out
    for name, node in breakdown.items():
        if not isinstance(node, dict):
            continue
        path = f"{prefix}{name}"
        if node.get("result") == "consider":
            out.append(path)
        out += considered(node.get("breakdown"), path + ".")
    return out


def _score(node: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return float(node) if isinstance(node, int | float) and 0.0 <= float(node) <= 1.0 else None


class OnfidoAdapter:
    kind: ClassVar[str] = "onfido"

    def __init__(self, name: str, config: VendorConfig) -> None:
        self.name = name
        self.config = config
        self.token = config.credentials(name).get("api_token", "")
        self.base = config.endpoint.rstrip("/")
        self.poll_interval_s = float(config.options.get("poll_interval_s", 2.0))
        self.max_polls = int(config.options.get("max_polls", 30))

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.token}"}

    async def _json(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await send(client, self.name, method, self.base + path, headers=self.auth, **kwargs)
        return json_object(response, self.name)

    async def call(self, request: VendorRequest, client: httpx.AsyncClient) -> VendorOutcome:
        started = time.perf_counter()
        if request.document_front is None:
            raise VendorFault(self.name, "config", "Onfido reports need a document image")
        if request.capability != Capability.DOCUMENT and request.selfie is None:
            raise VendorFault(self.name, "config", f"{request.capability} needs a selfie")
        applicant = await self._json(client, "POST", "/applicants", json=self.applicant_body(request))
        applicant_id = str(field(applicant, self.name, "id"))
        document_ids = [
            await self._upload_document(client, request, applicant_id, "front", request.document_front)
        ]
        if request.document_back is not None:
            document_ids.append(
                await self._upload_document(client, request, applicant_id, "back", request.document_back)
            )
        if request.capability != Capability.DOCUMENT:
            assert request.selfie is not None
            await self._json(
                client,
                "POST",
                "/live_photos",
                data={"applicant_id": applicant_id},
                files={"file": ("selfie.jpg", request.selfie, "image/jpeg")},
            )
        report = "document" if request.capability == Capability.DOCUMENT else "facial_similarity_photo"
        check_body = {
            "applicant_id": applicant_id,
            "report_names": [report],
            "document_ids": document_ids,
            "tags": [f"openidv:{request.idempotency_key}"[:128]],
        }
        check = await self._json(client, "POST", "/checks", json=check_body)
        check = await self._complete(client, check)
        report_ids = field(check, self.name, "report_ids")
        if not isinstance(report_ids, list) or not report_ids:
            raise VendorFault(self.name, "malformed", "check has no report_ids")
        answer = await self._json(client, "GET", f"/reports/{report_ids[0]}")
        return self.parse(request, answer, (time.perf_counter() - started) * 1000)

    def applicant_body(self, request: VendorRequest) -> dict[str, Any]:
        return {
            "first_name": request.declared.get("given_names") or "Unknown",
            "last_name": request.declared.get("surname") or "Unknown",
        }

    async def _upload_document(
        self, client: httpx.AsyncClient, request: VendorRequest, applicant_id: str, side: str, data: bytes
    ) -> str:
        form = {
            "applicant_id": applicant_id,
            "type": DOCUMENT_TYPES.get(request.document_type or "", "unknown"),
            "side": side,
        }
        if request.country and len(request.country) == 3:  # Onfido takes ISO 3166-1 alpha-3
            form["issuing_country"] = request.country.upper()
        uploaded = await self._json(
            client, "POST", "/documents", data=form, files={"file": (f"{side}.jpg", data, "image/jpeg")}
        )
        return str(field(uploaded, self.name, "id"))

    async def _complete(self, client: httpx.AsyncClient, check: dict[str, Any]) -> dict[str, Any]:
        check_id = str(field(check, self.name, "id"))
        for attempt in range(self.max_polls):
            if check.get("status") == "complete":
                return check
            if check.get("status") == "withdrawn":
                raise VendorFault(self.name, "malformed", f"check {check_id} was withdrawn")
            if attempt:
                await asyncio.sleep(self.poll_interval_s)
            try:
                check = await self._json(client, "GET", f"/checks/{check_id}")
            except RateLimited as exc:  # polling is idempotent: wait and poll again, keep the check
                await asyncio.sleep(min(exc.retry_after_s or self.poll_interval_s, MAX_WAIT_S))
        if check.get("status") == "complete":
            return check
        raise VendorFault(self.name, "timeout", f"check {check_id} not complete after {self.max_polls} polls")

    def parse(self, request: VendorRequest, report: dict[str, Any], latency_ms: float) -> VendorOutcome:
        """A completed report as our outcome; an unknown result is a malformed answer."""
        name = field(report, self.name, "name")
        breakdown = report.get("breakdown") or {}
        score: float | None = None
        if name == "document":
            decision = SUB_RESULTS.get(str(report.get("sub_result")))
            if decision is None and report.get("result") in ("clear", "consider"):
                decision = VendorDecision.PASS if report["result"] == "clear" else VendorDecision.REVIEW
        elif name == "facial_similarity_photo":
            part = "face_comparison" if request.capability == Capability.FACE_MATCH else "visual_authenticity"
            integrity = (breakdown.get("image_integrity") or {}).get("result")
            result = (breakdown.get(part) or {}).get("result") or report.get("result")
            decision = {"clear": VendorDecision.PASS, "consider": VendorDecision.DECLINE}.get(str(result))
            if integrity == "consider":
                decision = VendorDecision.UNPROCESSABLE
            if request.capability == Capability.FACE_MATCH:
                score = _score(breakdown, "face_comparison", "breakdown", "face_match", "properties", "score")
            else:
                spoof = _score(
                    breakdown, "visual_authenticity", "breakdown", "spoofing_detection", "properties", "score"
                )
                score = None if spoof is None else 1.0 - spoof
        else:
            raise VendorFault(self.name, "malformed", f"unexpected report {name!r}")
        if decision is None:
            raise VendorFault(
                self.name, "malformed", f"report {name}: unknown result {report.get('result')!r}"
            )
        if decision == VendorDecision.UNPROCESSABLE:
            score = None
        elif score is None:
            score = decision_score(request.capability, decision)
        return VendorOutcome(
            vendor=self.name,
            capability=request.capability,
            decision=decision,
            score=score,
            vendor_reason_codes=tuple(considered(breakdown)),
            latency_ms=latency_ms,
            cost=self.config.cost_per_call,
            raw=report,
            vendor_reference=str(report.get("id") or ""),
        )
