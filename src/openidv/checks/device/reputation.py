"""What the ``device`` check asks of the ``device_reputation`` service, and what it asks it to remember.

Reads (``DeviceLookup.lookup``) happen while scoring and must be fast: the service answers the candidates
sharing a band key with the applicant's signature, each with its stored signature and counters, in one
round trip. Writes (``RecordDevice``) happen only after the verification commits, rejected ones included
(``on_reject``): a declined attempt is exactly what a device's velocity and failure counts must see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, Protocol

from openidv.checks.base import FollowUp
from openidv.checks.services import DEVICE_REPUTATION

#: where the counts came from: Redis, the in-process store by configuration, or the in-process store
#: because Redis could not be reached (counts then cover this process only)
Source = Literal["redis", "memory", "memory-fallback"]
DAY_S = 86_400.0


@dataclass(frozen=True)
class KnownDevice:
    """A stored device with its counters (windows as asked in ``lookup``)."""

    device_id: str
    signature: Mapping[str, str | tuple[str, ...]]
    accounts_24h: int  # distinct accounts seen on it in the last 24 h
    accounts_total: int  # distinct accounts in the retention window
    account_seen_24h: bool  # the asking account is already among ``accounts_24h``
    account_seen: bool  # the asking account is already among ``accounts_total``
    failures: int  # rejected verifications within ``window_s``
    countries: tuple[str, ...]  # distinct declared countries within ``window_s``
    first_seen: float | None  # unix seconds
    last_seen: float | None


@dataclass(frozen=True)
class DeviceLookupResult:
    candidates: tuple[KnownDevice, ...]
    source: Source
    #: why the answer is degraded (Redis unreachable...), None when it is not
    degraded: str | None = None


class DeviceLookup(Protocol):
    """The read-only lookup the ``device`` check asks of the ``device_reputation`` service."""

    def lookup(
        self, bands: Sequence[str], *, tenant: str, account: str | None, now: float, window_s: float
    ) -> DeviceLookupResult: ...


@dataclass(frozen=True)
class RecordDevice(FollowUp):
    """Remember one sighting of a device: its latest signature and bands, the account, the declared
    country, and, once the outcome is known (``decided``), whether the verification was rejected."""

    service: ClassVar[str] = DEVICE_REPUTATION
    on_reject: ClassVar[bool] = True

    device_id: str
    signature: Mapping[str, Any]
    bands: tuple[str, ...]
    account: str | None
    country: str | None
    at: float
    outcome: str | None = None

    def decided(self, outcome: str) -> RecordDevice:
        return replace(self, outcome=outcome)
