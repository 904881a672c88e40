"""The index of accepted captures, so the same selfie or video submitted again (by anyone) is found.

Two implementations of one small interface: ``SqlCaptureIndex`` (the ``liveness_capture_hashes`` table, on
SQLite or PostgreSQL; the default wherever a store exists) and ``MemoryCaptureIndex`` (tests, one-off CLI
runs). A process-wide default is set with ``configure_capture_index`` (the API does this at start-up).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, or_, select

from openidv.checks.liveness.phash import bands, dhash, hamming, phash, to_signed, to_unsigned
from openidv.imageio import UInt8Array
from openidv.store.db import make_session_factory
from openidv.store.liveness_tables import CaptureHash

#: a capture matches a stored one when both hashes are this close (pHash needs <= 6 for the band index)
REPLAY_PHASH_BITS = 6
REPLAY_DHASH_BITS = 10


@dataclass(frozen=True)
class Fingerprint:
    phash: int
    dhash: int

    @classmethod
    def of(cls, bgr: UInt8Array) -> Fingerprint:
        return cls(phash(bgr), dhash(bgr))

    def matches(
        self, other: Fingerprint, phash_bits: int = REPLAY_PHASH_BITS, dhash_bits: int = REPLAY_DHASH_BITS
    ) -> bool:
        return (
            hamming(self.phash, other.phash) <= phash_bits and hamming(self.dhash, other.dhash) <= dhash_bits
        )


@dataclass(frozen=True)
class Match:
    reference: str
    kind: str
    phash_distance: int
    dhash_distance: int
    created_at: datetime


class CaptureIndex(Protocol):
    def find(self, fp: Fingerprint) -> Match | None:
        """The closest earlier capture that matches ``fp``, or None."""
        ...

    def add(self, fp: Fingerprint, *, kind: str, reference: str) -> None:
        """Remember an accepted capture."""
        ...


class MemoryCaptureIndex:
    """In-process index (lost at exit): for tests and single CLI runs."""

    def __init__(self) -> None:
        self._items: list[tuple[Fingerprint, str, str, datetime]] = []
        self._lock = threading.Lock()

    def find(self, fp: Fingerprint) -> Match | None:
        with self._lock:
            hits = [
                Match(ref, kind, hamming(fp.phash, f.phash), hamming(fp.dhash, f.dhash), at)
                for f, kind, ref, at in self._items
                if fp.matches(f)
            ]
        return min(hits, key=lambda m: (m.phash_distance, m.dhash_distance), default=None)

    def add(self, fp: Fingerprint, *, kind: str, reference: str) -> None:
        with self._lock:
            self._items.append((fp, kind, reference, datetime.now(UTC)))


class SqlCaptureIndex:
    """The ``liveness_capture_hashes`` table; a lookup reads only rows sharing a pHash band."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)

    def find(self, fp: Fingerprint) -> Match | None:
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
        query = select(CaptureHash).where(or_(*[col == value for col, value in zip(columns, b, strict=True)]))
        best: Match | None = None
        with self._sessions() as session:
            for row in session.scalars(query):
                stored = Fingerprint(to_unsigned(row.phash), to_unsigned(row.dhash))
                if not fp.matches(stored):
                    continue
                m = Match(
                    row.reference,
                    row.kind,
                    hamming(fp.phash, stored.phash),
                    hamming(fp.dhash, stored.dhash),
                    row.created_at,
                )
                if best is None or (m.phash_distance, m.dhash_distance) < (
                    best.phash_distance,
                    best.dhash_distance,
                ):
                    best = m
        return best

    def add(self, fp: Fingerprint, *, kind: str, reference: str) -> None:
        b = bands(fp.phash)
        with self._sessions() as session, session.begin():
            session.add(
                CaptureHash(
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
                    created_at=datetime.now(UTC),
                )
            )


_default: CaptureIndex | None = None


def configure_capture_index(index: CaptureIndex | None) -> None:
    """Set (or clear) the process-wide index the ``injection`` check consults and fills."""
    global _default
    _default = index


def default_capture_index() -> CaptureIndex | None:
    return _default
