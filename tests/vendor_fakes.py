"""In-process fakes of *vendors* (not of the router): they honour ``CallableVendor`` and count calls."""

from __future__ import annotations

import asyncio
from typing import Any

from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import (
    Capability,
    VendorDecision,
    VendorFault,
    VendorOutcome,
    VendorRequest,
)


def config(cost: float = 0.5, **kw: Any) -> VendorConfig:
    kw.setdefault("capabilities", ("document", "face_match", "liveness"))
    return VendorConfig(adapter="fake", endpoint="http://127.0.0.1:1", cost_per_call=cost, **kw)


class FakeVendor:
    """Answers ``decision`` (or raises a ``VendorFault`` of kind ``fault``) after ``delay_s``."""

    def __init__(
        self,
        name: str,
        cost: float = 0.5,
        *,
        decision: VendorDecision = VendorDecision.PASS,
        score: float | None = 0.2,
        fault: str | None = None,
        delay_s: float = 0.0,
        state: str = "closed",
        codes: tuple[str, ...] = (),
        **config_kw: Any,
    ) -> None:
        self.name = name
        self.config = config(cost, **config_kw)
        self.decision = decision
        self.score = score
        self.fault = fault
        self.delay_s = delay_s
        self.state = state
        self.codes = codes
        self.calls: list[VendorRequest] = []

    async def call(self, request: VendorRequest) -> VendorOutcome:
        self.calls.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fault:
            raise VendorFault(self.name, self.fault)
        return VendorOutcome(
            vendor=self.name,
            capability=request.capability,
            decision=self.decision,
            score=self.score,
            vendor_reason_codes=self.codes,
            cost=self.config.cost_per_call,
        )


def request(
    capability: Capability = Capability.DOCUMENT,
    country: str | None = "GB",
    document_type: str | None = "passport",
    key: str = "k",
) -> VendorRequest:
    return VendorRequest(
        capability=capability,
        idempotency_key=key,
        tenant="t",
        country=country,
        document_type=document_type,
    )
