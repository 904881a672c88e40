"""Simulated vendors over real HTTP on loopback: accuracy per slice, idempotent replays, outages, 5xx,
timeouts, and the adapter's normalisation of their vocabulary."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from openidv.vendors.adapters import build_adapter
from openidv.vendors.client import ResilientVendor, VendorRuntime
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import (
    Capability,
    VendorDecision,
    VendorFault,
    VendorOutcome,
    VendorRequest,
    normalise,
)
from openidv.vendors.simulated import SimulatedVendorServer

ACCURACY = {
    "default": {"tpr": 0.80, "tnr": 0.90},
    "DE/id_card": {"tpr": 0.60, "tnr": 0.97},
}


def vendor_config(**options: Any) -> VendorConfig:
    return VendorConfig.model_validate(
        {
            "adapter": "simulated",
            "endpoint": "http://127.0.0.1:1",  # the test server's port replaces it
            "capabilities": ["document", "face_match", "liveness"],
            "timeout_s": 2.0,
            "retries": 0,
            "backoff_s": 0.01,
            "cost_per_call": 0.25,
            "circuit": {"failures": 1000, "window_s": 1, "open_s": 1},
            "reason_codes": {"doc.tampered": "DOC_TAMPERED_FIELD", "face.mismatch": "FACE_MISMATCH"},
            "options": {
                "accuracy": ACCURACY,
                "latency": {"median_ms": 1, "sigma": 0.2},
                "seed": 11,
                **options,
            },
        }
    )


def on_port(config: VendorConfig, port: int, **changes: Any) -> VendorConfig:
    return config.model_copy(update={"endpoint": f"http://127.0.0.1:{port}", **changes})


@pytest.fixture(scope="module")
def runtime() -> Iterator[VendorRuntime]:
    rt = VendorRuntime()
    yield rt
    rt.close()


@pytest.fixture
def server() -> Iterator[SimulatedVendorServer]:
    with SimulatedVendorServer("acme", vendor_config(), port=0) as srv:
        yield srv


def resilient(runtime: VendorRuntime, config: VendorConfig, port: int) -> ResilientVendor:
    cfg = on_port(config, port)
    return runtime.vendor(build_adapter("acme", cfg), cfg)


def request(i: int, truth: str, *, country: str = "GB", document_type: str = "passport") -> VendorRequest:
    return VendorRequest(
        capability=Capability.DOCUMENT,
        idempotency_key=f"req-{truth}-{country}-{i}",
        tenant="t",
        country=country,
        document_type=document_type,
        document_front=b"\xff\xd8not-really-a-jpeg",
        metadata={"ground_truth": truth},
    )


def binomial_bounds(n: int, p: float, z: float = 3.5) -> tuple[float, float]:
    half = z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def run_all(runtime: VendorRuntime, v: ResilientVendor, requests: list[VendorRequest]) -> list[VendorOutcome]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda r: runtime.call(v, r), requests))


@pytest.mark.parametrize(
    ("country", "document_type", "rates"),
    [("GB", "passport", ACCURACY["default"]), ("DE", "id_card", ACCURACY["DE/id_card"])],
)
def test_answers_with_the_configured_accuracy_of_the_slice(
    runtime: VendorRuntime,
    server: SimulatedVendorServer,
    country: str,
    document_type: str,
    rates: dict[str, float],
) -> None:
    v = resilient(runtime, vendor_config(), server.port)
    n = 200
    genuine = [request(i, "genuine", country=country, document_type=document_type) for i in range(n)]
    attacks = [request(i, "attack", country=country, document_type=document_type) for i in range(n)]
    outcomes = run_all(runtime, v, genuine + attacks)
    cleared = sum(o.decision == VendorDecision.PASS for o in outcomes[:n]) / n
    declined = sum(o.decision == VendorDecision.DECLINE for o in outcomes[n:]) / n
    low, high = binomial_bounds(n, rates["tnr"])
    assert low <= cleared <= high, (cleared, rates)
    low, high = binomial_bounds(n, rates["tpr"])
    assert low <= declined <= high, (declined, rates)
    # the same requests again: the same answers (seeded per key, and replayed by idempotency)
    again = run_all(runtime, v, genuine[:20] + attacks[:20])
    assert [o.decision for o in again] == [o.decision for o in outcomes[:20] + outcomes[n : n + 20]]


def test_idempotent_replay_returns_the_same_answer_billed_once(
    runtime: VendorRuntime, server: SimulatedVendorServer
) -> None:
    v = resilient(runtime, vendor_config(), server.port)
    first = runtime.call(v, request(1, "attack"))
    second = runtime.call(v, request(1, "attack"))
    assert first.vendor_reference == second.vendor_reference and first.decision == second.decision
    stats = httpx.get(f"{server.url}/admin/stats").json()
    assert stats["billed"] == 1 and stats["replays"] == 1 and stats["requests"] == 2


def test_outage_endpoint_makes_calls_fault_until_it_ends(
    runtime: VendorRuntime, server: SimulatedVendorServer
) -> None:
    v = resilient(runtime, vendor_config(), server.port)
    assert httpx.post(f"{server.url}/admin/outage", json={"seconds": 0.4}).status_code == 200
    with pytest.raises(VendorFault) as raised:
        runtime.call(v, request(2, "genuine"))
    assert raised.value.kind == "http_5xx"
    time.sleep(0.45)
    assert runtime.call(v, request(2, "genuine")).decision in set(VendorDecision)


def test_an_outage_opens_the_circuit_so_later_calls_fail_fast(
    runtime: VendorRuntime, server: SimulatedVendorServer
) -> None:
    config = on_port(vendor_config(), server.port).model_copy(
        update={"circuit": vendor_config().circuit.model_copy(update={"failures": 3, "open_s": 60})}
    )
    v = runtime.vendor(build_adapter("acme", config), config)
    server.outage(30)
    for i in range(3):
        with pytest.raises(VendorFault):
            runtime.call(v, request(10 + i, "genuine"))
    before = httpx.get(f"{server.url}/admin/stats").json()["requests"]
    start = time.perf_counter()
    with pytest.raises(VendorFault) as raised:
        runtime.call(v, request(20, "genuine"))
    assert raised.value.kind == "circuit_open"
    assert time.perf_counter() - start < 0.1
    assert httpx.get(f"{server.url}/admin/stats").json()["requests"] == before  # nothing sent


def test_5xx_errors_are_retried_to_success_with_one_key(runtime: VendorRuntime) -> None:
    config = vendor_config(error_rate=0.3)
    with SimulatedVendorServer("flaky", config, port=0) as srv:
        cfg = on_port(config, srv.port, retries=4)
        v = runtime.vendor(build_adapter("flaky", cfg), cfg)
        outcomes = run_all(runtime, v, [request(i, "genuine") for i in range(60)])
        stats = httpx.get(f"{srv.url}/admin/stats").json()
    assert len(outcomes) == 60
    assert stats["errors"] > 5 and stats["billed"] == 60  # retries happened, each check billed once
    assert sum(o.attempts for o in outcomes) == stats["requests"]
    assert sum(o.cost for o in outcomes) == pytest.approx(0.25 * stats["requests"])


def test_a_slow_vendor_times_out_over_http(runtime: VendorRuntime) -> None:
    config = vendor_config(latency={"median_ms": 800, "sigma": 0.0})
    with SimulatedVendorServer("slow", config, port=0) as srv:
        cfg = on_port(config, srv.port, timeout_s=0.15)
        v = runtime.vendor(build_adapter("slow", cfg), cfg)
        start = time.perf_counter()
        with pytest.raises(VendorFault) as raised:
            runtime.call(v, request(1, "genuine"))
        elapsed = time.perf_counter() - start
    assert raised.value.kind == "timeout"
    assert 0.15 <= elapsed < 0.6


def test_adapter_normalises_the_vendors_vocabulary(
    runtime: VendorRuntime, server: SimulatedVendorServer
) -> None:
    config = vendor_config()
    v = resilient(runtime, config, server.port)
    declines = [
        o for o in run_all(runtime, v, [request(i, "attack") for i in range(30)]) if o.decision == "decline"
    ]
    assert declines
    outcome = declines[0]
    assert outcome.raw["result"] == "rejected"
    assert outcome.score is not None and outcome.score > 0.5  # attack meaning: 1 - their genuine confidence
    assert outcome.vendor_reason_codes[0].startswith("doc.")
    result = normalise(outcome, check="vendor_document", version="1", reason_map=config.reason_codes)
    assert result.reason_codes[0] == "VENDOR_DECLINED"
    mapped = {config.reason_codes.get(c, "VENDOR_REASON_UNMAPPED") for c in outcome.vendor_reason_codes}
    assert mapped <= set(result.reason_codes)
    assert "raw" not in result.details


def test_unlabelled_real_faces_are_judged_by_our_own_face_match(
    runtime: VendorRuntime, server: SimulatedVendorServer, shared_data: Path
) -> None:
    """No ground truth in the request: the vendor's truth is our face_match on the real photos."""
    config = vendor_config(accuracy={"default": {"tpr": 1.0, "tnr": 1.0}})
    with SimulatedVendorServer("exact", config, port=0) as srv:
        # the first call loads our face models inside the vendor: give it time on a busy machine
        cfg = on_port(config, srv.port, timeout_s=30.0)
        v = runtime.vendor(build_adapter("exact", cfg), cfg)
        faces = shared_data / "faces"
        obama1, obama2 = (faces / "obama/obama1.jpg").read_bytes(), (faces / "obama/obama2.jpg").read_bytes()
        biden = (faces / "biden/biden1.jpg").read_bytes()

        def face(key: str, selfie: bytes, document: bytes) -> VendorOutcome:
            req = VendorRequest(
                Capability.FACE_MATCH, key, "t", selfie=selfie, document_front=document, country="US"
            )
            return runtime.call(v, req)

        same = face("same", obama1, obama2)
        other = face("other", obama1, biden)
    assert same.raw["truth_source"] == "model" and same.decision == VendorDecision.PASS
    assert other.decision == VendorDecision.DECLINE and other.vendor_reason_codes == ("face.mismatch",)
    assert same.score is not None and other.score is not None and same.score > 0.5 > other.score


def test_simulate_writes_three_vendors_and_a_labelled_manifest(tmp_path: Path, shared_data: Path) -> None:
    import csv

    from openidv.eval.manifests import load_manifest
    from openidv.synth.vendor_set import simulate
    from openidv.vendors.config import load_vendors

    made = simulate(tmp_path / "sim", shared=shared_data, seed=3, documents=2, attacks=4, pairs=6)
    vendors = load_vendors(made.vendors)
    assert len(vendors.vendors) == 3
    assert len({v.endpoint for v in vendors.vendors.values()}) == 3
    assert len({v.cost_per_call for v in vendors.vendors.values()}) == 3
    manifest = load_manifest(made.manifest)
    assert manifest.labels == {"bona_fide", "attack"} and made.rows <= 300
    with made.manifest.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["capability"] for r in rows} == {"document", "face_match", "liveness"}
    for row in rows:
        assert (made.manifest.parent / row["path"]).is_file()
        if row["capability"] == "face_match":
            assert (made.manifest.parent / row["path_b"]).is_file()
        assert row["channel"] in ("web", "mobile")


def test_serve_simulated_runs_the_configured_vendors_until_stopped(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys

    import yaml

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = vendor_config().model_copy(update={"endpoint": f"http://127.0.0.1:{port}"})
    path = tmp_path / "vendors.yaml"
    path.write_text(yaml.safe_dump({"vendors": {"acme": config.model_dump(mode="json")}}), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "openidv", "vendors", "serve-simulated", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"acme: http://127.0.0.1:{port}" in line, line + (proc.stderr.read() if proc.stderr else "")
        stats = httpx.get(f"http://127.0.0.1:{port}/admin/stats", timeout=5).json()
        assert stats["vendor"] == "acme" and stats["requests"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in out


def test_benchmark_runs_on_what_simulate_writes(tmp_path: Path, shared_data: Path) -> None:
    """``vendors simulate`` -> ``serve-simulated`` -> ``vendors benchmark``, as a user tries it by hand:
    every vendor is scored on every capability, and each scorecard entry carries its sample size."""
    import socket

    from openidv.eval.metrics.common import Options
    from openidv.eval.vendor_scorecard import benchmark
    from openidv.synth.vendor_set import simulate
    from openidv.vendors.config import load_vendors
    from openidv.vendors.simulated import serve_simulated

    with socket.socket() as probe:  # three free ports in a row are likely above a free one
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    base = min(base, 65000)
    made = simulate(
        tmp_path / "sim", shared=shared_data, seed=5, documents=4, attacks=8, pairs=10, base_port=base
    )
    folder = made.manifest.parent
    vendors = load_vendors(made.vendors)
    servers = serve_simulated(vendors.vendors)
    try:
        result = benchmark(
            made.vendors,
            [
                f"document={folder / 'document.csv'}",
                f"liveness={folder / 'liveness.csv'}",
                str(folder / "face_match.csv"),
            ],
            list(vendors.vendors),
            tmp_path / "bench",
            options=Options(replicates=20, seed=0),
            html=False,
        )
    finally:
        for server in servers:
            server.stop()
    card = result.scorecard["vendors"]
    assert set(card) == set(vendors.vendors)
    for name, config in vendors.vendors.items():
        assert {str(c) for c in config.capabilities} <= set(card[name]), name
        if "face_match" in card[name]:  # each served pair is scored (a served row's fault is an error row)
            assert 1 <= card[name]["face_match"]["all"]["roc_auc"]["n"] <= 10
    assert (tmp_path / "bench" / "scorecard.json").is_file()
    # the router reads what the benchmark wrote: floors come from this very file
    from openidv.vendors.scorecard import Scorecard

    loaded = Scorecard.load(tmp_path / "bench")
    assert set(loaded.vendors()) == set(card)
    name = next(iter(card))
    capability = next(iter(card[name]))
    assert loaded.pass_rate(name, capability) is not None
