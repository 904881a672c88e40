"""Route each vendor check to one vendor by policy, and say why.

Why these rules (issue 15):

- **floors first**: per capability, a vendor whose measured metric on the owned set (the scorecard, most
  specific slice with enough samples) is below the floor is not used for that slice; a vendor that was
  never measured for a floored capability is not used either. Accuracy is never traded for price.
- **then cost and latency**: among the eligible, the lowest ``cost_per_call + latency_weight * p50 (s)``
  wins, p50 from the router's own rolling measurements (ties: the higher floor metric, then the name).
- **exploration inside the floors**: with probability ``routing.exploration`` another eligible vendor is
  picked (seeded RNG), so every vendor above the floor keeps being measured in production.
- **failover on technical faults only**: a ``VendorFault`` (timeout, 5xx, circuit open...) moves on to the
  next eligible vendor; a decision (pass, decline, review, unprocessable) is final. A decline is never sent
  to a second vendor: a fraudster must not be able to shop for a lenient one. Circuit-open vendors are
  skipped up front, so the first request after a circuit opens already goes elsewhere.
- **no vendor, no approval**: when nobody answers the result is an ``error`` with ``VENDOR_UNAVAILABLE``.
- **shadow**: vendors in ``routing.shadow`` are called in the background (bounded) and recorded for
  monitoring and benchmarking; they never route and never appear in the returned result.
- **consensus** for high-risk capabilities: ``min_vendors`` eligible vendors in parallel; disagreement
  gives the stricter decision and ``VENDOR_DISAGREEMENT``.

Every returned ``CheckResult`` carries ``details.routing``: the vendor, the reason, the failovers with
their fault kinds, the excluded vendors with their reasons and the router's own overhead in µs.

The router runs on one event loop: ``route`` from async code, ``decide`` from a worker thread (it runs
``route`` on a loop thread the router owns, started lazily and stopped by ``close``). Its state (latency
stats, RNG, in-flight shadow calls) is only touched on that loop.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Protocol, TypeVar

from openidv.results import CheckResult, Status
from openidv.vendors.config import RoutingConfig, VendorConfig
from openidv.vendors.protocol import (
    MEANING,
    Capability,
    VendorDecision,
    VendorFault,
    VendorOutcome,
    VendorRequest,
    normalise,
)
from openidv.vendors.scorecard import Scorecard

T = TypeVar("T")

#: stricter first: the decision a disagreement falls back to
STRICTNESS: Mapping[VendorDecision, int] = {
    VendorDecision.DECLINE: 3,
    VendorDecision.REVIEW: 2,
    VendorDecision.UNPROCESSABLE: 1,
    VendorDecision.PASS: 0,
}


class CallableVendor(Protocol):
    """What the router needs of a vendor: the resilient client (``openidv.vendors.client``) honours it."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> VendorConfig: ...

    @property
    def state(self) -> str:
        """The circuit breaker: ``closed``, ``open`` or ``half_open``."""
        ...

    async def call(self, request: VendorRequest) -> VendorOutcome: ...


class SyncRunner(Protocol):
    """Runs a coroutine on a loop someone else owns and waits for it (``VendorRuntime.run``): the
    vendors' shared HTTP client belongs to that loop, so the router must run there too."""

    def __call__(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T: ...


class OutcomeSink(Protocol):
    """Where every routed, consensus and shadow outcome goes (``DriftMonitor`` is one)."""

    def observe(self, outcome: VendorOutcome, country: str | None) -> Any: ...


@dataclass(frozen=True)
class Observation:
    """One vendor answer the router saw, kept for monitoring and benchmarking (shadow ones included)."""

    role: str  # routed | consensus | shadow
    outcome: VendorOutcome
    country: str | None
    document_type: str | None


@dataclass
class Plan:
    """The eligible vendors of one request in routing order, and who was left out and why."""

    order: list[str]
    reason: str  # why order[0] comes first: cheapest_eligible | exploration | none_eligible
    excluded: list[dict[str, Any]] = field(default_factory=list)
    floors: dict[str, dict[str, Any]] = field(default_factory=dict)  # vendor -> the measurement used
    scores: dict[str, float] = field(default_factory=dict)  # vendor -> cost + latency_weight * p50


#: every vendor call, for the audit log: (role routed|consensus|shadow, request, the outcome or the fault,
#: the returned result for the routed answer, else None)
CallHook = Callable[[str, VendorRequest, VendorOutcome | VendorFault, CheckResult | None], None]

#: per slice: the vendors serving it above the floor, the excluded ones with why, the floor measurements
_Static = tuple[list[str], list[dict[str, Any]], dict[str, dict[str, Any]]]


def default_check_name(capability: Capability) -> str:
    return f"vendor_{capability.value}"


class Router:
    """Floors, cost/latency ranking, exploration, failover, shadow and consensus (module docstring)."""

    def __init__(
        self,
        vendors: Mapping[str, CallableVendor],
        routing: RoutingConfig,
        scorecard: Scorecard | None,
        *,
        rng_seed: int = 0,
        clock: Callable[[], float] = time.perf_counter,
        sink: OutcomeSink | None = None,
        min_slice_n: int = 30,
        conservative_floors: bool = False,
        deadline_s: float = 10.0,
        max_shadow_in_flight: int = 64,
        keep_observations: int = 10_000,
        latency_window: int = 256,
        check_name: Callable[[Capability], str] = default_check_name,
        version: str = "1.0.0",
        runner: SyncRunner | None = None,
        on_call: CallHook | None = None,
    ) -> None:
        unknown = [v for v in routing.shadow if v not in vendors]
        if unknown:
            raise ValueError(f"routing.shadow names unknown vendor(s): {', '.join(unknown)}")
        self.vendors = dict(vendors)
        self.routing = routing
        self.scorecard = scorecard
        self.sink = sink
        self.min_slice_n = min_slice_n
        self.conservative_floors = conservative_floors
        self.runner = runner
        self.on_call = on_call
        self.deadline_s = deadline_s
        self.max_shadow_in_flight = max_shadow_in_flight
        self.check_name = check_name
        self.version = version
        self._rng = random.Random(rng_seed)
        self._clock = clock
        self._latency: dict[str, deque[float]] = {n: deque(maxlen=latency_window) for n in self.vendors}
        self._p50: dict[str, float | None] = {}
        self._since: dict[str, int] = {n: 0 for n in self.vendors}
        self._static: dict[tuple[str, str | None, str | None], _Static] = {}
        self.observations: deque[Observation] = deque(maxlen=keep_observations)
        self.shadow_skipped = 0
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------ planning

    def _static_plan(self, capability: Capability, country: str | None, document_type: str | None) -> _Static:
        """Serving and floors do not change while the router lives: computed once per slice."""
        key = (capability.value, (country or "").upper() or None, document_type)
        cached = self._static.get(key)
        if cached is not None:
            return cached
        floor = self.routing.floors.get(capability)
        passing: list[str] = []
        excluded: list[dict[str, Any]] = []
        floors: dict[str, dict[str, Any]] = {}
        for name in sorted(self.vendors):
            if name in self.routing.shadow:
                excluded.append({"vendor": name, "reason": "shadow"})
                continue
            if not self.vendors[name].config.serves(capability, country, document_type):
                excluded.append({"vendor": name, "reason": "not_serving"})
                continue
            if floor is not None:
                m = (
                    self.scorecard.measurement(
                        name,
                        capability.value,
                        floor.metric,
                        country=country,
                        document_type=document_type,
                        min_n=self.min_slice_n,
                    )
                    if self.scorecard is not None
                    else None
                )
                if m is None:
                    excluded.append({"vendor": name, "reason": "no_measurement", "metric": floor.metric})
                    continue
                accuracy = m.accuracy(self.conservative_floors)
                info = {"metric": floor.metric, "min": floor.min, "accuracy": accuracy, **m.as_dict()}
                if accuracy < floor.min:
                    excluded.append({"vendor": name, "reason": "below_floor", **info})
                    continue
                floors[name] = info
            passing.append(name)
        if len(self._static) >= 4096:  # countries and document types come from the applicant's input
            self._static.clear()
        self._static[key] = (passing, excluded, floors)
        return passing, excluded, floors

    def plan(self, request: VendorRequest, *, explore: bool = True) -> Plan:
        """Who may answer this request, in the order they will be asked (no call is made); ``explore``
        False leaves the seeded exploration draw out (consensus asks the best-ranked vendors)."""
        capability = request.capability
        passing, static_excluded, floors = self._static_plan(
            capability, request.country, request.document_type
        )
        excluded = list(static_excluded)
        eligible: list[str] = []
        for name in passing:
            if self.vendors[name].state == "open":
                excluded.append({"vendor": name, "reason": "circuit_open"})
            else:
                eligible.append(name)
        scores = {n: self._score(n, capability) for n in eligible}
        eligible.sort(key=lambda n: (scores[n], -floors.get(n, {}).get("accuracy", 0.0), n))
        reason = "cheapest_eligible" if eligible else "none_eligible"
        if explore and len(eligible) > 1 and self.routing.exploration > 0:  # noqa: SIM102 (draw only then)
            if self._rng.random() < self.routing.exploration:
                pick = eligible[1 + self._rng.randrange(len(eligible) - 1)]
                eligible.remove(pick)
                eligible.insert(0, pick)
                reason = "exploration"
        return Plan(eligible, reason, excluded, floors, scores)

    def _score(self, name: str, capability: Capability) -> float:
        cost = self.vendors[name].config.cost_per_call
        if self.routing.latency_weight == 0:
            return cost
        p50 = self.p50_ms(name)
        if p50 is None and self.scorecard is not None:
            p50 = self.scorecard.p50_latency_ms(name, capability.value)
        return cost + self.routing.latency_weight * (p50 or 0.0) / 1000.0

    def p50_ms(self, name: str) -> float | None:
        """The vendor's median latency over the router's last calls (refreshed every 16 answers)."""
        if name not in self._p50 or self._since[name] >= 16:
            samples = self._latency[name]
            self._p50[name] = median(samples) if len(samples) >= 5 else None
            self._since[name] = 0
        return self._p50[name]

    def record_latency(self, name: str, ms: float) -> None:
        self._latency[name].append(ms)
        self._since[name] += 1

    # ------------------------------------------------------------------------------------ routing

    async def route(self, request: VendorRequest, deadline_s: float | None = None) -> CheckResult:
        """The routed result of one request, within ``deadline_s`` (default: the router's; past it,
        ``VENDOR_UNAVAILABLE``)."""
        limit = self.deadline_s if deadline_s is None else deadline_s
        started = self._clock()
        spent = [0.0]  # seconds spent waiting on vendors (the rest is the router's overhead)
        try:
            async with asyncio.timeout(limit):
                if request.capability in self.routing.consensus.capabilities:
                    return await self._consensus(request, started, spent)
                return await self._single(request, started, spent)
        except TimeoutError:
            routing = {"vendor": None, "reason": "deadline", "deadline_s": limit}
            return self._unavailable(request, routing, started, spent)

    async def _call(self, name: str, request: VendorRequest, spent: list[float], role: str) -> VendorOutcome:
        t0 = self._clock()
        try:
            outcome = await self.vendors[name].call(request)
        except VendorFault as fault:
            if self.on_call is not None:
                self.on_call(role, request, fault, None)
            raise
        finally:
            elapsed = self._clock() - t0
            spent[0] += elapsed
        self.record_latency(name, elapsed * 1000.0)
        self._observe(role, outcome, request)
        if self.on_call is not None and role != "routed":  # a routed answer is reported with its result
            self.on_call(role, request, outcome, None)
        return outcome

    async def _single(self, request: VendorRequest, started: float, spent: list[float]) -> CheckResult:
        plan = self.plan(request)
        self._start_shadow(request)
        failed: list[dict[str, str]] = []
        for name in plan.order:
            if failed and self.vendors[name].state == "open":  # opened while we were failing over
                failed.append({"vendor": name, "fault": "circuit_open"})
                continue
            try:
                outcome = await self._call(name, request, spent, "routed")
            except VendorFault as fault:
                failed.append({"vendor": name, "fault": fault.kind})
                continue
            except Exception as exc:  # an adapter bug is a technical fault too, never a decision
                failed.append({"vendor": name, "fault": f"exception:{type(exc).__name__}"})
                continue
            # a decision: final, whatever it is (a decline is never shown to another vendor)
            routing: dict[str, Any] = {
                "vendor": name,
                "reason": "failover" if failed else plan.reason,
                "failover_from": failed,
                "first_choice": {"vendor": plan.order[0], "reason": plan.reason},
                "order": plan.order,
                "excluded": plan.excluded,
                "floor": plan.floors.get(name),
                "score": round(plan.scores[name], 6),
            }
            result = self._result(outcome, routing, started, spent)
            if self.on_call is not None:
                self.on_call("routed", request, outcome, result)
            return result
        routing = {
            "vendor": None,
            "reason": "none_eligible" if not plan.order else "all_failed",
            "failover_from": failed,
            "order": plan.order,
            "excluded": plan.excluded,
        }
        return self._unavailable(request, routing, started, spent)

    async def _consensus(self, request: VendorRequest, started: float, spent: list[float]) -> CheckResult:
        need = self.routing.consensus.min_vendors
        plan = self.plan(request, explore=False)
        self._start_shadow(request)
        order = plan.order
        queue = list(order)
        answers: dict[str, VendorOutcome] = {}
        failed: list[dict[str, str]] = []
        while len(answers) < need and queue:
            batch = [queue.pop(0) for _ in range(min(need - len(answers), len(queue)))]
            t0 = self._clock()  # parallel calls: the wall time of the batch is what was spent waiting
            results = await asyncio.gather(
                *(self._call(n, request, [0.0], "consensus") for n in batch), return_exceptions=True
            )
            spent[0] += self._clock() - t0
            for name, res in zip(batch, results, strict=True):
                if isinstance(res, VendorOutcome):
                    answers[name] = res
                elif isinstance(res, VendorFault):
                    failed.append({"vendor": name, "fault": res.kind})
                elif isinstance(res, Exception):
                    failed.append({"vendor": name, "fault": f"exception:{type(res).__name__}"})
                else:
                    raise res  # cancellation: let it through
        base: dict[str, Any] = {
            "failover_from": failed,
            "order": order,
            "excluded": plan.excluded,
        }
        if not answers:
            routing = {"vendor": None, "reason": "none_eligible" if not order else "all_failed", **base}
            return self._unavailable(request, routing, started, spent)
        decisions = {n: str(o.decision) for n, o in answers.items()}
        agree = len(set(decisions.values())) == 1
        # the stricter decision; among equals, the better-ranked vendor's answer
        chosen = max(answers, key=lambda n: (STRICTNESS[answers[n].decision], -order.index(n)))
        routing = {
            "vendor": chosen,
            "reason": "consensus",
            "consensus": {
                "vendors": list(answers),
                "decisions": decisions,
                "scores": {n: o.score for n, o in answers.items()},
                "agree": agree,
                "complete": len(answers) >= need,
                "min_vendors": need,
                "total_cost": round(sum(o.cost for o in answers.values()), 6),
            },
            "floor": plan.floors.get(chosen),
            **base,
        }
        result = self._result(answers[chosen], routing, started, spent)
        if not agree:
            codes = (*result.reason_codes, "VENDOR_DISAGREEMENT")
            result = result.model_copy(update={"reason_codes": tuple(dict.fromkeys(codes))})
        return result

    # ------------------------------------------------------------------------------------ shadow

    def _start_shadow(self, request: VendorRequest) -> None:
        for name in self.routing.shadow:
            vendor = self.vendors[name]
            serves = vendor.config.serves(request.capability, request.country, request.document_type)
            if not serves or vendor.state == "open":
                continue
            if len(self._shadow_tasks) >= self.max_shadow_in_flight:
                self.shadow_skipped += 1
                continue
            task = asyncio.ensure_future(self._shadow(name, request))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(self, name: str, request: VendorRequest) -> None:
        try:
            await self._call(name, request, [0.0], "shadow")
        except Exception:  # a shadow vendor's fault concerns nobody but its own monitoring
            return

    async def drain(self) -> None:
        """Wait for the shadow calls in flight (tests, shutdown)."""
        while self._shadow_tasks:
            await asyncio.gather(*list(self._shadow_tasks), return_exceptions=True)

    # ------------------------------------------------------------------------------------ results

    def _observe(self, role: str, outcome: VendorOutcome, request: VendorRequest) -> None:
        self.observations.append(Observation(role, outcome, request.country, request.document_type))
        if self.sink is not None:
            self.sink.observe(outcome, request.country)

    def _overhead_us(self, started: float, spent: list[float]) -> int:
        return max(0, round((self._clock() - started - spent[0]) * 1e6))

    def _result(
        self, outcome: VendorOutcome, routing: dict[str, Any], started: float, spent: list[float]
    ) -> CheckResult:
        routing["overhead_us"] = self._overhead_us(started, spent)
        reason_map = self.vendors[outcome.vendor].config.reason_codes
        return normalise(
            outcome,
            check=self.check_name(outcome.capability),
            version=self.version,
            reason_map=reason_map,
            routing=routing,
        )

    def _unavailable(
        self, request: VendorRequest, routing: dict[str, Any], started: float, spent: list[float]
    ) -> CheckResult:
        routing["overhead_us"] = self._overhead_us(started, spent)
        return CheckResult(
            check=self.check_name(request.capability),
            version=self.version,
            status=Status.ERROR,
            score=None,
            meaning=MEANING[request.capability],
            reason_codes=("VENDOR_UNAVAILABLE",),
            details={"capability": request.capability.value, "routing": routing},
        )

    # ------------------------------------------------------------------------------------ sync bridge

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="openidv-vendor-router", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run a coroutine on the router's loop from another thread; ``TimeoutError`` past ``timeout_s``
        (the coroutine is then cancelled). A plain task and an ``Event``: lighter than
        ``run_coroutine_threadsafe``'s chained futures, which shows at the p99 of a busy machine."""
        loop = self._ensure_loop()
        done = threading.Event()
        abandoned = threading.Event()
        box: list[asyncio.Task[T]] = []

        def start() -> None:
            if abandoned.is_set():  # the caller gave up before the loop got to it
                coro.close()
                return
            task = loop.create_task(coro)
            box.append(task)
            task.add_done_callback(lambda _: done.set())

        loop.call_soon_threadsafe(start)
        if not done.wait(timeout_s):
            abandoned.set()
            if box:
                loop.call_soon_threadsafe(box[0].cancel)
            raise TimeoutError("vendor router: the loop did not answer in time")
        return box[0].result()

    def decide(self, request: VendorRequest, timeout_s: float | None = None) -> CheckResult:
        """The vendor check's entry point (sync, from a worker thread): ``route`` on the router's loop,
        bounded by ``timeout_s`` (default ``deadline_s``); past it, ``VENDOR_UNAVAILABLE``."""
        limit = self.deadline_s if timeout_s is None else timeout_s
        started = self._clock()
        try:
            if self.runner is not None:
                return self.runner(self.route(request, limit), limit + 0.5)
            return self.run_sync(self.route(request, limit), limit + 0.5)
        except TimeoutError:  # the loop itself is stuck: route's own deadline did not fire
            routing = {"vendor": None, "reason": "deadline", "deadline_s": limit}
            return self._unavailable(request, routing, started, [self._clock() - started])

    def close(self) -> None:
        """Cancel shadow calls in flight and stop the loop thread (idempotent)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop, self._thread = None, None
        if loop is None:
            return

        async def cancel_shadow() -> None:
            for task in list(self._shadow_tasks):
                task.cancel()
            await asyncio.gather(*list(self._shadow_tasks), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_shadow(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        loop.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stricter(decisions: Sequence[VendorDecision]) -> VendorDecision:
    """The strictest of some decisions (decline > review > unprocessable > pass)."""
    return max(decisions, key=lambda d: STRICTNESS[d])
