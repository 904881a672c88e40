"""The resilient vendor client: retries, idempotency, circuit breaker, timeouts, cost, the sync runtime."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

from openidv.vendors.client import BreakerState, CallFault, CircuitBreaker, ResilientVendor, VendorRuntime
from openidv.vendors.config import Circuit, VendorConfig
from openidv.vendors.protocol import (
    Capability,
    VendorDecision,
    VendorFault,
    VendorOutcome,
    VendorRequest,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Scripted:
    """An adapter that answers from a script: a VendorDecision, a fault kind (str), or "hang"."""

    kind: ClassVar[str] = "scripted"

    def __init__(self, script: list[Any], name: str = "acme") -> None:
        self.name = name
        self.script = list(script)
        self.keys: list[str] = []

    async def call(self, request: VendorRequest, client: httpx.AsyncClient) -> VendorOutcome:
        self.keys.append(request.idempotency_key)
        step = self.script.pop(0) if self.script else VendorDecision.PASS
        if step == "hang":
            await asyncio.sleep(10)
        if isinstance(step, str) and not isinstance(step, VendorDecision):
            raise VendorFault(self.name, step, "scripted")
        return VendorOutcome(self.name, request.capability, step, 0.9, raw={"step": str(step)})


def config(**overrides: Any) -> VendorConfig:
    base: dict[str, Any] = {
        "adapter": "scripted",
        "endpoint": "http://127.0.0.1:9",
        "capabilities": ["face_match"],
        "timeout_s": 1.0,
        "retries": 2,
        "backoff_s": 0.05,
        "cost_per_call": 0.5,
        "circuit": {"failures": 3, "window_s": 30, "open_s": 15},
    }
    return VendorConfig.model_validate({**base, **overrides})


REQUEST = VendorRequest(capability=Capability.FACE_MATCH, idempotency_key="key-1", tenant="t")


async def _no_sleep(_: float) -> None:
    return None


def vendor(
    script: list[Any], clock: Clock | None = None, **overrides: Any
) -> tuple[ResilientVendor, Scripted]:
    adapter = Scripted(script)
    resilient = ResilientVendor(
        adapter, config(**overrides), clock=clock or Clock(), sleep=_no_sleep, rng=random.Random(7)
    )
    return resilient, adapter


def call(v: ResilientVendor, request: VendorRequest = REQUEST) -> VendorOutcome:
    async def go() -> VendorOutcome:
        try:
            return await v.call(request)
        finally:
            await v.aclose()

    return asyncio.run(go())


def test_retries_technical_faults_with_the_same_idempotency_key_and_bills_each_attempt() -> None:
    v, adapter = vendor(["http_5xx", "timeout", VendorDecision.PASS])
    outcome = call(v)
    assert outcome.decision == VendorDecision.PASS
    assert adapter.keys == ["key-1"] * 3
    assert outcome.attempts == 3 and outcome.cost == pytest.approx(1.5)
    assert outcome.latency_ms > 0


def test_a_decline_is_never_retried() -> None:
    v, adapter = vendor([VendorDecision.DECLINE, VendorDecision.PASS])
    outcome = call(v)
    assert outcome.decision == VendorDecision.DECLINE
    assert len(adapter.keys) == 1 and outcome.cost == pytest.approx(0.5)


@pytest.mark.parametrize("kind", ["malformed", "auth", "config"])
def test_non_transient_faults_are_not_retried(kind: str) -> None:
    v, adapter = vendor([kind, VendorDecision.PASS])
    with pytest.raises(CallFault) as raised:
        call(v)
    assert raised.value.kind == kind and raised.value.attempts == 1
    assert len(adapter.keys) == 1


def test_gives_up_after_retries_and_reports_what_the_failure_cost() -> None:
    v, adapter = vendor(["http_5xx"] * 5, retries=1)
    with pytest.raises(VendorFault) as raised:
        call(v)
    fault = raised.value
    assert isinstance(fault, CallFault) and fault.kind == "http_5xx"
    assert fault.attempts == 2 and fault.cost == pytest.approx(1.0)
    assert len(adapter.keys) == 2


def test_connection_faults_are_not_billed() -> None:
    v, _ = vendor(["connection", VendorDecision.PASS])
    outcome = call(v)
    assert outcome.attempts == 2 and outcome.cost == pytest.approx(0.5)


def test_backoff_is_exponential_with_full_jitter() -> None:
    v, _ = vendor([], backoff_s=0.1)
    draws = [[v.backoff(n) for _ in range(300)] for n in range(3)]
    for n, values in enumerate(draws):
        cap = 0.1 * 2**n
        assert all(0 <= d <= cap for d in values)
        assert max(values) > 0.8 * cap and min(values) < 0.2 * cap  # spread over the whole range


def test_circuit_opens_after_n_faults_then_half_opens_after_open_s() -> None:
    clock = Clock()
    v, adapter = vendor(["http_5xx"] * 3, clock=clock, retries=0)
    for _ in range(3):
        with pytest.raises(VendorFault):
            call(v)
    assert v.state == BreakerState.OPEN and v.opened_at == clock.now
    sent = len(adapter.keys)
    with pytest.raises(VendorFault) as raised:  # open: fails at once, nothing sent
        call(v)
    assert raised.value.kind == "circuit_open" and len(adapter.keys) == sent
    clock.now += 14.9
    assert v.state == BreakerState.OPEN
    clock.now += 0.2
    assert v.state == BreakerState.HALF_OPEN
    adapter.script = [VendorDecision.PASS]
    assert call(v).decision == VendorDecision.PASS  # the trial succeeds: closed
    assert v.state == BreakerState.CLOSED and v.failures == 0


def test_a_failed_half_open_trial_opens_the_circuit_again() -> None:
    clock = Clock()
    v, adapter = vendor(["timeout"] * 3, clock=clock, retries=0)
    for _ in range(3):
        with pytest.raises(VendorFault):
            call(v)
    clock.now += 16
    adapter.script = ["http_5xx"]
    with pytest.raises(VendorFault) as raised:
        call(v)
    assert raised.value.kind == "http_5xx"
    assert v.state == BreakerState.OPEN and v.opened_at == clock.now


def test_faults_outside_the_window_do_not_open_the_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, window_s=10, open_s=5, clock=clock)
    for _ in range(5):
        breaker.fault()
        clock.now += 6  # never 3 within 10 s
    assert breaker.state == BreakerState.CLOSED
    assert breaker.snapshot()["failures"] <= 2


def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, window_s=10, open_s=5, clock=clock)
    breaker.fault()
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow() and not breaker.allow()


def test_each_attempt_is_bounded_by_timeout_s() -> None:
    v, adapter = vendor(["hang", "hang"], timeout_s=0.2, retries=1)
    loop = asyncio.new_event_loop()
    try:
        start = loop.time()
        with pytest.raises(VendorFault) as raised:
            loop.run_until_complete(v.call(REQUEST))
        elapsed = loop.time() - start
    finally:
        loop.run_until_complete(v.aclose())
        loop.close()
    assert raised.value.kind == "timeout"
    assert 0.35 < elapsed < 1.5
    assert len(adapter.keys) == 2


@pytest.fixture
def runtime() -> Iterator[VendorRuntime]:
    rt = VendorRuntime()
    yield rt
    rt.close()


def test_runtime_calls_from_worker_threads_share_one_client(runtime: VendorRuntime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    adapter = Scripted([VendorDecision.PASS] * 20)
    v = runtime.vendor(adapter, config())
    assert v._http() is runtime.client
    requests = [
        VendorRequest(capability=Capability.FACE_MATCH, idempotency_key=f"k{i}", tenant="t")
        for i in range(20)
    ]
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda r: runtime.call(v, r), requests))
    assert [o.decision for o in outcomes] == [VendorDecision.PASS] * 20
    assert sorted(adapter.keys) == sorted(r.idempotency_key for r in requests)
    assert v.calls == 20 and v.billed == pytest.approx(10.0)


def test_default_circuit_config_is_valid() -> None:
    assert Circuit().failures == 5


class Broken(Scripted):
    async def call(self, request: VendorRequest, client: httpx.AsyncClient) -> VendorOutcome:
        self.keys.append(request.idempotency_key)
        raise KeyError("result")


def test_an_adapter_bug_is_a_malformed_fault_and_a_cancelled_trial_frees_the_breaker() -> None:
    clock = Clock()
    v = ResilientVendor(Broken([]), config(retries=0), clock=clock, sleep=_no_sleep)
    with pytest.raises(VendorFault) as raised:
        call(v)
    assert raised.value.kind == "malformed"

    hanging = Scripted(["http_5xx"] * 3 + ["hang"])
    v = ResilientVendor(hanging, config(retries=0, timeout_s=5), clock=clock, sleep=_no_sleep)
    for _ in range(3):
        with pytest.raises(VendorFault):
            call(v)
    clock.now += 16  # half-open: the trial hangs and its caller gives up

    async def give_up() -> None:
        task = asyncio.ensure_future(v.call(REQUEST))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await v.aclose()

    asyncio.run(give_up())
    assert v.breaker.allow()  # the trial slot is free again
