"""``SingleVendorRouter``: the smallest real ``VendorRouting``: every request goes to one configured vendor.

It is what the vendor checks are tested with, and what ``Services.open`` builds from ``OPENIDV_VENDORS``
until the full router (routing by slice, failover, shadow calls, consensus) replaces it. It calls the
vendor through ``ResilientVendor`` on the process's ``VendorRuntime``, normalises the outcome with the
configured reason-code map, remembers every call for the audit log (``VendorCallLog``), and turns a
``VendorFault`` into an ``error`` result with ``VENDOR_UNAVAILABLE`` (the policy sends it to review).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.crypto import KeyRing
from openidv.errors import ConfigurationError
from openidv.results import CheckResult, Status
from openidv.vendors.adapters import build_adapter
from openidv.vendors.audit import CallRecord, VendorCallLog
from openidv.vendors.client import CallFault, ResilientVendor, VendorRuntime
from openidv.vendors.config import VendorConfig, VendorsFile, load_vendors
from openidv.vendors.protocol import MEANING, Capability, VendorFault, VendorRequest, normalise

#: the check that asks for each capability (results carry its name)
CHECK_NAMES = {
    Capability.DOCUMENT: "vendor_document",
    Capability.FACE_MATCH: "vendor_face_match",
    Capability.LIVENESS: "vendor_liveness",
}
CHECK_VERSION = "1.0.0"


def unavailable(request: VendorRequest, detail: dict[str, Any]) -> CheckResult:
    """The result when no vendor could judge: ``error`` with ``VENDOR_UNAVAILABLE`` (never approve)."""
    return CheckResult(
        check=CHECK_NAMES[request.capability],
        version=CHECK_VERSION,
        status=Status.ERROR,
        score=None,
        meaning=MEANING[request.capability],
        reason_codes=("VENDOR_UNAVAILABLE",),
        details=detail,
    )


class SingleVendorRouter:
    """Routes every request to ``vendor``; the ``vendor_router`` service when one vendor is enough."""

    def __init__(
        self,
        name: str,
        config: VendorConfig,
        runtime: VendorRuntime,
        *,
        log: VendorCallLog | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime
        adapter = build_adapter(name, config)
        self.vendor: ResilientVendor = (
            runtime.vendor(adapter, config) if clock is None else runtime.vendor(adapter, config, clock=clock)
        )
        self.log = log

    @classmethod
    def from_file(
        cls,
        vendors: VendorsFile,
        runtime: VendorRuntime,
        *,
        vendor: str | None = None,
        log: VendorCallLog | None = None,
    ) -> SingleVendorRouter:
        name = vendor or next(iter(vendors.vendors))
        if name not in vendors.vendors:
            raise ConfigurationError(f"vendors: no vendor named {name!r}")
        return cls(name, vendors.vendors[name], runtime, log=log)

    def decide(self, request: VendorRequest) -> CheckResult:
        routing = {"router": "single", "vendor": self.name, "role": "primary"}
        if request.capability not in self.config.capabilities:
            return unavailable(request, {**routing, "fault": "config", "error": "the vendor lacks it"})
        try:
            outcome = self.runtime.call(self.vendor, request)
        except (VendorFault, concurrent.futures.TimeoutError) as exc:
            fault = exc if isinstance(exc, VendorFault) else VendorFault(self.name, "timeout", "runtime wait")
            if self.log is not None:
                self.log.remember(
                    request.idempotency_key, CallRecord.of_fault(request, fault, role="primary")
                )
            detail: dict[str, Any] = {**routing, "fault": fault.kind}
            if isinstance(fault, CallFault):
                detail.update(attempts=fault.attempts, cost=fault.cost)
            return unavailable(request, detail)
        result = normalise(
            outcome,
            check=CHECK_NAMES[request.capability],
            version=CHECK_VERSION,
            reason_map=self.config.reason_codes,
            routing=routing,
        )
        if self.log is not None:
            self.log.remember(
                request.idempotency_key, CallRecord.of_outcome(request, outcome, result, role="primary")
            )
        return result

    def apply_follow_up(self, follow_up: FollowUp, *, reference: str, session: Session, tenant: str) -> None:
        if self.log is not None:
            self.log.apply_follow_up(follow_up, reference=reference, session=session, tenant=tenant)

    def breakers(self) -> dict[str, dict[str, Any]]:
        return {self.name: self.vendor.breaker.snapshot()}


def router_from_file(path: str | Path, keyring: KeyRing | Callable[[], KeyRing]) -> SingleVendorRouter:
    """The ``vendor_router`` service for ``OPENIDV_VENDORS`` (one runtime for the process)."""
    vendors = load_vendors(path)
    return SingleVendorRouter.from_file(vendors, VendorRuntime(), log=VendorCallLog(keyring))
