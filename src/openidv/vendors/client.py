"""The resilient vendor client: timeout, retries with jittered backoff, circuit breaker, cost and latency.

Every call to a vendor goes through ``ResilientVendor.call``:

- each attempt is bounded by ``timeout_s`` (a hung vendor costs at most that per attempt);
- technical faults that may pass (timeout, connection error, 5xx, 429) are retried up to ``retries`` times
  after ``backoff_s * 2**n`` seconds with full jitter (a uniform draw in ``[0, that]``: many clients that
  failed together do not retry together); a malformed answer, an auth or a config fault is not retried;
- every attempt sends the request's own idempotency key, so a vendor that saw the first attempt answers
  the retry from its record instead of judging (and billing) twice;
- a decision (pass, decline, review, unprocessable) is never retried, whatever it says;
- the circuit breaker counts faults in a sliding window: ``circuit.failures`` faults within
  ``circuit.window_s`` open it; while open every call fails at once with ``VendorFault("circuit_open")``,
  without touching the network, so the router fails over in microseconds; after ``circuit.open_s`` one
  trial call is let through (half-open): success closes the circuit, a fault opens it again;
- cost: each attempt that was sent is billed ``cost_per_call`` (an upper bound: a vendor that recognises
  the idempotency key may bill a replay once); the outcome carries the total and the attempt count, a
  fault carries them too (``CallFault``) so the audit log records what failed calls cost.

The breaker's clock is injectable (tests step it by hand). One ``httpx.AsyncClient`` is shared by every
vendor of a process (``VendorRuntime``), so connections to a vendor are pooled and reused.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import VendorAdapter, VendorFault, VendorOutcome, VendorRequest

T = TypeVar("T")

#: faults worth another attempt: the next one may well succeed
RETRYABLE = frozenset({"timeout", "connection", "http_5xx", "rate_limited"})
#: faults after which no request reached the vendor: nothing to bill
UNSENT = frozenset({"connection", "circuit_open", "config"})


class CallFault(VendorFault):
    """A ``VendorFault`` from the resilient client, with what the failed call cost: the router and the
    audit log read ``attempts``, ``cost`` and ``latency_ms`` (a plain ``VendorFault`` still catches it)."""

    def __init__(
        self, vendor: str, kind: str, detail: str = "", *, attempts: int, cost: float, latency_ms: float
    ) -> None:
        super().__init__(vendor, kind, detail)
        self.attempts = attempts
        self.cost = cost
        self.latency_ms = latency_ms


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed -> open after ``failures`` faults within ``window_s`` -> half-open after ``open_s`` (one trial
    call) -> closed on its success, open again on its fault. Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(
        self, failures: int, window_s: float, open_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.window_s = window_s
        self.open_s = open_s
        self.clock = clock
        self._faults: deque[float] = deque()
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is in flight
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state(self.clock())

    def _state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if now - self._opened_at < self.open_s else BreakerState.HALF_OPEN

    @property
    def opened_at(self) -> float | None:
        """When the circuit last opened (on ``clock``), None while closed."""
        return self._opened_at

    @property
    def failures(self) -> int:
        """Faults counted in the current window (what opens the circuit)."""
        with self._lock:
            self._expire(self.clock())
            return len(self._faults)

    def _expire(self, now: float) -> None:
        while self._faults and now - self._faults[0] > self.window_s:
            self._faults.popleft()

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one (the trial) until it reports back."""
        with self._lock:
            state = self._state(self.clock())
            if state == BreakerState.CLOSED:
                return True
            if state == BreakerState.HALF_OPEN and not self._trial:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._opened_at = None
            self._trial = False
            self._faults.clear()

    def fault(self) -> None:
        with self._lock:
            now = self.clock()
            if self._trial or self._opened_at is not None:  # the trial failed: open again, a fresh period
                self._opened_at, self._trial = now, False
                return
            self._faults.append(now)
            self._expire(now)
            if len(self._faults) >= self.threshold:
                self._opened_at = now
                self._faults.clear()

    def abandon(self) -> None:
        """A call that was let through ended without an answer either way (cancelled): free the trial."""
        with self._lock:
            self._trial = False

    def snapshot(self) -> dict[str, Any]:
        """For metrics and the router: state, when it opened, faults in the window."""
        return {"state": str(self.state), "opened_at": self.opened_at, "failures": self.failures}


class ResilientVendor:
    """One configured vendor behind timeout, retries, idempotency and a circuit breaker.

    ``client``: the process's shared ``httpx.AsyncClient`` (``VendorRuntime.client``); None makes one on
    first use, bound to the event loop of that call (for a tool that runs its own loop). ``sleep`` and
    ``rng`` are injectable for tests (no real waiting, reproducible jitter)."""

    def __init__(
        self,
        adapter: VendorAdapter,
        config: VendorConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.adapter = adapter
        self.config = config
        self.name = adapter.name
        self.breaker = CircuitBreaker(
            config.circuit.failures, config.circuit.window_s, config.circuit.open_s, clock
        )
        self._client = client
        self._own_client = client is None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls = 0  # attempts sent, for metrics
        self.billed = 0.0

    # --- the breaker's state, for the router and metrics
    @property
    def state(self) -> BreakerState:
        return self.breaker.state

    @property
    def opened_at(self) -> float | None:
        return self.breaker.opened_at

    @property
    def failures(self) -> int:
        return self.breaker.failures

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
        return self._client

    async def aclose(self) -> None:
        """Close the client this vendor made for itself (never a shared one)."""
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform in ``[0, backoff_s * 2**retry]``."""
        return self._rng.uniform(0.0, self.config.backoff_s * (2**retry))

    async def call(self, request: VendorRequest) -> VendorOutcome:
        """The vendor's decision, or ``CallFault`` (a ``VendorFault``) when it could not be had."""
        start = time.perf_counter()
        attempts = 0
        cost = 0.0
        last: VendorFault | None = None
        for retry in range(self.config.retries + 1):
            if retry:
                await self._sleep(self.backoff(retry - 1))
            if not self.breaker.allow():
                last = VendorFault(self.name, "circuit_open", "the circuit breaker is open")
                break
            attempts += 1
            try:
                outcome = await self._attempt(request)
            except asyncio.CancelledError:  # the caller gave up: a half-open trial must not stay taken
                self.breaker.abandon()
                raise
            except VendorFault as fault:
                self.breaker.fault()
                if fault.kind not in UNSENT:
                    cost += self.config.cost_per_call
                last = fault
                if fault.kind not in RETRYABLE:
                    break
                continue
            self.breaker.success()
            cost += self.config.cost_per_call
            self._account(attempts, cost)
            return _finished(outcome, attempts, cost, start)
        self._account(attempts, cost)
        assert last is not None
        raise CallFault(
            self.name,
            last.kind,
            last.detail,
            attempts=attempts,
            cost=round(cost, 6),
            latency_ms=(time.perf_counter() - start) * 1000,
        ) from last

    def _account(self, attempts: int, cost: float) -> None:
        self.calls += attempts
        self.billed += cost

    async def _attempt(self, request: VendorRequest) -> VendorOutcome:
        try:
            return await asyncio.wait_for(self.adapter.call(request, self._http()), self.config.timeout_s)
        except VendorFault:
            raise
        except (TimeoutError, httpx.TimeoutException):
            raise VendorFault(self.name, "timeout", f"no answer within {self.config.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            raise VendorFault(self.name, "connection", type(exc).__name__) from None
        except Exception as exc:  # an adapter's bug or an answer it could not read: a fault, never a crash
            raise VendorFault(self.name, "malformed", type(exc).__name__) from None


def _finished(outcome: VendorOutcome, attempts: int, cost: float, start: float) -> VendorOutcome:
    from dataclasses import replace

    return replace(
        outcome,
        attempts=attempts,
        cost=round(cost, 6),
        latency_ms=(time.perf_counter() - start) * 1000,
    )


class VendorRuntime:
    """A background event-loop thread and the one ``httpx.AsyncClient`` of the process.

    Why a thread of its own: checks are synchronous and run in the pipeline's worker threads, while httpx's
    pooled async client belongs to the event loop that created it. ``asyncio.run`` per call would make a new
    loop (and a new pool: a TLS handshake per call) every time; calling into the API server's loop from a
    worker couples the check to the server. One long-lived loop owned by the vendor service keeps one pool
    for every vendor; a worker thread submits the coroutine and blocks on its future (``run``)."""

    def __init__(self, *, max_connections: int = 64) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openidv-vendors", daemon=True)
        self._thread.start()
        self._max_connections = max_connections
        self.client: httpx.AsyncClient = self.run(self._make_client())

    async def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            limits=httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=16)
        )

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the runtime's loop and wait (from any other thread) for its result."""
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("the vendor runtime is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def vendor(
        self, adapter: VendorAdapter, config: VendorConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> ResilientVendor:
        """A resilient vendor on this runtime's shared client."""
        return ResilientVendor(adapter, config, clock=clock, client=self.client)

    def call(self, vendor: ResilientVendor, request: VendorRequest) -> VendorOutcome:
        """``vendor.call`` from synchronous code (a check's worker thread). The wait is bounded by the
        vendor's worst case (every attempt timing out, plus backoff) and a little slack."""
        cfg = vendor.config
        worst = (cfg.retries + 1) * cfg.timeout_s + cfg.backoff_s * (2 ** (cfg.retries + 1)) + 1.0
        return self.run(vendor.call(request), timeout=worst)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self.run(self.client.aclose(), timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
