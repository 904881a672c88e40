"""Drift monitoring: a vendor whose pass rate or scores move is flagged, a stable one is not."""

from __future__ import annotations

import asyncio
import random

import pytest

from openidv.vendors.config import RoutingConfig
from openidv.vendors.drift import DriftMonitor, rebenchmark_command
from openidv.vendors.protocol import Capability, VendorDecision, VendorOutcome
from openidv.vendors.router import Router
from openidv.vendors.scorecard import Scorecard
from tests.vendor_fakes import FakeVendor, request


def outcome(passed: bool, score: float | None = None, vendor: str = "acme") -> VendorOutcome:
    return VendorOutcome(
        vendor=vendor,
        capability=Capability.DOCUMENT,
        decision=VendorDecision.PASS if passed else VendorDecision.DECLINE,
        score=score,
    )


def scorecard(pass_rate: float = 0.9) -> Scorecard:
    total = 1000
    passes = round(pass_rate * total)
    return Scorecard.from_dict(
        {
            "vendors": {"acme": {"document": {"slices": {"all": {"n": total}}}}},
            "operations": {"acme": {"document": {"decisions": {"pass": passes, "decline": total - passes}}}},
        }
    )


def test_a_pass_rate_drop_from_0_9_to_0_7_is_flagged_within_a_bounded_number_of_observations() -> None:
    delays = []
    for seed in range(20):
        rng = random.Random(seed)
        monitor = DriftMonitor(scorecard(0.9))
        for _ in range(2000):  # in control first: no alarm
            assert not monitor.observe(outcome(rng.random() < 0.9), "GB")
        n = 0
        while not monitor.status():
            n += 1
            monitor.observe(outcome(rng.random() < 0.7), "GB")
            assert n <= 400, "not flagged within 400 observations"
        delays.append(n)
        alert = monitor.status()[0]
        assert (alert.vendor, alert.capability, alert.country) == ("acme", "document", "GB")
        assert alert.metric == "pass_rate" and alert.test == "cusum" and alert.direction == "down"
        assert alert.baseline == 0.9 and alert.current < 0.85
        assert alert.statistic > alert.threshold and alert.n > 0
    assert sorted(delays)[10] < 150  # median delay ~80 observations


def test_a_stable_vendor_over_a_long_seeded_run_raises_no_alert() -> None:
    rng = random.Random(42)
    monitor = DriftMonitor(scorecard(0.9))
    for _ in range(30_000):
        monitor.observe(outcome(rng.random() < 0.9, score=rng.betavariate(2, 5)), "GB")
    assert monitor.status() == []
    snap = monitor.snapshot()[0]
    assert snap["observed"] == 30_000 and abs(snap["recent_pass_rate"] - 0.9) < 0.05


def test_without_a_baseline_the_first_observations_are_the_baseline_and_a_rise_is_flagged_too() -> None:
    rng = random.Random(3)
    monitor = DriftMonitor(warmup=300)
    for _ in range(300):
        monitor.observe(outcome(rng.random() < 0.6), "DE")
    assert monitor.snapshot()[0]["baseline_pass_rate"] == pytest.approx(0.6, abs=0.06)
    for _ in range(600):
        monitor.observe(outcome(rng.random() < 0.85), "DE")  # suddenly lenient: as suspicious
    [alert] = monitor.status()
    assert alert.direction == "up" and alert.country == "DE"


def test_a_shifted_score_distribution_is_flagged_by_the_windowed_ks_test() -> None:
    rng = random.Random(5)
    monitor = DriftMonitor(scorecard(0.9), window=300)
    for _ in range(1500):
        monitor.observe(outcome(rng.random() < 0.9, score=rng.betavariate(2, 5)), "FR")
    assert monitor.status() == []
    for _ in range(300):
        monitor.observe(outcome(rng.random() < 0.9, score=rng.betavariate(3, 4)), "FR")
    [alert] = [a for a in monitor.status() if a.metric == "score_distribution"]
    assert alert.test == "ks" and alert.n == 300 and alert.p_value is not None and alert.p_value < 1e-4
    assert alert.current > alert.baseline


def test_monitors_are_per_vendor_capability_and_country_and_reset_after_a_rebenchmark() -> None:
    rng = random.Random(9)
    monitor = DriftMonitor(scorecard(0.9))
    for _ in range(600):
        monitor.observe(outcome(rng.random() < 0.6), "GB")
        monitor.observe(outcome(rng.random() < 0.9), "DE")
    assert [(a.vendor, a.country) for a in monitor.status()] == [("acme", "GB")]
    assert monitor.flagged_vendors() == ["acme"]
    assert monitor.reset("acme", "document", "GB") == 1
    assert monitor.status() == []


def test_the_router_feeds_every_routed_and_shadow_outcome_to_the_monitor() -> None:
    monitor = DriftMonitor()
    vendors = {"a": FakeVendor("a", 0.1), "s": FakeVendor("s", 0.2)}
    router = Router(vendors, RoutingConfig(shadow=("s",)), None, sink=monitor)

    async def go() -> None:
        for i in range(5):
            await router.route(request(key=str(i)))
        await router.drain()

    asyncio.run(go())
    assert {(s["vendor"], s["observed"]) for s in monitor.snapshot()} == {("a", 5), ("s", 5)}


def test_rebenchmark_command_is_the_regression_gate_on_the_vendors_reports() -> None:
    rng = random.Random(1)
    monitor = DriftMonitor(scorecard(0.9))
    while not monitor.status():
        monitor.observe(outcome(rng.random() < 0.5), "GB")
    argv = rebenchmark_command(
        monitor.status()[0], baseline="runs/v/acme/document", candidate="runs/v2/acme/document", gate="g.yaml"
    )
    assert argv == [
        "openidv",
        "eval",
        "compare",
        "runs/v/acme/document",
        "runs/v2/acme/document",
        "--gate",
        "g.yaml",
        "--json",
    ]
