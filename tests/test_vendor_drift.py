"""Drift monitoring: a vendor whose pass rate or scores move is flagged, a stable one is not."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from openidv.cli import app
from openidv.eval.vendor_rebenchmark import Rebenchmark, Verdict, record_reset
from openidv.store.repository import Store
from openidv.vendors.audit import CallRecord, VendorCallLog
from openidv.vendors.config import RoutingConfig
from openidv.vendors.drift import DriftMonitor, rebenchmark_command
from openidv.vendors.protocol import Capability, VendorDecision, VendorOutcome, normalise
from openidv.vendors.routed import RoutedVendors, router_from_file
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
            "vendors": {"acme": {"document": {"all": {"n": total}}}},
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


# --------------------------------------------------------------------------- drift that survives a restart


def write_vendors(root: Path, endpoints: Mapping[str, str], *, benchmark: bool = True) -> Path:
    """vendors.yaml with simulated document vendors and a scorecard baseline of 0.9 for each of them."""
    vendors = {
        name: {
            "adapter": "simulated",
            "endpoint": url,
            "capabilities": ["document"],
            "timeout_s": 5.0,
            "retries": 0,
            "options": {
                "accuracy": {"default": {"tpr": 0.95, "tnr": 0.95}},
                "latency": {"median_ms": 1, "sigma": 0.1},
                "seed": 3,
            },
        }
        for name, url in endpoints.items()
    }
    card = {
        "vendors": {n: {"document": {"all": {"n": 1000}}} for n in endpoints},
        "operations": {n: {"document": {"decisions": {"pass": 900, "decline": 100}}} for n in endpoints},
    }
    (root / "baseline-scorecard.json").write_text(json.dumps(card), encoding="utf-8")
    raw: dict[str, Any] = {"vendors": vendors}
    if benchmark:
        raw["routing"] = {"benchmark": "baseline-scorecard.json"}
    path = root / "vendors.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def store_calls(
    store: Store,
    vendor: str,
    passes: list[bool],
    *,
    start: datetime,
    country: str = "GB",
    step: timedelta = timedelta(milliseconds=10),
) -> None:
    """Answered calls as the router's audit log writes them (a shadow one among them), plus two that must
    never count: a failed call and one outside the document capability's vocabulary."""
    records = [
        CallRecord(
            vendor=vendor,
            capability="document",
            idempotency_key=f"{vendor}-{start.timestamp()}-{i}",
            tenant="t",
            decision="pass" if passed else "decline",
            reason_codes=(),
            latency_ms=1.0,
            cost=0.1,
            attempts=1,
            role="shadow" if i % 7 == 0 else "routed",
            country=country,
            score=0.2 if passed else 0.8,
            created_at=start + i * step,
        )
        for i, passed in enumerate(passes)
    ]
    records.append(replace(records[-1], idempotency_key="fault", decision=None, fault="timeout", score=None))
    with store.transaction() as session:
        VendorCallLog(store.keyring).write(session, records, reference=None)


def drifting(n: int = 400, rate: float = 0.5, seed: int = 7) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() < rate for _ in range(n)]


def alerts_of(service: RoutedVendors) -> list[tuple[str, str, str | None, str]]:
    return [
        (a["vendor"], a["capability"], a["country"], a["metric"]) for a in service.status()["drift"]["alerts"]
    ]


def passed_run(vendor: str) -> Rebenchmark:
    verdict = Verdict("document", True, "base/report.json", "new/report.json", reason="3 gate(s) passed")
    return Rebenchmark(vendor, "new/scorecard.json", None, [verdict])


def test_the_call_record_carries_the_monitors_key_and_score() -> None:
    from tests.vendor_fakes import request as fake_request

    req = replace(fake_request(key="k"), country="gb", document_type="passport")
    outcome = VendorOutcome(
        vendor="acme", capability=req.capability, decision=VendorDecision.PASS, score=0.25
    )
    result = normalise(outcome, check="vendor_document", version="1", reason_map={})
    record = CallRecord.of_outcome(req, outcome, result, role="routed")
    assert (record.country, record.document_type, record.score) == ("GB", "passport", 0.25)


def test_an_alarm_survives_a_restart_and_a_recorded_reset_clears_it_live_and_after_a_restart(
    store: Store, tmp_path: Path
) -> None:
    config = write_vendors(tmp_path, {"acme": "http://127.0.0.1:1", "other": "http://127.0.0.1:2"})
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    store_calls(store, "acme", drifting(), start=hour_ago)  # 0.5 against a baseline of 0.9
    store_calls(store, "other", drifting(rate=0.9), start=hour_ago, country="DE")
    first = router_from_file(config, lambda: store.keyring, engine=store.engine)
    assert first.replay["replayed"] == 800 and first.replay["error"] is None
    assert alerts_of(first) == [("acme", "document", "GB", "pass_rate")]
    assert first.status()["drift"]["flagged_vendors"] == ["acme"]
    # a restart: a new service over the same database sees the same alert and state, without new traffic
    again = router_from_file(config, lambda: store.keyring, engine=store.engine)
    assert alerts_of(again) == alerts_of(first)
    assert again.drift.snapshot() == first.drift.snapshot()
    # what the server feeds live is what the replay feeds: the same outcomes observed one by one
    live = DriftMonitor(first.drift.scorecard)
    for passed in drifting():
        live.observe(outcome(passed, score=0.2 if passed else 0.8), "gb")
    assert [a.as_dict() for a in live.status()] == [a.as_dict() for a in first.drift.status()]

    record_reset(store, passed_run("acme"), actor="tester", reason="vendor fixed its model")
    first.reset_poll_s = 0.0  # the running service reads the resets table on its next look
    assert alerts_of(first) == []
    assert first.status()["drift"]["resets_applied"] == 1
    assert {m["vendor"] for m in first.drift.snapshot()} == {"other"}
    # after a restart the calls before the reset are not replayed: the alarm stays cleared
    after = router_from_file(config, lambda: store.keyring, engine=store.engine)
    assert alerts_of(after) == [] and after.replay["replayed"] == 400
    # calls after the reset are replayed into fresh monitors
    store_calls(store, "acme", drifting(50, rate=0.9), start=datetime.now(UTC) + timedelta(seconds=1))
    later = router_from_file(config, lambda: store.keyring, engine=store.engine)
    acme = [m for m in later.drift.snapshot() if m["vendor"] == "acme"]
    assert [m["observed"] for m in acme] == [50] and alerts_of(later) == []


def test_the_replay_is_bounded_by_count_and_age(store: Store, tmp_path: Path) -> None:
    config = write_vendors(tmp_path, {"acme": "http://127.0.0.1:1"})
    store_calls(store, "acme", drifting(100), start=datetime.now(UTC) - timedelta(days=40))
    store_calls(store, "acme", drifting(60, rate=0.9), start=datetime.now(UTC) - timedelta(hours=1))
    service = router_from_file(config, lambda: store.keyring, engine=store.engine)
    assert service.replay["replayed"] == 60  # older than 30 days: left out
    capped = router_from_file(
        config, lambda: store.keyring, engine=store.engine, replay_days=0, replay_limit=120
    )
    assert capped.replay["replayed"] == 120  # the most recent 120 of 160, whatever their age


def test_vendors_drift_replays_the_audit_table_and_exits_1_on_an_alert(
    store: Store, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENIDV_DATABASE_URL", database_url)
    config = write_vendors(tmp_path, {"acme": "http://127.0.0.1:1"})
    runner = CliRunner()
    empty = runner.invoke(app, ["vendors", "drift", "--config", str(config), "--json"])
    assert empty.exit_code == 0, empty.output
    assert json.loads(empty.stdout)["alerts"] == []
    store_calls(store, "acme", drifting(), start=datetime.now(UTC) - timedelta(hours=1))
    flagged = runner.invoke(app, ["vendors", "drift", "--config", str(config), "--json"])
    assert flagged.exit_code == 1, flagged.output
    body = json.loads(flagged.stdout)
    assert body["replayed"] == 400 and body["flagged_vendors"] == ["acme"]
    [alert] = body["alerts"]
    assert (alert["vendor"], alert["country"], alert["metric"], alert["direction"]) == (
        "acme",
        "GB",
        "pass_rate",
        "down",
    )
    assert alert["baseline"] == 0.9 and body["monitors"][0]["observed"] == 400
    text_out = runner.invoke(app, ["vendors", "drift", "--config", str(config)])
    assert text_out.exit_code == 1 and "ALERT acme document GB pass_rate" in text_out.stdout
    record_reset(store, passed_run("acme"), actor="tester", reason="checked")
    cleared = runner.invoke(app, ["vendors", "drift", "--config", str(config), "--json"])
    assert cleared.exit_code == 0 and json.loads(cleared.stdout)["resets_applied"] == 1
    bad = runner.invoke(app, ["vendors", "drift", "--config", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "error:" in bad.output


# ------------------------------------------------------------------ re-benchmark through the regression gate

BENCH_N = 40  # bona fide and attack rows each: small, yet a vendor at 60% accuracy fails the gate clearly


@pytest.fixture(scope="module")
def bench_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two simulated document vendors on loopback, a labelled manifest, and a baseline benchmark of both."""
    from openidv.eval.metrics.common import Options
    from openidv.eval.vendor_scorecard import benchmark
    from openidv.vendors.config import load_vendors
    from openidv.vendors.simulated import SimulatedVendorServer

    root = tmp_path_factory.mktemp("rebench")
    lines = ["id,path,subject,label,species,country,document_type"]
    for label in ("bona_fide", "attack"):
        for i in range(BENCH_N):
            ident = f"{label[0]}{i}"
            (root / f"{ident}.bin").write_bytes(f"document {ident}".encode())
            species = "print" if label == "attack" else ""
            lines.append(f"{ident},{ident}.bin,s-{ident},{label},{species},GB,passport")
    (root / "docs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    draft = write_vendors(root, {"steady": "http://127.0.0.1:1", "shifty": "http://127.0.0.1:1"})
    configs = load_vendors(draft).vendors
    with (
        SimulatedVendorServer("steady", configs["steady"], port=0) as steady,
        SimulatedVendorServer("shifty", configs["shifty"], port=0) as shifty,
    ):
        config = write_vendors(root, {"steady": steady.url, "shifty": shifty.url})
        manifest = f"document={root / 'docs.csv'}"
        benchmark(
            config,
            [manifest],
            ["steady", "shifty"],
            root / "baseline",
            options=Options(replicates=100, seed=0),
            concurrency=4,
            html=False,
            report_html=False,
        )
        yield {
            "root": root,
            "config": config,
            "manifest": manifest,
            "servers": {"steady": steady, "shifty": shifty},
        }


def rebench_args(world: dict[str, Any], vendor: str, out: Path, *extra: str) -> list[str]:
    return [
        "vendors",
        "rebenchmark",
        "--config",
        str(world["config"]),
        "--vendor",
        vendor,
        "--manifest",
        world["manifest"],
        "--baseline",
        str(world["root"] / "baseline"),
        "--out",
        str(out),
        "--replicates",
        "100",
        "--concurrency",
        "4",
        *extra,
    ]


def drift_resets_and_audit(store: Store) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]]]:
    from sqlalchemy import select

    from openidv.store.models import AuditEntry
    from openidv.store.vendor_call_tables import VendorDriftReset

    with store.transaction() as session:
        resets = [(r.vendor, r.capability) for r in session.scalars(select(VendorDriftReset))]
        entries = [
            e.payload
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "vendor.drift_reset"))
        ]
    return resets, entries


def test_rebenchmark_resets_an_unchanged_vendor_and_refuses_one_whose_accuracy_changed(
    bench_world: dict[str, Any],
    store: Store,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openidv.vendors.simulated import Rates

    monkeypatch.setenv("OPENIDV_DATABASE_URL", database_url)
    config = bench_world["config"]
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for name in ("steady", "shifty"):
        store_calls(store, name, drifting(), start=hour_ago)
    running = router_from_file(config, lambda: store.keyring, engine=store.engine)
    running.reset_poll_s = 0.0
    assert {a[0] for a in alerts_of(running)} == {"steady", "shifty"}
    runner = CliRunner()

    shifty = bench_world["servers"]["shifty"].vendor
    original = shifty.options
    shifty.options = original.model_copy(update={"accuracy": {"default": Rates(tpr=0.6, tnr=0.6)}})
    with shifty.state.lock:  # forget its stored answers: the same requests are judged afresh
        shifty.state.answers.clear()
    try:
        failed = runner.invoke(app, rebench_args(bench_world, "shifty", tmp_path / "shifty"))
    finally:
        shifty.options = original
        with shifty.state.lock:
            shifty.state.answers.clear()
    assert failed.exit_code == 1, failed.output
    assert "shifty document: FAIL" in failed.stdout and "nothing reset" in failed.output
    assert drift_resets_and_audit(store) == ([], [])

    passed = runner.invoke(app, [*rebench_args(bench_world, "steady", tmp_path / "steady"), "--json"])
    assert passed.exit_code == 0, passed.output
    body = json.loads(passed.stdout)
    [verdict] = body["verdicts"]
    assert body["passed"] and verdict["passed"] and verdict["capability"] == "document"
    assert verdict["baseline_report"].endswith("baseline/steady/document/report.json")
    assert (tmp_path / "steady" / "steady" / "document" / "report.json").is_file()
    resets, entries = drift_resets_and_audit(store)
    assert resets == [("steady", "document")]
    [entry] = entries
    assert entry["vendor"] == "steady" and entry["verdicts"][0]["passed"] is True
    # the running service honours the reset; a restarted one too; shifty's alarm stands in both
    assert {a[0] for a in alerts_of(running)} == {"shifty"}
    restarted = router_from_file(config, lambda: store.keyring, engine=store.engine)
    assert {a[0] for a in alerts_of(restarted)} == {"shifty"}


def test_rebenchmark_bad_input_exits_2_before_calling_anyone(
    bench_world: dict[str, Any], tmp_path: Path
) -> None:
    runner = CliRunner()
    baseline = bench_world["root"] / "baseline"
    missing_baseline = rebench_args(bench_world, "steady", tmp_path / "y")
    missing_baseline[missing_baseline.index("--baseline") + 1] = str(tmp_path / "nothing")
    cases = [
        rebench_args(bench_world, "nobody", tmp_path / "x"),
        rebench_args(bench_world, "steady", baseline),  # would overwrite the baseline
        missing_baseline,
        [*rebench_args(bench_world, "steady", tmp_path / "z"), "--gate", str(tmp_path / "missing.yaml")],
    ]
    state = bench_world["servers"]["steady"].vendor.state
    before = state.requests
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and result.output.startswith("error:"), (args, result.output)
    assert state.requests == before  # no vendor was called
    assert not any((tmp_path / d).exists() for d in ("x", "y", "z"))
