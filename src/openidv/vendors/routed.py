"""The ``vendor_router`` service that ``Services.open`` builds from ``OPENIDV_VENDORS``: the full ``Router``
(floors from the benchmark's scorecard, cost and latency, exploration, failover on faults only, shadow
calls, consensus) over ``ResilientVendor`` clients on one ``VendorRuntime``, with every call it makes
(routed, failover, shadow, consensus) remembered for the sealed audit table (``VendorCallLog``), written
when the verification commits (the vendor check's follow-up)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.crypto import KeyRing
from openidv.results import CheckResult
from openidv.vendors.adapters import build_adapter
from openidv.vendors.audit import CallRecord, VendorCallLog
from openidv.vendors.client import ResilientVendor, VendorRuntime
from openidv.vendors.config import VendorsFile, load_vendors
from openidv.vendors.drift import DriftMonitor
from openidv.vendors.protocol import VendorFault, VendorOutcome, VendorRequest, normalise
from openidv.vendors.router import Router
from openidv.vendors.scorecard import Scorecard
from openidv.vendors.single import CHECK_NAMES, CHECK_VERSION


class RoutedVendors:
    """``decide`` through the router; ``apply_follow_up`` writes the remembered calls (sealed)."""

    def __init__(
        self, vendors: VendorsFile, runtime: VendorRuntime, log: VendorCallLog, scorecard: Scorecard | None
    ):
        self.vendors = vendors
        self.runtime = runtime
        self.log = log
        self.clients: dict[str, ResilientVendor] = {
            name: runtime.vendor(build_adapter(name, config), config)
            for name, config in vendors.vendors.items()
        }
        #: pass rates and score distributions per vendor, capability and country, from every answer
        self.drift = DriftMonitor(scorecard)
        self.router = Router(
            self.clients,
            vendors.routing,
            scorecard,
            runner=runtime.run,
            on_call=self._remember,
            sink=self.drift,
        )

    def _remember(
        self,
        role: str,
        request: VendorRequest,
        answer: VendorOutcome | VendorFault,
        result: CheckResult | None,
    ) -> None:
        if isinstance(answer, VendorFault):
            self.log.remember(request.idempotency_key, CallRecord.of_fault(request, answer, role=role))
            return
        if result is None:  # a shadow or consensus answer: normalised here for the record only
            config = self.vendors.vendors[answer.vendor]
            result = normalise(
                answer,
                check=CHECK_NAMES[request.capability],
                version=CHECK_VERSION,
                reason_map=config.reason_codes,
            )
        self.log.remember(request.idempotency_key, CallRecord.of_outcome(request, answer, result, role=role))

    def decide(self, request: VendorRequest) -> CheckResult:
        return self.router.decide(request)

    def apply_follow_up(self, follow_up: FollowUp, *, reference: str, session: Session, tenant: str) -> None:
        self.log.apply_follow_up(follow_up, reference=reference, session=session, tenant=tenant)

    def breakers(self) -> dict[str, dict[str, Any]]:
        return {name: client.breaker.snapshot() for name, client in self.clients.items()}

    def status(self) -> dict[str, Any]:
        """What an operator watches (``GET /v1/vendors/status``): each vendor's circuit, measured median
        latency, cost and what it serves; standing drift alerts and every drift monitor's state."""
        vendors = {
            name: {
                "circuit": client.breaker.snapshot(),
                "p50_latency_ms": self.router.p50_ms(name),
                "cost_per_call": client.config.cost_per_call,
                "currency": client.config.currency,
                "capabilities": [str(c) for c in client.config.capabilities],
                "countries": list(client.config.countries),
                "document_types": list(client.config.document_types),
                "shadow": name in self.vendors.routing.shadow,
            }
            for name, client in self.clients.items()
        }
        return {
            "vendors": vendors,
            "drift": {
                "alerts": [alert.as_dict() for alert in self.drift.status()],
                "flagged_vendors": self.drift.flagged_vendors(),
                "monitors": self.drift.snapshot(),
            },
        }


def router_from_file(path: str | Path, keyring: KeyRing | Callable[[], KeyRing]) -> RoutedVendors:
    """The service for ``OPENIDV_VENDORS``: the scorecard named by ``routing.benchmark`` is read relative
    to the vendors file (no scorecard: floors exclude every floored vendor, and say so)."""
    path = Path(path)
    vendors = load_vendors(path)
    scorecard = None
    if vendors.routing.benchmark:
        scorecard = Scorecard.load(path.parent / vendors.routing.benchmark)
    return RoutedVendors(vendors, VendorRuntime(), VendorCallLog(keyring), scorecard)
