"""The ``vendor_router`` service that ``Services.open`` builds from ``OPENIDV_VENDORS``: the full ``Router``
(floors from the benchmark's scorecard, cost and latency, exploration, failover on faults only, shadow
calls, consensus) over ``ResilientVendor`` clients on one ``VendorRuntime``, with every call it makes
(routed, failover, shadow, consensus) remembered for the sealed audit table (``VendorCallLog``), written
when the verification commits (the vendor check's follow-up).

Given the store's engine, it replays the recent stored answers into its drift monitor when built (a restart
keeps alarms and CUSUM state) and applies drift resets recorded by ``openidv vendors rebenchmark``: it reads
the small ``vendor_drift_resets`` table at most every ``reset_poll_s`` seconds, from ``decide`` and
``status``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.crypto import KeyRing
from openidv.results import CheckResult
from openidv.store.vendor_call_store import drift_resets
from openidv.vendors.adapters import build_adapter
from openidv.vendors.audit import CallRecord, VendorCallLog
from openidv.vendors.client import ResilientVendor, VendorRuntime
from openidv.vendors.config import VendorsFile, load_vendors
from openidv.vendors.drift import DriftMonitor, replay_stored
from openidv.vendors.protocol import VendorFault, VendorOutcome, VendorRequest, normalise
from openidv.vendors.router import Router
from openidv.vendors.scorecard import Scorecard
from openidv.vendors.single import CHECK_NAMES, CHECK_VERSION

_log = logging.getLogger(__name__)

#: how far back a running service looks for resets it has not applied (clock skew between hosts)
_RESET_LOOKBACK = timedelta(hours=1)


class RoutedVendors:
    """``decide`` through the router; ``apply_follow_up`` writes the remembered calls (sealed).

    ``engine``: the store's, for the drift replay at start (the last ``replay_limit`` answered calls of the
    last ``replay_days`` days) and for resets recorded by other processes; None: drift in memory only."""

    def __init__(
        self,
        vendors: VendorsFile,
        runtime: VendorRuntime,
        log: VendorCallLog,
        scorecard: Scorecard | None,
        *,
        engine: Engine | None = None,
        replay_days: float = 30.0,
        replay_limit: int = 50_000,
        reset_poll_s: float = 5.0,
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
        self.engine = engine
        self.reset_poll_s = reset_poll_s
        self._reset_lock = threading.Lock()
        self._reset_polled = -float("inf")
        self._newest_reset: datetime | None = None
        self.replay: dict[str, Any] = {
            "replayed": 0,
            "days": replay_days,
            "limit": replay_limit,
            "error": None,
        }
        if engine is not None:
            try:
                self.replay["replayed"] = replay_stored(
                    self.drift, engine, days=replay_days, limit=replay_limit
                )
                self._reset_polled = time.monotonic()
            except Exception as exc:  # monitoring must not keep the service from starting; status says so
                _log.warning("vendor drift replay failed, monitors start afresh: %s", exc)
                self.replay["error"] = f"{type(exc).__name__}: {exc}"[:300]

    def sync_resets(self, *, force: bool = False) -> int:
        """Apply drift resets recorded since the last look (at most every ``reset_poll_s`` seconds unless
        ``force``); returns how many were applied now. A failed read is logged and retried later."""
        if self.engine is None:
            return 0
        now = time.monotonic()
        if not force and now - self._reset_polled < self.reset_poll_s:
            return 0
        if not self._reset_lock.acquire(blocking=force):
            return 0  # another thread is reading them
        try:
            self._reset_polled = now
            after = None if self._newest_reset is None else self._newest_reset - _RESET_LOOKBACK
            resets = drift_resets(self.engine, after=after)
            if resets:
                newest = max(r.reset_at for r in resets)
                self._newest_reset = max(newest, self._newest_reset or newest)
            applied = self.drift.apply_resets(resets)
            for r in applied:
                _log.info(
                    "vendor drift reset applied: %s %s %s (%s)", r.vendor, r.capability, r.country, r.id
                )
            return len(applied)
        except Exception as exc:
            _log.warning("vendor drift resets unreadable: %s", exc)
            return 0
        finally:
            self._reset_lock.release()

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
        self.sync_resets()
        return self.router.decide(request)

    def apply_follow_up(self, follow_up: FollowUp, *, reference: str, session: Session, tenant: str) -> None:
        self.log.apply_follow_up(follow_up, reference=reference, session=session, tenant=tenant)

    def breakers(self) -> dict[str, dict[str, Any]]:
        return {name: client.breaker.snapshot() for name, client in self.clients.items()}

    def status(self) -> dict[str, Any]:
        """What an operator watches (``GET /v1/vendors/status``): each vendor's circuit, measured median
        latency, cost and what it serves; standing drift alerts and every drift monitor's state (after
        applying resets recorded since the last look), and what the start-up replay fed."""
        self.sync_resets()
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
                "replay": dict(self.replay),
                "resets_applied": self.drift.applied_resets(),
            },
        }


def scorecard_of(path: str | Path, vendors: VendorsFile) -> Scorecard | None:
    """The scorecard ``routing.benchmark`` names, relative to the vendors file (None when it names none)."""
    if not vendors.routing.benchmark:
        return None
    return Scorecard.load(Path(path).parent / vendors.routing.benchmark)


def router_from_file(
    path: str | Path,
    keyring: KeyRing | Callable[[], KeyRing],
    *,
    engine: Engine | None = None,
    replay_days: float = 30.0,
    replay_limit: int = 50_000,
) -> RoutedVendors:
    """The service for ``OPENIDV_VENDORS``: the scorecard named by ``routing.benchmark`` is read relative
    to the vendors file (no scorecard: floors exclude every floored vendor, and say so). With the store's
    ``engine`` the drift monitors replay stored answers and follow recorded resets."""
    vendors = load_vendors(path)
    return RoutedVendors(
        vendors,
        VendorRuntime(),
        VendorCallLog(keyring),
        scorecard_of(path, vendors),
        engine=engine,
        replay_days=replay_days,
        replay_limit=replay_limit,
    )
