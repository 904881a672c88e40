"""Device reputation in Redis: counters survive a restart (a new service and client on the same Redis),
keys are per tenant and expire; with Redis down the check answers from the in-process fallback and says so.

Redis is 127.0.0.1:6379 (or ``OPENIDV_TEST_REDIS_URL``), database 11, under a key prefix of this test's own
that is deleted afterwards. Where Redis is unreachable these tests skip with a clear message, except under
``OPENIDV_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from openidv.checks.device.device_check import DeviceCheck
from openidv.checks.registry import create_check
from openidv.checks.services import DEVICE_REPUTATION
from openidv.services.container import Services
from openidv.services.device_reputation import (
    FallbackDeviceReputation,
    MemoryDeviceReputation,
    RedisDeviceReputation,
    device_reputation_from,
)
from openidv.settings import Settings
from tests.device_fixtures import desktop, evidence

REDIS_URL = os.environ.get("OPENIDV_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")

pytestmark = pytest.mark.redis


def _client() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        message = f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
        if os.environ.get("OPENIDV_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (OPENIDV_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return client


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards (nothing else is touched)."""
    client = _client()
    prefix = f"openidv-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for name in client.scan_iter(match=prefix + "*"):
        client.delete(name)
    client.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check(service: object, **params: Any) -> DeviceCheck:
    check = create_check("device", params, {DEVICE_REPUTATION: service})
    assert isinstance(check, DeviceCheck)
    return check


def _sight(check: DeviceCheck, service: Any, n: int, *, tenant: str = "t1", outcome: str = "approve") -> None:
    for i in range(n):
        ev = evidence(desktop(), subject=f"acct-{i}", tenant=tenant)
        for f in check.follow_ups(ev, check.run(ev)):
            service.apply_follow_up(f.decided(outcome), reference=f"ref-{i}", session=None, tenant=tenant)


def test_counters_survive_a_restart(prefix: str) -> None:
    first = RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix)
    check = _check(first, max_accounts_per_day=3)
    _sight(check, first, 4, outcome="reject")
    first.client.close()
    # a restart: a new client and service on the same Redis
    restarted = RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix)
    result = _check(restarted, max_accounts_per_day=3).run(evidence(desktop(), subject="acct-new"))
    assert result.details["reputation_source"] == "redis" and result.details["known_device"]
    counts = result.details["counts"]
    assert counts["accounts_24h"] == 5 and counts["failures"] == 4 and counts["countries"] == 1
    assert "DEVICE_VELOCITY" in result.reason_codes
    assert "reputation_degraded" not in result.details


def test_keys_are_per_tenant_and_expire(prefix: str) -> None:
    service = RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix, retention_days=7)
    check = _check(service)
    _sight(check, service, 2, tenant="t1")
    other = check.run(evidence(desktop(), subject="x", tenant="t2"))
    assert not other.details["known_device"] and other.details["counts"]["accounts_24h"] == 1
    client = _client()
    names = [n.decode() for n in client.scan_iter(match=prefix + "*")]
    assert names and all(n.startswith(f"{prefix}t1:") for n in names)
    ttls = [client.ttl(n) for n in names]
    assert all(0 < t <= 7 * 86_400 for t in ttls)  # everything expires: retention
    assert not any("NVIDIA" in n or "Berlin" in n for n in names)  # keyed digests only
    accounts = [m.decode() for n in names if n.endswith(":acc") for m in client.zrange(n, 0, -1)]
    assert accounts and all(a.startswith("acct_") and "acct-" not in a for a in accounts)  # no subject ids
    client.close()


def test_redis_down_answers_from_the_fallback_and_says_so() -> None:
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    service = device_reputation_from(dead)
    assert isinstance(service, FallbackDeviceReputation)
    check = _check(service, max_accounts_per_day=2)
    started = time.perf_counter()
    result = check.run(evidence(desktop(), subject="a"))
    assert time.perf_counter() - started < 0.5  # a small connect timeout, not seconds
    assert result.details["reputation_source"] == "memory-fallback"
    assert "Redis unreachable" in result.details["reputation_degraded"]
    # writes go to the fallback too, so velocity still counts within this process
    _sight(check, service, 3)
    again = check.run(evidence(desktop(), subject="z"))
    assert again.details["known_device"] and again.details["counts"]["accounts_24h"] == 4
    assert "DEVICE_VELOCITY" in again.reason_codes and again.details["reputation_source"] == "memory-fallback"


def test_fallback_goes_back_to_redis_once_it_answers(prefix: str) -> None:
    clock = [0.0]
    service = FallbackDeviceReputation(
        RedisDeviceReputation.from_url(f"redis://127.0.0.1:{_closed_port()}/0", prefix=prefix),
        retry_after_s=5.0,
        clock=lambda: clock[0],
    )
    check = _check(service)
    assert check.run(evidence(desktop())).details["reputation_source"] == "memory-fallback"
    service.primary = RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix)  # Redis is back
    assert check.run(evidence(desktop())).details["reputation_source"] == "memory-fallback"  # not retried yet
    clock[0] = 6.0
    assert check.run(evidence(desktop())).details["reputation_source"] == "redis"


def test_services_build_redis_or_memory(tmp_path: Any) -> None:
    assert isinstance(device_reputation_from(None), MemoryDeviceReputation)
    assert isinstance(device_reputation_from(REDIS_URL), FallbackDeviceReputation)
    assert Services(device_reputation=MemoryDeviceReputation()).as_mapping()[DEVICE_REPUTATION] is not None
    assert Settings().retention_device_days == 90


def test_p99_latency_with_redis_on_localhost(prefix: str) -> None:
    service = FallbackDeviceReputation(RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix))
    check = _check(service)
    _sight(check, service, 3)
    ev = evidence(desktop(), subject="acct-1")
    for _ in range(20):
        check.run(ev)
    # wall time includes other processes' bursts on a shared machine (CI, a 2-core box under load): the
    # p99 budget is checked on this thread's CPU time, the median on wall time (the Redis round trip)
    wall, cpu = [], []
    for _ in range(600):
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = check.run(ev)
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    assert result.details["reputation_source"] == "redis"
    wall.sort()
    cpu.sort()
    p50, p99_wall, p99_cpu = (
        wall[len(wall) // 2],
        wall[int(0.99 * len(wall)) - 1],
        cpu[int(0.99 * len(cpu)) - 1],
    )
    print(
        f"device check wall p50 {p50 * 1e3:.3f} ms p99 {p99_wall * 1e3:.3f} ms; "
        f"cpu p99 {p99_cpu * 1e3:.3f} ms"
    )
    assert p50 < 0.002 and p99_cpu < 0.005


POLICY = {
    "version": "test-device-redis",
    "default": "approve",
    "checks": {"device": {"params": {"max_failures": 1}}},
    "rules": [
        {
            "name": "automation",
            "when": {"check": "device", "reason_code": "DEVICE_AUTOMATION"},
            "outcome": "reject",
        },
        {
            "name": "velocity",
            "when": {"check": "device", "reason_code": "DEVICE_VELOCITY"},
            "outcome": "review",
        },
    ],
}


def test_verifier_counts_rejected_attempts_in_redis_across_a_restart(database_url: str, prefix: str) -> None:
    """Through the real Verifier and store (SQLite and PostgreSQL): rejected attempts are written after the
    commit, and a new service (a restarted server) reads them from Redis."""
    from openidv.decision.policy import parse_policy
    from openidv.services.verifier import Verifier
    from openidv.store.db import make_engine
    from openidv.store.repository import Store
    from tests.device_fixtures import playwright_headless

    policy = parse_policy(POLICY)
    store = Store(make_engine(database_url))
    try:
        for n in range(2):
            service = device_reputation_from(REDIS_URL, prefix=prefix)
            record = Verifier(policy, Services(device_reputation=service), store).verify(
                evidence(playwright_headless(), subject=f"bot-{n}", country=None)
            )
            assert record.decision.outcome.value == "reject"
        restarted = Verifier(
            policy, Services(device_reputation=device_reputation_from(REDIS_URL, prefix=prefix)), store
        )
        record = restarted.verify(evidence(playwright_headless(), subject="bot-2", country=None))
        device = next(c for c in record.checks if c.check == "device")
        assert device.details["reputation_source"] == "redis"
        assert device.details["counts"]["failures"] == 2 and device.details["counts"]["accounts_24h"] == 3
        assert "velocity_failures" in {f["name"] for f in device.details["flags"]}
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_erasing_a_subject_removes_it_and_its_failures_from_every_device(
    database_url: str, prefix: str, kind: str
) -> None:
    """Through the real Verifier and SubjectService: after the erasure the device no longer counts the
    subject's account or its rejected attempts, the export lists no device, and a second erasure finds
    none."""
    from openidv.decision.policy import parse_policy
    from openidv.services.subjects import SubjectService
    from openidv.services.verifier import Verifier
    from openidv.store.db import make_engine
    from openidv.store.repository import Store
    from tests.device_fixtures import playwright_headless

    policy = parse_policy(POLICY)
    store = Store(make_engine(database_url))
    service = (
        device_reputation_from(REDIS_URL, prefix=prefix) if kind == "redis" else MemoryDeviceReputation()
    )
    try:
        verifier = Verifier(policy, Services(device_reputation=service), store)
        for subject in ("erased-1", "erased-1", "kept-2"):
            verifier.verify(evidence(playwright_headless(), subject=subject, country=None))
        subjects = SubjectService(store, None, devices=service)
        assert len(subjects.export("erased-1", tenant="t1")["devices"]) == 1
        assert subjects.erase("erased-1", tenant="t1").devices == 1
        assert subjects.export("erased-1", tenant="t1")["devices"] == []
        assert subjects.erase("erased-1", tenant="t1").devices == 0
        record = verifier.verify(evidence(playwright_headless(), subject="kept-2", country=None))
        counts = next(c for c in record.checks if c.check == "device").details["counts"]
        assert counts["accounts_total"] == 1 and counts["failures"] == 1  # kept-2's first attempt only
    finally:
        store.engine.dispose()
