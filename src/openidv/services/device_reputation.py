"""Device reputation and velocity: known devices' signatures, band index and counters, per tenant.

Two stores behind one interface (``DeviceLookup`` of ``openidv.checks.device.reputation`` for reads,
``apply_follow_up`` for ``RecordDevice`` writes):

- ``RedisDeviceReputation``: shared by every worker and kept across restarts. Keys, all under
  ``<prefix><tenant>:`` and all expiring after ``retention_days`` from their last write:

  ``band:<band key>``   SET of device ids whose signature has that band (the fuzzy lookup's index)
  ``dev:<id>:sig``      the latest signature (JSON of keyed digests; no raw attribute)
  ``dev:<id>:acc``      ZSET account (keyed digest of the subject id, else the verification id) -> last
                        seen (unix s): distinct accounts in any window by ZCOUNT
  ``dev:<id>:fail``     ZSET verification id -> when, for rejected verifications
  ``dev:<id>:cty``      ZSET declared country -> last seen
  ``dev:<id>:meta``     HASH first_seen, last_seen, sightings

  A lookup is one Lua script (EVALSHA): band members (bands wider than ``MAX_BAND`` skipped), their
  signatures and counters in one round trip. A
  write is one MULTI pipeline, run after the verification's transaction commits.
- ``MemoryDeviceReputation``: the same model in this process's memory (the embedded default; lost on
  restart; each worker counts alone; at most ``max_devices``, least recently seen dropped first).
- ``FallbackDeviceReputation``: Redis, and the in-process store while Redis cannot be reached (connect and
  read timeouts of 50 ms; after a failure Redis is retried only after ``retry_after_s``, so a dead Redis
  costs one timeout, not one per request). Its answers then say ``memory-fallback`` and why.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.checks.device.reputation import DAY_S, DeviceLookupResult, KnownDevice, RecordDevice, Source
from openidv.tenancy import DEFAULT_TENANT

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "openidv:device:"
DEFAULT_RETENTION_DAYS = 90
MAX_CANDIDATES = 32
#: a band shared by more devices than this is skipped in lookups, like a search engine's stop word: a
#: popular configuration (1920x1080, 8 cores, Win32) says little, and reading its members would cost
#: more the larger the tenant. The other bands still find the device.
MAX_BAND = 64
#: devices the in-process store keeps; beyond, the least recently seen tenth is dropped
MAX_MEMORY_DEVICES = 100_000
#: connect and read timeouts for the device store's Redis client: a dead Redis must not blow the 5 ms budget
REDIS_TIMEOUT_S = 0.05

_LOOKUP = """
local seen, ids = {}, {}
local limit, widest = tonumber(ARGV[6]), tonumber(ARGV[7])
for _, band in ipairs(KEYS) do
  if redis.call('SCARD', band) <= widest then
    for _, id in ipairs(redis.call('SMEMBERS', band)) do
      if not seen[id] and #ids < limit then seen[id] = true; ids[#ids + 1] = id end
    end
  end
end
local now, day, window = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local base = ARGV[1] .. id
  local sig = redis.call('GET', base .. ':sig')
  if sig then
    local own, ever = 0, 0
    if ARGV[5] ~= '' then
      local s = redis.call('ZSCORE', base .. ':acc', ARGV[5])
      if s then ever = 1 end
      if s and tonumber(s) >= now - day then own = 1 end
    end
    local meta = redis.call('HMGET', base .. ':meta', 'first_seen', 'last_seen')
    out[#out + 1] = {
      id, sig,
      redis.call('ZCOUNT', base .. ':acc', now - day, '+inf'),
      redis.call('ZCARD', base .. ':acc'),
      own,
      redis.call('ZCOUNT', base .. ':fail', now - window, '+inf'),
      ever,
      redis.call('ZRANGEBYSCORE', base .. ':cty', now - window, '+inf'),
      meta[1] or '', meta[2] or ''
    }
  end
end
return out
"""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _float(value: Any) -> float | None:
    text = _text(value) if value is not None else ""
    return float(text) if text else None


def _signature(raw: Any) -> dict[str, str | tuple[str, ...]]:
    data = json.loads(_text(raw))
    return {k: tuple(v) if isinstance(v, list) else str(v) for k, v in data.items()}


def _check_type(follow_up: FollowUp) -> RecordDevice:
    if not isinstance(follow_up, RecordDevice):
        raise TypeError(f"the device reputation service cannot apply a {type(follow_up).__name__}")
    return follow_up


def _after_commit(session: Session | None, write: Callable[[], None]) -> None:
    """Run ``write`` once the verification's transaction commits (now, without a session)."""
    if session is None:
        write()
        return

    def after(_: Session) -> None:
        try:
            write()
        except Exception:  # committed already: a lost sighting must not fail the verification
            log.exception("device reputation: a sighting could not be recorded after commit")

    event.listen(session, "after_commit", after, once=True)


class RedisDeviceReputation:
    """Device reputation in Redis (``redis.Redis`` client given; it connects on first use)."""

    source: Source = "redis"

    def __init__(
        self, client: Any, *, prefix: str = DEFAULT_PREFIX, retention_days: int = DEFAULT_RETENTION_DAYS
    ):
        self.client = client
        self.prefix = prefix
        self.retention_s = int(max(1, retention_days) * DAY_S)
        self._script = client.register_script(_LOOKUP)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisDeviceReputation:
        import redis

        client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry_on_timeout=False,
        )
        return cls(client, **kwargs)

    def _tenant(self, tenant: str) -> str:
        return f"{self.prefix}{tenant}:"

    def lookup(
        self, bands: Sequence[str], *, tenant: str, account: str | None, now: float, window_s: float
    ) -> DeviceLookupResult:
        if not bands:
            return DeviceLookupResult((), self.source)
        base = self._tenant(tenant)
        rows = self._script(
            keys=[f"{base}band:{b}" for b in bands],
            args=[
                f"{base}dev:",
                repr(now),
                repr(DAY_S),
                repr(window_s),
                account or "",
                MAX_CANDIDATES,
                MAX_BAND,
            ],
        )
        devices = tuple(
            KnownDevice(
                device_id=_text(row[0]),
                signature=_signature(row[1]),
                accounts_24h=int(row[2]),
                accounts_total=int(row[3]),
                account_seen_24h=bool(int(row[4])),
                failures=int(row[5]),
                account_seen=bool(int(row[6])),
                countries=tuple(sorted(_text(c) for c in row[7])),
                first_seen=_float(row[8]),
                last_seen=_float(row[9]),
            )
            for row in rows
        )
        return DeviceLookupResult(devices, self.source)

    def write(self, record: RecordDevice, *, reference: str, tenant: str) -> None:
        """One MULTI: signature, bands, account, failure (if rejected), country, first/last seen."""
        base = self._tenant(tenant)
        dev = f"{base}dev:{record.device_id}"
        ttl, at = self.retention_s, record.at
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(f"{dev}:sig", json.dumps(dict(record.signature), sort_keys=True), ex=ttl)
            for band in record.bands:
                pipe.sadd(f"{base}band:{band}", record.device_id)
                pipe.expire(f"{base}band:{band}", ttl)
            pipe.zadd(f"{dev}:acc", {record.account or reference: at})
            if record.account:  # which devices hold this account: what subject erasure removes it from
                pipe.sadd(f"{base}acct:{record.account}", record.device_id)
                pipe.expire(f"{base}acct:{record.account}", ttl)
            zsets = [f"{dev}:acc"]
            if record.outcome == "reject":
                pipe.zadd(f"{dev}:fail", {reference: at})
                zsets.append(f"{dev}:fail")
            if record.country:
                pipe.zadd(f"{dev}:cty", {record.country: at})
                zsets.append(f"{dev}:cty")
            for name in zsets:
                pipe.zremrangebyscore(name, "-inf", at - ttl)
                pipe.expire(name, ttl)
            pipe.hsetnx(f"{dev}:meta", "first_seen", repr(at))
            pipe.hset(f"{dev}:meta", "last_seen", repr(at))
            pipe.hincrby(f"{dev}:meta", "sightings", 1)
            pipe.expire(f"{dev}:meta", ttl)
            pipe.execute()

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None:
        record = _check_type(follow_up)
        _after_commit(session, lambda: self.write(record, reference=reference, tenant=tenant))

    def ping(self) -> bool:
        return bool(self.client.ping())

    def devices_of(self, account: str, *, tenant: str) -> list[str]:
        """The device ids that have seen ``account`` (subject export)."""
        return sorted(_text(d) for d in self.client.smembers(f"{self._tenant(tenant)}acct:{account}"))

    def erase_account(self, account: str, references: Sequence[str] = (), *, tenant: str) -> int:
        """Remove ``account`` (and the subject's verification ``references``, which key its failures) from
        every device that saw it; the number of devices touched. Devices themselves stay: they are not the
        subject's alone."""
        base = self._tenant(tenant)
        devices = self.devices_of(account, tenant=tenant)
        with self.client.pipeline(transaction=True) as pipe:
            for device_id in devices:
                pipe.zrem(f"{base}dev:{device_id}:acc", account, *references)
                if references:
                    pipe.zrem(f"{base}dev:{device_id}:fail", *references)
            pipe.delete(f"{base}acct:{account}")
            pipe.execute()
        return len(devices)


@dataclass
class _Device:
    signature: dict[str, Any]
    accounts: dict[str, float] = field(default_factory=dict)
    failures: dict[str, float] = field(default_factory=dict)
    countries: dict[str, float] = field(default_factory=dict)
    first_seen: float = 0.0
    last_seen: float = 0.0


class MemoryDeviceReputation:
    """The same data model in this process's memory: the embedded default, and Redis's fallback."""

    def __init__(
        self,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        source: Source = "memory",
        max_devices: int = MAX_MEMORY_DEVICES,
    ) -> None:
        self.retention_s = max(1, retention_days) * DAY_S
        self.source: Source = source
        self.max_devices = max(1, max_devices)
        self._devices: dict[tuple[str, str], _Device] = {}
        self._bands: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()

    def lookup(
        self, bands: Sequence[str], *, tenant: str, account: str | None, now: float, window_s: float
    ) -> DeviceLookupResult:
        out: list[KnownDevice] = []
        with self._lock:
            ids: dict[str, None] = {}
            for band in bands:
                members = self._bands.get((tenant, band), set())
                if len(members) > MAX_BAND:
                    continue  # too common to discriminate (see MAX_BAND)
                for device_id in sorted(members):
                    if len(ids) < MAX_CANDIDATES:
                        ids.setdefault(device_id)
            for device_id in ids:
                d = self._devices.get((tenant, device_id))
                if d is None or d.last_seen < now - self.retention_s:
                    continue
                out.append(
                    KnownDevice(
                        device_id=device_id,
                        signature=dict(d.signature),
                        accounts_24h=sum(1 for t in d.accounts.values() if t >= now - DAY_S),
                        accounts_total=len(d.accounts),
                        account_seen_24h=account is not None and d.accounts.get(account, -1.0) >= now - DAY_S,
                        account_seen=account is not None and account in d.accounts,
                        failures=sum(1 for t in d.failures.values() if t >= now - window_s),
                        countries=tuple(sorted(c for c, t in d.countries.items() if t >= now - window_s)),
                        first_seen=d.first_seen,
                        last_seen=d.last_seen,
                    )
                )
        return DeviceLookupResult(tuple(out), self.source)

    def write(self, record: RecordDevice, *, reference: str, tenant: str) -> None:
        at, horizon = record.at, record.at - self.retention_s
        with self._lock:
            d = self._devices.get((tenant, record.device_id))
            if d is None:
                d = self._devices[(tenant, record.device_id)] = _Device(dict(record.signature), first_seen=at)
            d.signature = dict(record.signature)
            d.last_seen = max(d.last_seen, at)
            d.accounts[record.account or reference] = at
            if record.outcome == "reject":
                d.failures[reference] = at
            if record.country:
                d.countries[record.country] = at
            for counter in (d.accounts, d.failures, d.countries):
                for key in [k for k, t in counter.items() if t < horizon]:
                    del counter[key]
            for band in record.bands:
                self._bands.setdefault((tenant, band), set()).add(record.device_id)
            if len(self._devices) > self.max_devices:
                self._evict(at)

    def devices_of(self, account: str, *, tenant: str) -> list[str]:
        with self._lock:
            return sorted(i for (t, i), d in self._devices.items() if t == tenant and account in d.accounts)

    def erase_account(self, account: str, references: Sequence[str] = (), *, tenant: str) -> int:
        """As ``RedisDeviceReputation.erase_account``, by a scan (at most ``max_devices`` devices)."""
        touched = 0
        with self._lock:
            for (t, _), d in self._devices.items():
                if t != tenant:
                    continue
                hit = d.accounts.pop(account, None) is not None
                for ref in references:
                    hit = (d.accounts.pop(ref, None) is not None) or hit
                    d.failures.pop(ref, None)
                touched += hit
        return touched

    def _evict(self, now: float) -> None:
        """Drop expired devices, then the least recently seen tenth, and their band entries (lock held)."""
        by_age = sorted(self._devices, key=lambda k: self._devices[k].last_seen)
        expired = [k for k in by_age if self._devices[k].last_seen < now - self.retention_s]
        drop = set(expired or by_age[: max(1, len(by_age) // 10)])
        for key in drop:
            del self._devices[key]
        for band_key in list(self._bands):
            ids = self._bands[band_key]
            ids.difference_update({d for t, d in drop if t == band_key[0]})
            if not ids:
                del self._bands[band_key]

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None:
        record = _check_type(follow_up)
        _after_commit(session, lambda: self.write(record, reference=reference, tenant=tenant))


class FallbackDeviceReputation:
    """Redis first; this process's memory while Redis cannot be reached, saying so in every answer."""

    def __init__(
        self,
        primary: RedisDeviceReputation,
        fallback: MemoryDeviceReputation | None = None,
        *,
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryDeviceReputation(
            retention_days=int(primary.retention_s // DAY_S), source="memory-fallback"
        )
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._why: str | None = None

    def _down(self, exc: Exception, doing: str) -> None:
        self._down_until = self._clock() + self.retry_after_s
        self._why = f"Redis unreachable ({type(exc).__name__}) while {doing}"
        log.warning(
            "device reputation: %s; using this process's memory for %.0f s", self._why, self.retry_after_s
        )

    def _degraded(self) -> str:
        return (
            f"{self._why or 'Redis unreachable'}: counts and known devices come from this process's memory "
            "only (other workers' and earlier sightings are missing)"
        )

    def lookup(
        self, bands: Sequence[str], *, tenant: str, account: str | None, now: float, window_s: float
    ) -> DeviceLookupResult:
        if self._clock() >= self._down_until:
            try:
                return self.primary.lookup(bands, tenant=tenant, account=account, now=now, window_s=window_s)
            except Exception as exc:  # redis.RedisError, OSError: any failure of the store
                self._down(exc, "looking up a device")
        found = self.fallback.lookup(bands, tenant=tenant, account=account, now=now, window_s=window_s)
        return DeviceLookupResult(found.candidates, "memory-fallback", self._degraded())

    def write(self, record: RecordDevice, *, reference: str, tenant: str) -> None:
        if self._clock() >= self._down_until:
            try:
                self.primary.write(record, reference=reference, tenant=tenant)
                return
            except Exception as exc:
                self._down(exc, "recording a device")
        self.fallback.write(record, reference=reference, tenant=tenant)

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None:
        record = _check_type(follow_up)
        _after_commit(session, lambda: self.write(record, reference=reference, tenant=tenant))

    def devices_of(self, account: str, *, tenant: str) -> list[str]:
        """Both stores' devices (Redis must answer: an export that silently missed it would be wrong)."""
        return sorted(
            set(self.primary.devices_of(account, tenant=tenant))
            | set(self.fallback.devices_of(account, tenant=tenant))
        )

    def erase_account(self, account: str, references: Sequence[str] = (), *, tenant: str) -> int:
        """Both stores. Redis must answer: an erasure that silently skipped it would not be one, so its
        error propagates (and the caller erases nothing else before this)."""
        touched = self.primary.erase_account(account, references, tenant=tenant)
        return touched + self.fallback.erase_account(account, references, tenant=tenant)


DeviceReputation = RedisDeviceReputation | MemoryDeviceReputation | FallbackDeviceReputation


def device_reputation_from(
    redis_url: str | None, *, prefix: str = DEFAULT_PREFIX, retention_days: int = DEFAULT_RETENTION_DAYS
) -> DeviceReputation:
    """Redis (with the in-process fallback) when a URL is set, else the in-process store."""
    if not redis_url:
        return MemoryDeviceReputation(retention_days=retention_days)
    return FallbackDeviceReputation(
        RedisDeviceReputation.from_url(redis_url, prefix=prefix, retention_days=retention_days)
    )
