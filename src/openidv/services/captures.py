"""The index of accepted captures, so the same selfie or video submitted again (within the tenant) is found.

Two implementations of one interface: ``SqlCaptureIndex`` (the ``liveness_capture_hashes`` table, on SQLite
or PostgreSQL; wherever a store exists) and ``MemoryCaptureIndex`` (tests, one-off library and CLI runs).
The ``injection`` check only looks up (``find``); the capture is remembered by ``apply_follow_up`` of the
check's ``RecordCapture`` follow-up, which the verification layer calls inside the transaction that stores
the verification (``session``), so the hashes and the verification are written together or not at all. The
liveness session service remembers a session's frames with ``add`` once the session passed.

Captures belong to a tenant (the verification's or the session's): ``find`` only searches the caller's
tenant's captures, so a match never names another tenant's verification or session (a capture replayed at
another tenant is therefore not flagged there).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.checks.liveness.phash import bands, hamming, to_signed, to_unsigned
from openidv.checks.liveness.replay import Fingerprint, Match, RecordCapture
from openidv.store.db import make_session_factory
from openidv.store.liveness_tables import CaptureHash
from openidv.tenancy import DEFAULT_TENANT


class CaptureIndex(Protocol):
    """What callers of a capture index use (the ``injection`` check itself only needs ``find``)."""

    def find(self, fp: Fingerprint, *, tenant: str = DEFAULT_TENANT) -> Match | None: ...

    def add(
        self,
        fp: Fingerprint,
        *,
        kind: str,
        reference: str,
        session: Session | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> None: ...

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None: ...


def _record(follow_up: FollowUp) -> RecordCapture:
    if not isinstance(follow_up, RecordCapture):
        raise TypeError(f"the capture index cannot apply a {type(follow_up).__name__}")
    return follow_up


def _closest(matches: list[Match]) -> Match | None:
    return min(matches, key=lambda m: (m.phash_distance, m.dhash_distance), default=None)


class MemoryCaptureIndex:
    """In-process index (lost at exit): for tests and single library or CLI runs. ``session`` is ignored."""

    def __init__(self) -> None:
        self._items: list[tuple[Fingerprint, str, str, datetime, str]] = []
        self._lock = threading.Lock()

    def find(self, fp: Fingerprint, *, tenant: str = DEFAULT_TENANT) -> Match | None:
        with self._lock:
            hits = [
                Match(ref, kind, hamming(fp.phash, f.phash), hamming(fp.dhash, f.dhash), at)
                for f, kind, ref, at, owner in self._items
                if owner == tenant and fp.matches(f)
            ]
        return _closest(hits)

    def add(
        self,
        fp: Fingerprint,
        *,
        kind: str,
        reference: str,
        session: Session | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        with self._lock:
            self._items.append((fp, kind, reference, datetime.now(UTC), tenant))

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None:
        record = _record(follow_up)
        for fp in record.prints():
            self.add(fp, kind=record.kind, reference=reference, tenant=tenant)


class SqlCaptureIndex:
    """The ``liveness_capture_hashes`` table; a lookup reads only rows sharing a pHash band."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)

    def find(self, fp: Fingerprint, *, tenant: str = DEFAULT_TENANT) -> Match | None:
        b = bands(fp.phash)
        columns = [
            CaptureHash.band0,
            CaptureHash.band1,
            CaptureHash.band2,
            CaptureHash.band3,
            CaptureHash.band4,
            CaptureHash.band5,
            CaptureHash.band6,
        ]
        query = select(CaptureHash).where(
            CaptureHash.tenant_id == tenant,
            or_(*[col == value for col, value in zip(columns, b, strict=True)]),
        )
        hits: list[Match] = []
        with self._sessions() as session:
            for row in session.scalars(query):
                stored = Fingerprint(to_unsigned(row.phash), to_unsigned(row.dhash))
                if fp.matches(stored):
                    hits.append(
                        Match(
                            row.reference,
                            row.kind,
                            hamming(fp.phash, stored.phash),
                            hamming(fp.dhash, stored.dhash),
                            row.created_at,
                        )
                    )
        return _closest(hits)

    def add(
        self,
        fp: Fingerprint,
        *,
        kind: str,
        reference: str,
        session: Session | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        """Remember a capture: through ``session`` (the caller's transaction), else in one of its own."""
        if session is not None:
            session.add(_row(fp, kind, reference, tenant))
            return
        with self._sessions() as own, own.begin():
            own.add(_row(fp, kind, reference, tenant))

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None:
        record = _record(follow_up)
        rows = [_row(fp, record.kind, reference, tenant) for fp in record.prints()]
        if session is not None:
            session.add_all(rows)
            return
        with self._sessions() as own, own.begin():
            own.add_all(rows)


def _row(fp: Fingerprint, kind: str, reference: str, tenant: str) -> CaptureHash:
    b = bands(fp.phash)
    return CaptureHash(
        phash=to_signed(fp.phash),
        dhash=to_signed(fp.dhash),
        band0=b[0],
        band1=b[1],
        band2=b[2],
        band3=b[3],
        band4=b[4],
        band5=b[5],
        band6=b[6],
        kind=kind,
        reference=reference[:64],
        tenant_id=tenant,
        created_at=datetime.now(UTC),
    )
