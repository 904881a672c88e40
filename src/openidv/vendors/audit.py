"""Audit copies of vendor calls: kept in memory when made, written sealed when the verification is stored.

Why in two steps: a check writes nothing (its verification may fail, or never be stored), yet the vendor's
raw answer must not travel in the check's result (which is stored in the clear-ish details and returned to
callers). So whoever calls vendors (the router) ``remember``s each call under the request's idempotency
key, and the vendor checks' ``RecordVendorCalls`` follow-up makes ``apply_follow_up`` write those records,
raw answers sealed with the key ring, in the transaction that stores the verification (rejected ones too).
Records of verifications that are never stored are dropped after ``ttl_s`` or when more than ``max_keys``
keys wait: the buffer is bounded, whatever happens to requests.

Any router (``SingleVendorRouter``, the real router) owns one ``VendorCallLog`` and delegates its
``apply_follow_up`` to it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.checks.vendor import RecordVendorCalls
from openidv.crypto import KeyRing
from openidv.results import CheckResult
from openidv.store.vendor_call_store import add_call
from openidv.store.vendor_call_tables import VendorCall
from openidv.vendors.client import CallFault
from openidv.vendors.protocol import VendorFault, VendorOutcome, VendorRequest


@dataclass(frozen=True)
class CallRecord:
    """One call to one vendor as the audit log keeps it."""

    vendor: str
    capability: str
    idempotency_key: str
    tenant: str
    decision: str | None  # None: the call failed (``fault``)
    reason_codes: tuple[str, ...]
    latency_ms: float
    cost: float
    attempts: int
    fault: str | None = None
    vendor_reference: str | None = None
    raw: Any = None
    role: str | None = None  # primary, failover, shadow, consensus...
    #: the request's routing keys and the vendor's normalised score: what drift monitors replay at start
    country: str | None = None
    document_type: str | None = None
    score: float | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of_outcome(
        cls, request: VendorRequest, outcome: VendorOutcome, result: CheckResult, *, role: str | None = None
    ) -> CallRecord:
        return cls(
            vendor=outcome.vendor,
            capability=str(request.capability),
            idempotency_key=request.idempotency_key,
            tenant=request.tenant,
            decision=str(outcome.decision),
            reason_codes=result.reason_codes,
            latency_ms=round(outcome.latency_ms, 3),
            cost=outcome.cost,
            attempts=outcome.attempts,
            vendor_reference=outcome.vendor_reference,
            raw=outcome.raw,
            role=role,
            country=_country(request.country),
            document_type=(request.document_type or None) and request.document_type[:32],
            score=None if outcome.score is None else float(outcome.score),
        )

    @classmethod
    def of_fault(cls, request: VendorRequest, fault: VendorFault, *, role: str | None = None) -> CallRecord:
        failed = fault if isinstance(fault, CallFault) else None
        return cls(
            vendor=fault.vendor,
            capability=str(request.capability),
            idempotency_key=request.idempotency_key,
            tenant=request.tenant,
            decision=None,
            reason_codes=("VENDOR_UNAVAILABLE",),
            latency_ms=round(failed.latency_ms, 3) if failed else 0.0,
            cost=failed.cost if failed else 0.0,
            attempts=failed.attempts if failed else 0,
            fault=fault.kind,
            raw={"fault": fault.kind, "detail": fault.detail[:500]},
            role=role,
            country=_country(request.country),
            document_type=(request.document_type or None) and request.document_type[:32],
        )


def _country(country: str | None) -> str | None:
    """Upper-cased as the drift monitors key it."""
    return country.upper()[:8] if country else None


class VendorCallLog:
    """Pending call records by the check's call key, written by ``apply_follow_up``.

    ``keyring``: the store's key ring, or a callable returning it (read on the first write)."""

    def __init__(
        self,
        keyring: KeyRing | Callable[[], KeyRing],
        *,
        max_keys: int = 10_000,
        ttl_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keyring = keyring
        self.max_keys = max_keys
        self.ttl_s = ttl_s
        self.clock = clock
        self._pending: OrderedDict[str, tuple[float, list[CallRecord]]] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped = 0  # records dropped unwritten (never-stored verifications, overflow)

    @property
    def keyring(self) -> KeyRing:
        return self._keyring if isinstance(self._keyring, KeyRing) else self._keyring()

    def remember(self, call_key: str, record: CallRecord) -> None:
        with self._lock:
            now = self.clock()
            entry = self._pending.get(call_key)
            if entry is None:
                self._pending[call_key] = (now, [record])
            else:
                entry[1].append(record)
            self._evict(now)

    def _evict(self, now: float) -> None:
        while self._pending:
            key, (at, records) = next(iter(self._pending.items()))
            if len(self._pending) <= self.max_keys and now - at <= self.ttl_s:
                break
            del self._pending[key]
            self.dropped += len(records)

    def pending(self, call_key: str) -> list[CallRecord]:
        with self._lock:
            entry = self._pending.get(call_key)
            return list(entry[1]) if entry else []

    def take(self, call_key: str) -> list[CallRecord]:
        with self._lock:
            entry = self._pending.pop(call_key, None)
            return entry[1] if entry else []

    def write(
        self, session: Session, records: list[CallRecord], *, reference: str | None, tenant: str | None = None
    ) -> int:
        """Add ``records`` to the caller's transaction (raw answers sealed)."""
        ring = self.keyring if records else None
        for record in records:
            row = VendorCall(
                id=str(uuid.uuid4()),
                tenant_id=tenant or record.tenant,
                verification_id=reference,
                vendor=record.vendor,
                capability=record.capability,
                idempotency_key=record.idempotency_key[:128],
                decision=record.decision,
                reason_codes=",".join(record.reason_codes)[:1000],
                role=record.role,
                latency_ms=record.latency_ms,
                cost=record.cost,
                attempts=record.attempts,
                fault=record.fault,
                vendor_reference=(record.vendor_reference or None) and record.vendor_reference[:128],
                created_at=record.created_at,
                country=record.country,
                document_type=record.document_type,
                score=record.score,
            )
            assert ring is not None
            add_call(session, ring, row, record.raw)
        return len(records)

    def apply_follow_up(self, follow_up: FollowUp, *, reference: str, session: Session, tenant: str) -> None:
        """Write the calls a vendor check made (``RecordVendorCalls``) with its verification."""
        if isinstance(follow_up, RecordVendorCalls):
            self.write(session, self.take(follow_up.call_key), reference=reference, tenant=tenant)
