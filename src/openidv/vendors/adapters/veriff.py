"""Veriff (https://stationapi.veriff.com/v1): sessions uploaded through the API, decision polled.

**Written from Veriff's public documentation; untested against the live service.** Pages used:

- Decision: https://devdocs.veriff.com/apidocs/v1sessionsiddecision-1 (``GET /v1/sessions/{id}/decision``,
  ``verification`` null until decided, ``status``, ``code`` 9001/9102/9103/9104/9121, ``reason``,
  ``reasonCode``)
- Decision codes: https://devdocs.veriff.com/docs/verification-session-decision-codes-table
- Status codes: https://devdocs.veriff.com/docs/verification-session-status-codes-table
- Signing: https://devdocs.veriff.com/docs/general-faq (``X-HMAC-SIGNATURE``: hex HMAC-SHA256 with the
  shared secret of the raw body for POST/PATCH, of the session id for GET/DELETE; ``POST /sessions`` needs
  only ``X-AUTH-CLIENT``)

Call sequence for one request: ``POST /v1/sessions`` (``vendorData`` carries our idempotency key: Veriff
documents no idempotency header, so a retried call opens a new session) -> ``POST /v1/sessions/{id}/media``
per image (``context`` ``document-front``, ``document-back``, ``face``) -> ``PATCH /v1/sessions/{id}``
``{"verification": {"status": "submitted"}}`` -> ``GET /v1/sessions/{id}/decision`` until ``verification``
is not null (``options.poll_interval_s``, ``options.max_polls``; a 429 on a poll waits ``Retry-After``
(at most 30 s) and polls again, since a new session would be billed again).

Veriff answers a session-level decision without a score, so the score is the decision on the capability's
meaning (``decision_score``): approved -> pass, declined -> decline, review -> review,
resubmission_requested / expired / abandoned -> unprocessable (a failure to acquire, not a fault).
Credentials (``credentials_env``): ``api_key`` (X-AUTH-CLIENT) and ``shared_secret``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

import httpx

from openidv.vendors.adapters._http import MAX_WAIT_S, RateLimited, decision_score, field, json_object, send
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import Capability, VendorDecision, VendorFault, VendorOutcome, VendorRequest

DECISIONS = {
    "approved": VendorDecision.PASS,
    "declined": VendorDecision.DECLINE,
    "review": VendorDecision.REVIEW,
    "resubmission_requested": VendorDecision.UNPROCESSABLE,
    "expired": VendorDecision.UNPROCESSABLE,
    "abandoned": VendorDecision.UNPROCESSABLE,
}
DOCUMENT_TYPES = {
    "passport": "PASSPORT",
    "id_card": "ID_CARD",
    "driving_licence": "DRIVERS_LICENSE",
    "residence_permit": "RESIDENCE_PERMIT",
}


def signature(secret: str, payload: bytes) -> str:
    """Veriff's ``X-HMAC-SIGNATURE``: hex HMAC-SHA256 of ``payload`` keyed with the shared secret."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def images(request: VendorRequest) -> list[tuple[str, bytes]]:
    """The media to upload for the capability, as (Veriff context, bytes)."""
    wanted: list[tuple[str, bytes | None]] = []
    if request.capability in (Capability.DOCUMENT, Capability.FACE_MATCH):
        wanted += [("document-front", request.document_front), ("document-back", request.document_back)]
    if request.capability in (Capability.FACE_MATCH, Capability.LIVENESS):
        wanted.append(("face", request.selfie))
    return [(context, data) for context, data in wanted if data]


class VeriffAdapter:
    kind: ClassVar[str] = "veriff"

    def __init__(self, name: str, config: VendorConfig) -> None:
        self.name = name
        self.config = config
        creds = config.credentials(name)
        self.api_key = creds.get("api_key", "")
        self.secret = creds.get("shared_secret", "")
        self.base = config.endpoint.rstrip("/")
        self.poll_interval_s = float(config.options.get("poll_interval_s", 2.0))
        self.max_polls = int(config.options.get("max_polls", 30))

    def _headers(self, signed: bytes | None) -> dict[str, str]:
        headers = {"X-AUTH-CLIENT": self.api_key, "Content-Type": "application/json"}
        if signed is not None:
            headers["X-HMAC-SIGNATURE"] = signature(self.secret, signed)
        return headers

    async def _post(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any, sign: bool
    ) -> dict[str, Any]:
        raw = json.dumps(body, separators=(",", ":")).encode()
        response = await send(
            client,
            self.name,
            method,
            self.base + path,
            content=raw,
            headers=self._headers(raw if sign else None),
        )
        return json_object(response, self.name)

    def session_body(self, request: VendorRequest) -> dict[str, Any]:
        verification: dict[str, Any] = {"vendorData": request.idempotency_key}
        document: dict[str, str] = {}
        if request.country:
            document["country"] = request.country.upper()
        if request.document_type in DOCUMENT_TYPES:
            document["type"] = DOCUMENT_TYPES[request.document_type]
        if document:
            verification["document"] = document
        person = {
            key: request.declared[ours]
            for key, ours in (("firstName", "given_names"), ("lastName", "surname"))
            if request.declared.get(ours)
        }
        if person:
            verification["person"] = person
        return {"verification": verification}

    async def call(self, request: VendorRequest, client: httpx.AsyncClient) -> VendorOutcome:
        started = time.perf_counter()
        created = await self._post(client, "POST", "/v1/sessions", self.session_body(request), sign=False)
        session_id = str(field(created, self.name, "verification", "id"))
        media = images(request)
        if not media:
            raise VendorFault(self.name, "config", f"no image for capability {request.capability}")
        for context, data in media:
            body = {"image": {"context": context, "content": base64.b64encode(data).decode("ascii")}}
            await self._post(client, "POST", f"/v1/sessions/{session_id}/media", body, sign=True)
        submit = {"verification": {"status": "submitted"}}
        await self._post(client, "PATCH", f"/v1/sessions/{session_id}", submit, sign=True)
        answer = await self._decision(client, session_id)
        return self.parse(request, answer, session_id, (time.perf_counter() - started) * 1000)

    async def _decision(self, client: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
        url = f"{self.base}/v1/sessions/{session_id}/decision"
        for attempt in range(self.max_polls):
            try:
                response = await send(
                    client, self.name, "GET", url, headers=self._headers(session_id.encode())
                )
            except RateLimited as exc:  # the poll is idempotent: wait and poll again, keep the session
                if attempt + 1 >= self.max_polls:
                    raise
                await asyncio.sleep(min(exc.retry_after_s or self.poll_interval_s, MAX_WAIT_S))
                continue
            answer = json_object(response, self.name)
            if answer.get("verification") is not None:
                return answer
            if attempt + 1 < self.max_polls:
                await asyncio.sleep(self.poll_interval_s)
        raise VendorFault(self.name, "timeout", f"no decision after {self.max_polls} polls")

    def parse(
        self, request: VendorRequest, answer: dict[str, Any], session_id: str, latency_ms: float
    ) -> VendorOutcome:
        """The decision payload as our outcome; an unknown status is a malformed answer."""
        verification = field(answer, self.name, "verification")
        status = (
            str(field(answer, self.name, "verification", "status")) if isinstance(verification, dict) else ""
        )
        decision = DECISIONS.get(status)
        if decision is None:
            raise VendorFault(self.name, "malformed", f"unknown verification.status {status!r}")
        code = verification.get("reasonCode")
        return VendorOutcome(
            vendor=self.name,
            capability=request.capability,
            decision=decision,
            score=decision_score(request.capability, decision),
            vendor_reason_codes=() if code in (None, "") else (str(code),),
            latency_ms=latency_ms,
            cost=self.config.cost_per_call,
            raw=answer,
            vendor_reference=str(verification.get("id") or session_id),
        )
