"""Calling a vendor on every row of an owned labelled set: the calling half of ``openidv vendors benchmark``.

Why here and not in ``openidv.eval``: calling vendors is product code (adapters, faults, cost) that the
evaluation layer above uses; this module knows nothing about manifests or metrics. It takes prepared
``VendorRequest`` rows, calls the adapter on each with bounded concurrency over one shared
``httpx.AsyncClient``, applies the vendor's configured timeout and retries, and records per row what
happened. A technical fault is a row with status ``error`` (excluded from error rates), never a crash; a
vendor's "cannot process" is ``failed_to_acquire`` (it counts against the vendor, as the standards say).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import VendorAdapter, VendorDecision, VendorFault, VendorOutcome, VendorRequest

#: fault kinds worth another attempt (the others will fail the same way again)
RETRYABLE = frozenset({"timeout", "connection", "http_5xx", "rate_limited"})
#: never wait longer than this for a vendor's Retry-After inside a benchmark
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class RowResult:
    """One row's answer: ``status`` is ``ok``, ``failed_to_acquire`` or ``error`` (a technical fault)."""

    id: str
    status: str
    score: float | None
    detail: str
    latency_ms: float
    cost: float = 0.0
    decision: str | None = None
    fault: str | None = None
    attempts: int = 1


@dataclass(frozen=True)
class VendorRun:
    """Every row's result for one vendor and capability, plus what it cost and how long it took."""

    vendor: str
    adapter: str
    rows: list[RowResult] = field(default_factory=list)
    currency: str = "EUR"

    def summary(self) -> dict[str, Any]:
        """Calls, faults by kind, decisions, cost (total and per billed call) and latency percentiles."""
        answered = [r for r in self.rows if r.fault is None]
        latencies = sorted(r.latency_ms for r in answered)
        total = sum(r.cost for r in self.rows)
        return {
            "calls": len(self.rows),
            "answered": len(answered),
            "attempts": sum(r.attempts for r in self.rows),
            "faults": dict(sorted(Counter(r.fault for r in self.rows if r.fault).items())),
            "decisions": dict(sorted(Counter(r.decision for r in answered if r.decision).items())),
            "cost": {
                "currency": self.currency,
                "total": round(total, 6),
                "per_call": round(total / len(answered), 6) if answered else None,
                "n": len(answered),
                "note": "vendor-reported cost of answered calls (configured cost_per_call when the API "
                "reports none); faulted calls are not counted",
            },
            "latency_ms": {
                "p50": percentile(latencies, 50),
                "p95": percentile(latencies, 95),
                "p99": percentile(latencies, 99),
                "n": len(latencies),
                "note": "wall-clock per row on answered calls, retries and polling included",
            },
        }


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    value = sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
    return round(value, 3)


async def call_with_retries(
    adapter: VendorAdapter, config: VendorConfig, request: VendorRequest, client: httpx.AsyncClient
) -> tuple[VendorOutcome, int]:
    """One request under the vendor's ``timeout_s`` per attempt and ``retries`` on retryable faults
    (``backoff_s`` doubling, or the vendor's ``Retry-After`` up to 30 s). Returns the outcome and the
    attempts used; raises the last ``VendorFault``."""
    attempt = 0
    while True:
        attempt += 1
        try:
            outcome = await asyncio.wait_for(adapter.call(request, client), timeout=config.timeout_s)
            return outcome, attempt
        except TimeoutError:
            fault = VendorFault(adapter.name, "timeout", f"no answer within {config.timeout_s}s")
        except VendorFault as exc:
            fault = exc
        if fault.kind not in RETRYABLE or attempt > config.retries:
            fault.attempts = attempt  # type: ignore[attr-defined]
            raise fault
        wait = config.backoff_s * (2 ** (attempt - 1))
        hinted = getattr(fault, "retry_after_s", None)
        if isinstance(hinted, int | float):
            wait = min(float(hinted), MAX_RETRY_AFTER_S)
        await asyncio.sleep(wait)


async def _one(
    adapter: VendorAdapter,
    config: VendorConfig,
    row_id: str,
    request: VendorRequest | None,
    client: httpx.AsyncClient,
    gate: asyncio.Semaphore,
) -> RowResult:
    if request is None:
        return RowResult(
            row_id,
            "error",
            None,
            "not served: outside the vendor's configured coverage",
            0.0,
            fault="not_served",
            attempts=0,
        )
    async with gate:
        started = time.perf_counter()
        try:
            outcome, attempts = await call_with_retries(adapter, config, request, client)
        except VendorFault as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return RowResult(
                row_id,
                "error",
                None,
                f"vendor fault {exc}",
                elapsed,
                fault=exc.kind,
                attempts=getattr(exc, "attempts", 1),
            )
        elapsed = (time.perf_counter() - started) * 1000
    codes = ";".join(outcome.vendor_reason_codes)
    cost = outcome.cost or config.cost_per_call
    if outcome.decision == VendorDecision.UNPROCESSABLE:
        return RowResult(
            row_id, "failed_to_acquire", None, codes, elapsed, cost, outcome.decision.value, attempts=attempts
        )
    if outcome.score is None or not math.isfinite(outcome.score):
        return RowResult(
            row_id,
            "error",
            None,
            f"{outcome.decision.value} without a score",
            elapsed,
            cost,
            outcome.decision.value,
            fault="malformed",
            attempts=attempts,
        )
    return RowResult(
        row_id, "ok", float(outcome.score), codes, elapsed, cost, outcome.decision.value, attempts=attempts
    )


async def run_vendor(
    adapter: VendorAdapter,
    config: VendorConfig,
    requests: Sequence[tuple[str, VendorRequest | None]],
    client: httpx.AsyncClient,
    *,
    concurrency: int = 8,
) -> VendorRun:
    """Call ``adapter`` on every (row id, request); a None request is a row the vendor does not serve."""
    gate = asyncio.Semaphore(max(1, concurrency))
    rows = await asyncio.gather(*(_one(adapter, config, rid, req, client, gate) for rid, req in requests))
    return VendorRun(adapter.name, config.adapter, list(rows), config.currency)
