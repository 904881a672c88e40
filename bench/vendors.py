"""Vendor router benchmark: overhead per decision, throughput with three vendors, failover after an outage.
Prints one JSON object. The peer, measured in the same run, is a naive router: always the cheapest
vendor, plain try/except failover, no circuit breaker, no floors, no shadow, no record of why.

    PYTHONPATH=src python bench/vendors.py                 # ~1 minute on 2 busy cores
    PYTHONPATH=src python bench/vendors.py --decisions 20000 --requests 5000

- overhead: in-process vendors that answer instantly; the router's own time per decision (``route``
  awaited on one loop, and ``decide`` from a worker thread, which adds the hop onto the router's loop).
- throughput: three in-process vendors whose answers take lognormal time (``asyncio.sleep``; median
  ``--median-ms``), ``--concurrency`` requests in flight. Over real loopback HTTP only when the simulated
  vendors (``openidv.vendors.simulated``) and the resilient client (``openidv.vendors.client``) are
  importable; the JSON says which ran.
- failover: the cheapest vendor goes down (every call times out after ``--timeout-ms``); how many
  requests still hit it, and the latency of the first request routed elsewhere after its circuit opened.
  The breaker here is a stand-in with the semantics of ``vendors.yaml``'s ``circuit`` (failures within a
  window open it for ``open_s``), since the resilient client lives in another module.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openidv.results import CheckResult, Meaning, Status
from openidv.vendors.config import Circuit, RoutingConfig, VendorConfig
from openidv.vendors.protocol import (
    Capability,
    VendorDecision,
    VendorFault,
    VendorOutcome,
    VendorRequest,
    normalise,
)
from openidv.vendors.router import Router


def _config(cost: float, circuit: Circuit | None = None) -> VendorConfig:
    return VendorConfig(
        adapter="bench",
        endpoint="http://127.0.0.1:1",
        capabilities=(Capability.DOCUMENT,),
        cost_per_call=cost,
        circuit=circuit or Circuit(),
    )


class BenchVendor:
    """An in-process vendor: answers after ``latency()`` seconds, or times out while ``down``."""

    def __init__(
        self,
        name: str,
        cost: float,
        latency: Callable[[], float] | None = None,
        *,
        circuit: Circuit | None = None,
        timeout_s: float = 0.05,
    ) -> None:
        self.name = name
        self.config = _config(cost, circuit)
        self.latency = latency
        self.timeout_s = timeout_s
        self.down = False
        self.calls = 0
        self.calls_while_down = 0

    @property
    def state(self) -> str:
        return "closed"

    async def call(self, request: VendorRequest) -> VendorOutcome:
        self.calls += 1
        if self.down:
            self.calls_while_down += 1
            await asyncio.sleep(self.timeout_s)
            raise VendorFault(self.name, "timeout")
        if self.latency is not None:
            await asyncio.sleep(self.latency())
        return VendorOutcome(
            self.name, request.capability, VendorDecision.PASS, 0.1, cost=self.config.cost_per_call
        )


class Breaker:
    """Stand-in for the resilient client's breaker: ``failures`` faults within ``window_s`` open the
    circuit for ``open_s``; then one trial call (half-open)."""

    def __init__(self, vendor: BenchVendor, clock: Callable[[], float] = time.monotonic) -> None:
        self.vendor = vendor
        self.name = vendor.name
        self.config = vendor.config
        self.clock = clock
        self.faults: deque[float] = deque()
        self.opened_at: float | None = None
        self.open_events: list[float] = []

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if self.clock() - self.opened_at < self.config.circuit.open_s else "half_open"

    async def call(self, request: VendorRequest) -> VendorOutcome:
        if self.state == "open":
            raise VendorFault(self.name, "circuit_open")
        try:
            outcome = await self.vendor.call(request)
        except VendorFault:
            now = self.clock()
            self.faults.append(now)
            while self.faults and now - self.faults[0] > self.config.circuit.window_s:
                self.faults.popleft()
            if self.state == "half_open" or len(self.faults) >= self.config.circuit.failures:
                self.opened_at = now
                self.open_events.append(now)
                self.faults.clear()
            raise
        if self.state == "half_open":
            self.opened_at = None
        return outcome


class NaiveRouter:
    """The peer: always the cheapest vendor, plain try/except failover, no breaker."""

    def __init__(self, vendors: dict[str, Any]) -> None:
        self.order = sorted(vendors, key=lambda n: (vendors[n].config.cost_per_call, n))
        self.vendors = vendors

    async def route(self, request: VendorRequest) -> CheckResult:
        for name in self.order:
            try:
                outcome = await self.vendors[name].call(request)
            except VendorFault:
                continue
            return normalise(outcome, check="vendor_document", version="1", reason_map={})
        return CheckResult(
            check="vendor_document",
            version="1",
            status=Status.ERROR,
            meaning=Meaning.ATTACK,
            reason_codes=("VENDOR_UNAVAILABLE",),
        )


def _req(i: int) -> VendorRequest:
    return VendorRequest(Capability.DOCUMENT, f"k{i}", "t", country="GB", document_type="passport")


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def _summary(us: list[float]) -> dict[str, float]:
    return {
        "n": len(us),
        "p50_us": round(_pct(us, 0.50), 1),
        "p99_us": round(_pct(us, 0.99), 1),
        "mean_us": round(statistics.fmean(us), 1),
    }


def _three(latency: Callable[[], float] | None = None, **kw: Any) -> dict[str, BenchVendor]:
    return {
        "alpha": BenchVendor("alpha", 0.30, latency, **kw),
        "beta": BenchVendor("beta", 0.45, latency, **kw),
        "gamma": BenchVendor("gamma", 0.60, latency, **kw),
    }


# ------------------------------------------------------------------------------------ overhead


def overhead(decisions: int) -> dict[str, Any]:
    routing = RoutingConfig(exploration=0.05, latency_weight=0.1)
    ours = Router(_three(), routing, None, rng_seed=1)
    naive = NaiveRouter(_three())

    async def timed(route: Callable[[VendorRequest], Awaitable[CheckResult]]) -> list[float]:
        out = []
        for i in range(decisions):
            t0 = time.perf_counter()
            await route(_req(i))
            out.append((time.perf_counter() - t0) * 1e6)
        return out

    async def reported() -> list[float]:
        return [
            float((await ours.route(_req(i))).details["routing"]["overhead_us"]) for i in range(decisions)
        ]

    for _ in range(2):  # warm both, then measure alternately so background load hits both alike
        asyncio.run(timed(ours.route))
        asyncio.run(timed(naive.route))
    ours_wall = asyncio.run(timed(ours.route))
    naive_wall = asyncio.run(timed(naive.route))
    ours_reported = asyncio.run(reported())
    decide_us: list[float] = []
    hop_us: list[float] = []  # the same bridge with nothing to route: the machine's thread hop
    with ours:
        for i in range(min(decisions, 2000)):
            ours.decide(_req(i))
        for i in range(decisions):  # alternate, so background load hits both alike
            t0 = time.perf_counter()
            ours.decide(_req(i))
            t1 = time.perf_counter()
            ours.run_sync(asyncio.sleep(0), 5)
            t2 = time.perf_counter()
            decide_us.append((t1 - t0) * 1e6)
            hop_us.append((t2 - t1) * 1e6)
    o, n = _summary(ours_wall), _summary(naive_wall)
    return {
        "what": "in-process vendors answering instantly; per decision, sequential",
        "router_route_wall": o,
        "router_overhead_us_reported": _summary(ours_reported),
        "router_decide_from_thread_wall": _summary(decide_us),
        "bridge_alone_from_thread_wall": _summary(hop_us),
        "naive_route_wall": n,
        "ratio_p50_router_over_naive": round(o["p50_us"] / n["p50_us"], 2),
        "goal_p99_under_1000us": _summary(decide_us)["p99_us"] < 1000 and o["p99_us"] < 1000,
    }


# ------------------------------------------------------------------------------------ throughput


async def _drive(
    route: Callable[[VendorRequest], Awaitable[CheckResult]], requests: int, concurrency: int, first: int = 0
) -> tuple[float, list[float], int]:
    """``requests`` requests (keys from ``first``: never a replay), ``concurrency`` in flight: wall s,
    latencies ms, ok count."""
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        async with sem:
            t0 = time.perf_counter()
            r = await route(_req(i))
            lat.append((time.perf_counter() - t0) * 1000)
            ok += r.status == Status.OK

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(first, first + requests)))
    return time.perf_counter() - t0, lat, ok


def _compare(
    routes: dict[str, Callable[[VendorRequest], Awaitable[CheckResult]]],
    requests: int,
    concurrency: int,
    run: Callable[[Coroutine[Any, Any, tuple[float, list[float], int]]], tuple[float, list[float], int]],
    rounds: int = 4,
) -> dict[str, dict[str, Any]]:
    """Each route in ``rounds`` alternating rounds (the order flips every round), so a change in the
    machine's background load hits both alike; per route: requests/s over all rounds and latency."""
    acc: dict[str, tuple[float, list[float], int]] = {name: (0.0, [], 0) for name in routes}
    names = list(routes)
    per_round = max(1, requests // rounds)
    key = 1_000_000
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            wall, lat, ok = run(_drive(routes[name], per_round, concurrency, key))
            key += per_round
            w, ls, k = acc[name]
            acc[name] = (w + wall, ls + lat, k + ok)
    return {
        name: {
            "requests": len(lat),
            "ok": ok,
            "per_s": round(len(lat) / wall, 1),
            "p50_ms": round(_pct(lat, 0.5), 2),
            "p99_ms": round(_pct(lat, 0.99), 2),
        }
        for name, (wall, lat, ok) in acc.items()
    }


def throughput(requests: int, concurrency: int, median_ms: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    mu = math.log(median_ms / 1000.0)

    def latency() -> float:
        return rng.lognormvariate(mu, 0.5)

    ours = Router(_three(latency), RoutingConfig(exploration=0.05, latency_weight=0.1), None, rng_seed=2)
    naive = NaiveRouter(_three(latency))
    both = _compare({"router": ours.route, "naive": naive.route}, requests, concurrency, asyncio.run)
    r_ours, r_naive = both["router"], both["naive"]

    # the pipeline's way in: decide() from worker threads onto the router's loop
    threads = min(concurrency, 64)
    with Router(_three(latency), RoutingConfig(exploration=0.05), None, rng_seed=3) as router:
        lat: list[float] = []
        lock = threading.Lock()

        def call(i: int) -> None:
            t0 = time.perf_counter()
            router.decide(_req(i))
            with lock:
                lat.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(call, range(requests)))
        wall = time.perf_counter() - t0
    return {
        "what": f"3 in-process vendors, lognormal latency median {median_ms} ms sigma 0.5, "
        f"{concurrency} in flight, 4 alternating rounds",
        "transport": "in-process asyncio.sleep (no HTTP)",
        "router": r_ours,
        "naive": r_naive,
        "ratio_per_s_router_over_naive": round(r_ours["per_s"] / r_naive["per_s"], 3),
        "router_decide_threads": {
            "threads": threads,
            "requests": requests,
            "per_s": round(requests / wall, 1),
            "p50_ms": round(_pct(lat, 0.5), 2),
            "p99_ms": round(_pct(lat, 0.99), 2),
        },
    }


def http(requests: int, concurrency: int, median_ms: float, seed: int) -> dict[str, Any]:
    """Over loopback HTTP: the simulated vendors (uvicorn in this process), the resilient client on the
    vendor runtime's loop, when those modules are importable (issue15-core); the JSON says whether it ran."""
    try:
        client = importlib.import_module("openidv.vendors.client")
        simulated = importlib.import_module("openidv.vendors.simulated")
        adapters = importlib.import_module("openidv.vendors.adapters")
    except ImportError as exc:
        return {"ran": False, "why": f"not importable here: {exc.name}"}
    runtime = client.VendorRuntime()
    servers: dict[str, Any] = {}
    try:
        configs: dict[str, VendorConfig] = {}
        for name, cost in (("alpha", 0.30), ("beta", 0.45), ("gamma", 0.60)):
            cfg = VendorConfig(
                adapter="simulated",
                endpoint="http://127.0.0.1:1",
                capabilities=(Capability.DOCUMENT,),
                cost_per_call=cost,
                timeout_s=2.0,
                retries=0,
                circuit=Circuit(failures=5, window_s=30, open_s=60),
                options={"latency": {"median_ms": median_ms, "sigma": 0.5}, "seed": seed},
            )
            server = simulated.SimulatedVendorServer(name, cfg, port=0, truth=lambda _c, _i: True)
            servers[name] = server.start()
            configs[name] = cfg.model_copy(update={"endpoint": server.url})

        def fleet() -> dict[str, Any]:
            return {n: runtime.vendor(adapters.build_adapter(n, c), c) for n, c in configs.items()}

        ours = Router(fleet(), RoutingConfig(exploration=0.05), None, rng_seed=4, runner=runtime.run)
        naive = NaiveRouter(fleet())
        limit = 600.0
        for route in (ours.route, naive.route):  # warm: connection pools, every vendor reached once
            runtime.run(_drive(route, max(concurrency, 100), concurrency, 5_000_000), limit)
        both = _compare(
            {"router": ours.route, "naive": naive.route},
            requests,
            concurrency,
            lambda coro: runtime.run(coro, limit),
        )
        r_ours, r_naive = both["router"], both["naive"]
        # failover over HTTP: alpha answers 503 from now on; sequential requests through the router
        servers["alpha"].outage(3600)
        before = servers["alpha"].vendor.state.requests
        rows = []
        for i in range(60):
            t0 = time.perf_counter()
            r = ours.decide(_req(10_000_000 + i), 10)
            rows.append((r.details.get("routing") or {}, (time.perf_counter() - t0) * 1000))
        hits = servers["alpha"].vendor.state.requests - before
        first_open = next(
            (
                k
                for k, (rt, _) in enumerate(rows)
                if any(
                    e.get("reason") == "circuit_open" and e["vendor"] == "alpha"
                    for e in rt.get("excluded", [])
                )
            ),
            None,
        )
        return {
            "ran": True,
            "transport": "loopback HTTP (simulated vendors on uvicorn, resilient client, one runtime loop)",
            "what": f"3 simulated vendors, latency median {median_ms} ms sigma 0.5, {concurrency} in flight, "
            "4 alternating rounds",
            "router": r_ours,
            "naive": r_naive,
            "ratio_per_s_router_over_naive": round(r_ours["per_s"] / r_naive["per_s"], 3),
            "failover": {
                "what": "alpha answers 503 from request 0 of 60 sequential decide() calls; circuit 5 faults",
                "requests_reaching_dead_vendor": hits,
                "first_request_skipping_it": first_open,
                "first_after_open_latency_ms": round(rows[first_open][1], 2)
                if first_open is not None
                else None,
                "answered": sum(1 for rt, _ in rows if rt.get("vendor") not in (None, "alpha")),
            },
        }
    finally:
        for server in servers.values():
            server.stop()
        runtime.close()


# ------------------------------------------------------------------------------------ failover


def failover(requests: int, down_at: int, timeout_ms: float, concurrency: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    circuit = Circuit(failures=5, window_s=30, open_s=60)

    def latency() -> float:
        return rng.lognormvariate(math.log(0.005), 0.3)

    async def drive(
        route: Callable[[VendorRequest], Awaitable[CheckResult]], dead: BenchVendor, breaker: Breaker | None
    ) -> dict[str, Any]:
        sem = asyncio.Semaphore(concurrency)
        rows: list[tuple[int, float, float, str | None, bool]] = []  # i, start, ms, vendor, hit_dead

        async def one(i: int) -> None:
            async with sem:
                if i == down_at:
                    dead.down = True
                t0 = time.perf_counter()
                r = await route(_req(i))
                ms = (time.perf_counter() - t0) * 1000
                routing = r.details.get("routing")
                if routing is None:  # the naive router always asks the cheapest first
                    hit = i >= down_at
                else:
                    hit = any(
                        f["vendor"] == dead.name and f["fault"] != "circuit_open"
                        for f in routing.get("failover_from", [])
                    )
                rows.append((i, t0, ms, r.details.get("vendor"), hit))

        await asyncio.gather(*(one(i) for i in range(requests)))
        after = [row for row in rows if row[0] >= down_at]
        out: dict[str, Any] = {
            "requests_after_down": len(after),
            "calls_to_dead_vendor": dead.calls_while_down,
            "answered_by_others": sum(1 for r in after if r[3] not in (None, dead.name)),
            "p50_ms_after_down": round(_pct([r[2] for r in after], 0.5), 2),
            "p99_ms_after_down": round(_pct([r[2] for r in after], 0.99), 2),
        }
        if breaker is not None and breaker.open_events:
            opened = breaker.open_events[0]
            later = sorted((r for r in after if r[1] >= opened), key=lambda r: r[1])
            if later:
                out["first_after_open"] = {
                    "hit_dead_vendor": later[0][4],
                    "vendor": later[0][3],
                    "latency_ms": round(later[0][2], 3),
                }
            out["requests_hitting_dead_vendor_before_open"] = sum(1 for r in after if r[4] and r[1] < opened)
        return out

    vendors = _three(latency, circuit=circuit, timeout_s=timeout_ms / 1000)
    breakers = {n: Breaker(v) for n, v in vendors.items()}
    ours = Router(breakers, RoutingConfig(), None)
    naive_vendors = _three(latency, circuit=circuit, timeout_s=timeout_ms / 1000)
    naive = NaiveRouter(naive_vendors)
    return {
        "what": f"{requests} requests, {concurrency} in flight; the cheapest vendor times out "
        f"({timeout_ms} ms) from request {down_at}; circuit {circuit.failures} faults / "
        f"{circuit.window_s:g} s",
        "router": asyncio.run(drive(ours.route, vendors["alpha"], breakers["alpha"])),
        "naive": asyncio.run(drive(naive.route, naive_vendors["alpha"], None)),
    }


# ------------------------------------------------------------------------------------ drift


def drift(runs: int, stable_n: int, seed: int) -> dict[str, Any]:
    """The pass-rate CUSUM as configured by default: delay to flag a 0.9 -> 0.7 drop, and false alarms
    of a stable 0.9 vendor over ``runs`` seeded runs of ``stable_n`` observations."""
    from openidv.vendors.drift import DriftMonitor

    def outcome(passed: bool) -> VendorOutcome:
        decision = VendorDecision.PASS if passed else VendorDecision.DECLINE
        return VendorOutcome("acme", Capability.DOCUMENT, decision, None)

    delays = []
    for k in range(runs * 5):
        rng = random.Random(seed * 100_003 + k)
        monitor = DriftMonitor(baselines={("acme", "document"): 0.9})
        n = 0
        while not monitor.observe(outcome(rng.random() < 0.7), "GB"):
            n += 1
        delays.append(n + 1)
    alarms, t0 = 0, time.perf_counter()
    for k in range(runs):
        rng = random.Random(seed * 100_003 + 50_000 + k)
        monitor = DriftMonitor(baselines={("acme", "document"): 0.9})
        for _ in range(stable_n):
            if monitor.observe(outcome(rng.random() < 0.9), "GB"):
                alarms += 1
                break
    per_obs_us = (time.perf_counter() - t0) / (runs * stable_n) * 1e6
    return {
        "what": "two-sided Bernoulli CUSUM, baseline 0.9, shift 0.1, arl0 20,000 (h = ln 40,000)",
        "drop_0.9_to_0.7": {
            "runs": len(delays),
            "median_observations": _pct([float(d) for d in delays], 0.5),
            "p99_observations": _pct([float(d) for d in delays], 0.99),
            "max_observations": max(delays),
        },
        "stable_0.9": {"runs": runs, "observations_each": stable_n, "runs_with_a_false_alarm": alarms},
        "observe_us_per_outcome": round(per_obs_us, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=10_000, help="decisions for the overhead")
    parser.add_argument("--requests", type=int, default=3000, help="requests for the throughput")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--median-ms", type=float, default=30.0, help="vendor latency median")
    parser.add_argument("--failover-requests", type=int, default=600)
    parser.add_argument("--timeout-ms", type=float, default=200.0, help="the dead vendor's timeout")
    parser.add_argument("--drift-runs", type=int, default=20, help="stable runs of 50,000 outcomes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_1m": os.getloadavg()[0],
        },
        "overhead": overhead(args.decisions),
        "throughput": throughput(args.requests, args.concurrency, args.median_ms, args.seed),
        "http": http(args.requests, args.concurrency, args.median_ms, args.seed),
        "failover_sequential": failover(args.failover_requests, 100, args.timeout_ms, 1, args.seed),
        "failover_concurrent": failover(args.failover_requests, 100, args.timeout_ms, 20, args.seed),
        "drift": drift(args.drift_runs, 50_000, args.seed),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
