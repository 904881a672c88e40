"""Adapter for the simulated vendors (``openidv.vendors.simulated``): our request to their JSON, their
answer to our ``VendorOutcome``.

Their vocabulary is not ours, on purpose: ``result`` is ``clear | consider | rejected | unprocessable``,
``score`` is 0-100 confidence that the input is genuine (for every check type), and reasons are dotted codes
(``doc.tampered``, ``face.mismatch``...). Normalising maps the result to ``VendorDecision`` and the score to
the capability's meaning: similarity (face_match) is ``score / 100``, attack (document, liveness) is
``1 - score / 100``. Reason codes stay the vendor's; ``normalise`` maps them with vendors.yaml's
``reason_codes``.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import httpx

from openidv.results import Meaning
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import MEANING, VendorDecision, VendorFault, VendorOutcome, VendorRequest

RESULTS = {
    "clear": VendorDecision.PASS,
    "consider": VendorDecision.REVIEW,
    "rejected": VendorDecision.DECLINE,
    "unprocessable": VendorDecision.UNPROCESSABLE,
}


class SimulatedAdapter:
    kind: ClassVar[str] = "simulated"

    def __init__(self, name: str, config: VendorConfig) -> None:
        self.name = name
        self.config = config
        self.url = config.endpoint.rstrip("/") + "/v1/checks"
        self._credentials = config.credentials(name) if config.credentials_env else {}

    def body(self, request: VendorRequest) -> dict[str, Any]:
        images = {
            key: base64.b64encode(blob).decode("ascii")
            for key, blob in (
                ("document_front", request.document_front),
                ("document_back", request.document_back),
                ("selfie", request.selfie),
            )
            if blob
        }
        body: dict[str, Any] = {
            "type": str(request.capability),
            "images": images,
            "country": request.country,
            "document_type": request.document_type,
            "channel": request.channel,
        }
        truth = request.metadata.get("ground_truth")
        if truth in ("genuine", "attack"):
            body["labels"] = {"ground_truth": truth}
        return body

    async def call(self, request: VendorRequest, client: httpx.AsyncClient) -> VendorOutcome:
        headers = {"Idempotency-Key": request.idempotency_key}
        if "api_key" in self._credentials:
            headers["Authorization"] = f"Bearer {self._credentials['api_key']}"
        response = await client.post(
            self.url, json=self.body(request), headers=headers, timeout=self.config.timeout_s
        )
        status = response.status_code
        if status == 429:
            raise VendorFault(self.name, "rate_limited", "HTTP 429")
        if status >= 500:
            raise VendorFault(self.name, "http_5xx", f"HTTP {status}")
        if status in (401, 403):
            raise VendorFault(self.name, "auth", f"HTTP {status}")
        if status >= 400:
            raise VendorFault(self.name, "config", f"HTTP {status}: {response.text[:200]}")
        try:
            raw = response.json()
            decision = RESULTS[raw["result"]]
            score = raw.get("score")
            reasons = tuple(str(r) for r in raw.get("reasons") or ())
            reference = str(raw["id"])
        except (ValueError, KeyError, TypeError):
            raise VendorFault(self.name, "malformed", response.text[:200]) from None
        return VendorOutcome(
            vendor=self.name,
            capability=request.capability,
            decision=decision,
            score=_our_score(score, MEANING[request.capability]),
            vendor_reason_codes=reasons,
            raw=raw,
            vendor_reference=reference,
        )


def _our_score(score: Any, meaning: Meaning) -> float | None:
    """Their 0-100 "genuine" confidence on our scale for the capability's meaning."""
    if not isinstance(score, int | float):
        return None
    genuine = min(1.0, max(0.0, float(score) / 100.0))
    return round(genuine if meaning == Meaning.SIMILARITY else 1.0 - genuine, 6)
