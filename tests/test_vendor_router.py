"""The vendor router: floors, cost, exploration, failover on faults only, shadow, consensus, why."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest

from openidv.errors import ConfigurationError
from openidv.results import CheckResult, Status
from openidv.vendors.config import Consensus, Floor, RoutingConfig
from openidv.vendors.protocol import Capability, VendorDecision
from openidv.vendors.router import Router
from openidv.vendors.scorecard import Scorecard
from tests.vendor_fakes import FakeVendor, request

FLOOR = {Capability.DOCUMENT: Floor(metric="recall_at_fpr_1e-2", min=0.9)}


def card(**vendors: dict[str, dict[str, Any]]) -> Scorecard:
    """The benchmark's shape: vendors.<v>.document.slices.<slice>.<metric> = {value, ci_low, ...}."""
    return Scorecard.from_dict({"vendors": {v: {"document": s} for v, s in vendors.items()}})


def m(value: float | None, n: int = 500, **extra: Any) -> dict[str, Any]:
    ci = None if value is None else value - 0.02
    metric = {"value": value, "ci_low": ci, "ci_high": ci and value + 0.02, "n": n}
    return {"n": 2 * n, "n_legit": n, "n_fraud": n, "recall_at_fpr_1e-2": metric, **extra}


def run(router: Router, req: Any = None) -> CheckResult:
    async def go() -> CheckResult:
        result = await router.route(req or request())
        await router.drain()
        return result

    return asyncio.run(go())


def routing(result: CheckResult) -> dict[str, Any]:
    r: dict[str, Any] = result.details["routing"]
    return r


def test_a_vendor_below_the_floor_for_gb_passports_is_never_chosen_there_but_is_for_de() -> None:
    cheap = FakeVendor("cheap", 0.2)
    dear = FakeVendor("dear", 0.9)
    scorecard = card(
        cheap={"all": m(0.95), "country=GB,document_type=passport": m(0.80, n=200)},
        dear={"all": m(0.93)},
    )
    router = Router(
        {"cheap": cheap, "dear": dear},
        RoutingConfig(floors=FLOOR, exploration=0.3),
        scorecard,
        rng_seed=1,
    )
    gb = [run(router, request(country="GB", key=str(i))) for i in range(200)]
    assert {routing(r)["vendor"] for r in gb} == {"dear"}
    assert not cheap.calls
    below = next(e for e in routing(gb[0])["excluded"] if e["vendor"] == "cheap")
    assert below["reason"] == "below_floor"
    assert below["slice"] == "country=GB,document_type=passport" and below["value"] == 0.80
    assert below["n"] == 200 and below["min"] == 0.9 and below["accuracy"] == 0.80
    de = [routing(run(router, request(country="DE", key=str(i)))) for i in range(50)]
    assert {r["vendor"] for r in de if r["reason"] == "cheapest_eligible"} == {"cheap"}
    assert {r["vendor"] for r in de if r["reason"] == "exploration"} == {"dear"}
    assert de[0]["floor"]["slice"] == "all"


def test_the_most_specific_slice_needs_enough_samples_else_the_broader_one_counts() -> None:
    scorecard = card(a={"all": m(0.95), "country=GB": m(0.5, n=10), "document_type=passport": m(0.97)})
    found = scorecard.measurement(
        "a", "document", "recall_at_fpr_1e-2", country="GB", document_type="passport", min_n=30
    )
    assert found is not None and found.slice == "document_type=passport" and found.value == 0.97
    found = scorecard.measurement("a", "document", "recall_at_fpr_1e-2", country="GB", min_n=5)
    assert found is not None and found.slice == "country=GB"
    # an unsupported figure (value null: too few trials for the target) falls back to a broader slice
    scorecard = card(a={"all": m(0.95), "country=GB": m(None)})
    found = scorecard.measurement("a", "document", "recall_at_fpr_1e-2", country="GB")
    assert found is not None and found.slice == "all"
    found = scorecard.measurement("a", "document", "recall_at_fpr_1e-2", country="FR", document_type="visa")
    assert found is not None and found.slice == "all"


def test_a_floored_capability_without_a_measurement_excludes_the_vendor_and_says_so() -> None:
    a = FakeVendor("a", 0.1)
    b = FakeVendor("b", 0.5)
    router = Router({"a": a, "b": b}, RoutingConfig(floors=FLOOR), card(b={"all": m(0.95)}))
    r = routing(run(router))
    assert r["vendor"] == "b"
    assert {"vendor": "a", "reason": "no_measurement", "metric": "recall_at_fpr_1e-2"} in r["excluded"]
    # no scorecard at all: nobody is measured, nobody is used, nothing is approved
    bare = run(Router({"a": a}, RoutingConfig(floors=FLOOR), None))
    assert bare.status == Status.ERROR and bare.reason_codes == ("VENDOR_UNAVAILABLE",)


def test_the_cheaper_vendor_is_preferred_among_equals_and_a_vendor_not_serving_is_excluded() -> None:
    a = FakeVendor("a", 0.6)
    b = FakeVendor("b", 0.4)
    c = FakeVendor("c", 0.1, countries=("FR",))
    router = Router({"a": a, "b": b, "c": c}, RoutingConfig(), None)
    r = routing(run(router))
    assert r["vendor"] == "b" and r["reason"] == "cheapest_eligible"
    assert r["order"] == ["b", "a"]
    assert {"vendor": "c", "reason": "not_serving"} in r["excluded"]
    assert not a.calls and not c.calls


def test_ties_on_cost_go_to_the_higher_floor_metric_then_the_name() -> None:
    a, b, c = FakeVendor("a", 0.5), FakeVendor("b", 0.5), FakeVendor("c", 0.5)
    scorecard = card(a={"all": m(0.92)}, b={"all": m(0.96)}, c={"all": m(0.96)})
    router = Router({"a": a, "b": b, "c": c}, RoutingConfig(floors=FLOOR), scorecard)
    assert routing(run(router))["order"] == ["b", "c", "a"]


def test_latency_weight_trades_cost_for_the_measured_p50() -> None:
    slow = FakeVendor("slow", 0.2)
    fast = FakeVendor("fast", 0.3)
    router = Router({"slow": slow, "fast": fast}, RoutingConfig(latency_weight=1.0), None)
    assert routing(run(router))["vendor"] == "slow"  # nothing measured yet: cost alone
    for _ in range(20):
        router.record_latency("slow", 400.0)  # 0.2 + 0.4 s > 0.3 + 0.05 s
        router.record_latency("fast", 50.0)
    assert routing(run(router))["vendor"] == "fast"


def test_failover_on_a_timeout_goes_to_the_next_vendor_and_records_the_fault() -> None:
    a = FakeVendor("a", 0.1, fault="timeout")
    b = FakeVendor("b", 0.5)
    result = run(Router({"a": a, "b": b}, RoutingConfig(), None))
    r = routing(result)
    assert result.status == Status.OK and r["vendor"] == "b"
    assert r["reason"] == "failover"
    assert r["failover_from"] == [{"vendor": "a", "fault": "timeout"}]
    assert r["first_choice"] == {"vendor": "a", "reason": "cheapest_eligible"}
    assert len(a.calls) == 1 and len(b.calls) == 1


@pytest.mark.parametrize("kind", ["http_5xx", "connection", "rate_limited", "malformed", "circuit_open"])
def test_every_technical_fault_fails_over(kind: str) -> None:
    a = FakeVendor("a", 0.1, fault=kind)
    b = FakeVendor("b", 0.5)
    assert routing(run(Router({"a": a, "b": b}, RoutingConfig(), None)))["vendor"] == "b"


def test_an_open_circuit_is_skipped_up_front_without_a_call() -> None:
    a = FakeVendor("a", 0.1, state="open")
    b = FakeVendor("b", 0.5)
    r = routing(run(Router({"a": a, "b": b}, RoutingConfig(), None)))
    assert r["vendor"] == "b" and r["reason"] == "cheapest_eligible"
    assert {"vendor": "a", "reason": "circuit_open"} in r["excluded"]
    assert not a.calls
    a.state = "half_open"  # the breaker lets a trial call through: the router does too
    assert routing(run(Router({"a": a, "b": b}, RoutingConfig(), None)))["vendor"] == "a"


@pytest.mark.parametrize(
    "decision", [VendorDecision.DECLINE, VendorDecision.REVIEW, VendorDecision.UNPROCESSABLE]
)
def test_a_decision_is_never_re_routed(decision: VendorDecision) -> None:
    a = FakeVendor("a", 0.1, decision=decision, score=0.99)
    b = FakeVendor("b", 0.5)
    router = Router({"a": a, "b": b}, RoutingConfig(exploration=0.0), None)
    for i in range(20):
        result = run(router, request(key=str(i)))
        assert routing(result)["vendor"] == "a"
    assert not b.calls  # the second vendor never saw the declined applicant
    if decision == VendorDecision.DECLINE:
        assert "VENDOR_DECLINED" in result.reason_codes


def test_when_no_vendor_answers_the_result_is_an_error_never_an_approval() -> None:
    a = FakeVendor("a", 0.1, fault="timeout")
    b = FakeVendor("b", 0.5, fault="http_5xx")
    c = FakeVendor("c", 0.5, state="open")
    result = run(Router({"a": a, "b": b, "c": c}, RoutingConfig(), None))
    assert result.status == Status.ERROR and result.score is None
    assert result.reason_codes == ("VENDOR_UNAVAILABLE",)
    r = routing(result)
    assert r["reason"] == "all_failed" and r["vendor"] is None
    assert [f["fault"] for f in r["failover_from"]] == ["timeout", "http_5xx"]


def test_shadow_calls_never_change_the_decision_and_are_recorded() -> None:
    def vendors() -> dict[str, FakeVendor]:
        return {
            "a": FakeVendor("a", 0.3, decision=VendorDecision.PASS, score=0.1),
            "s": FakeVendor("s", 0.0, decision=VendorDecision.DECLINE, score=0.9, codes=("X",)),
        }

    plain_vendors, shadow_vendors = vendors(), vendors()
    plain = Router({"a": plain_vendors["a"]}, RoutingConfig(), None)
    shadowed = Router(shadow_vendors, RoutingConfig(shadow=("s",)), None)
    without = [run(plain, request(key=str(i))) for i in range(10)]
    with_shadow = [run(shadowed, request(key=str(i))) for i in range(10)]

    def strip(r: CheckResult) -> dict[str, Any]:
        d = r.model_dump()
        d["details"]["routing"].pop("overhead_us")
        d["details"]["routing"]["excluded"] = []
        return d

    assert [strip(r) for r in without] == [strip(r) for r in with_shadow]
    assert all(routing(r)["vendor"] == "a" for r in with_shadow)
    assert len(shadow_vendors["s"].calls) == 10  # cheaper, declining, and never deciding
    assert {"vendor": "s", "reason": "shadow"} in routing(with_shadow[0])["excluded"]
    shadow_seen = [o for o in shadowed.observations if o.role == "shadow"]
    assert len(shadow_seen) == 10 and shadow_seen[0].outcome.decision == VendorDecision.DECLINE
    assert all(routing(r)["order"] == ["a"] and r.details["vendor"] == "a" for r in with_shadow)


def test_a_failing_shadow_vendor_changes_nothing() -> None:
    a = FakeVendor("a", 0.3)
    s = FakeVendor("s", 0.0, fault="timeout")
    result = run(Router({"a": a, "s": s}, RoutingConfig(shadow=("s",)), None))
    assert result.status == Status.OK and routing(result)["vendor"] == "a" and len(s.calls) == 1


def test_consensus_disagreement_gives_the_stricter_decision_and_vendor_disagreement() -> None:
    a = FakeVendor("a", 0.1, decision=VendorDecision.PASS, score=0.1)
    b = FakeVendor("b", 0.2, decision=VendorDecision.REVIEW, score=0.6)
    c = FakeVendor("c", 0.3, decision=VendorDecision.DECLINE, score=0.9)
    cons = RoutingConfig(consensus=Consensus(capabilities=(Capability.LIVENESS,), min_vendors=2))
    result = run(Router({"a": a, "b": b, "c": c}, cons, None), request(Capability.LIVENESS))
    r = routing(result)
    assert r["reason"] == "consensus" and r["vendor"] == "b"
    assert r["consensus"]["decisions"] == {"a": "pass", "b": "review"} and not r["consensus"]["agree"]
    assert "VENDOR_DISAGREEMENT" in result.reason_codes and "VENDOR_REVIEW" in result.reason_codes
    assert not c.calls
    # three vendors: decline beats review beats pass
    cons3 = RoutingConfig(consensus=Consensus(capabilities=(Capability.LIVENESS,), min_vendors=3))
    result = run(Router({"a": a, "b": b, "c": c}, cons3, None), request(Capability.LIVENESS))
    assert routing(result)["vendor"] == "c" and "VENDOR_DECLINED" in result.reason_codes
    # other capabilities are routed to one vendor
    assert routing(run(Router({"a": a, "b": b}, cons, None)))["reason"] == "cheapest_eligible"


def test_consensus_agreement_and_a_faulty_member_replaced() -> None:
    a = FakeVendor("a", 0.1, fault="timeout")
    b = FakeVendor("b", 0.2)
    c = FakeVendor("c", 0.3)
    cons = RoutingConfig(consensus=Consensus(capabilities=(Capability.DOCUMENT,), min_vendors=2))
    result = run(Router({"a": a, "b": b, "c": c}, cons, None))
    r = routing(result)
    assert r["consensus"]["agree"] and r["consensus"]["complete"]
    assert sorted(r["consensus"]["vendors"]) == ["b", "c"]
    assert r["failover_from"] == [{"vendor": "a", "fault": "timeout"}]
    assert "VENDOR_DISAGREEMENT" not in result.reason_codes and result.status == Status.OK


def test_exploration_rate_is_within_a_binomial_interval_and_stays_inside_the_floors() -> None:
    vendors = {
        "a": FakeVendor("a", 0.1),
        "b": FakeVendor("b", 0.2),
        "c": FakeVendor("c", 0.3),
        "low": FakeVendor("low", 0.0),
    }
    scorecard = card(a={"all": m(0.95)}, b={"all": m(0.95)}, c={"all": m(0.95)}, low={"all": m(0.5)})
    router = Router(vendors, RoutingConfig(floors=FLOOR, exploration=0.1), scorecard, rng_seed=7)
    n = 4000
    results = [run(router, request(key=str(i))) for i in range(n)]
    explored = [routing(r)["vendor"] for r in results if routing(r)["reason"] == "exploration"]
    p, sd = 0.1, math.sqrt(0.1 * 0.9 / n)
    assert p - 4 * sd < len(explored) / n < p + 4 * sd  # 4 sigma: a seeded run, not a flaky one
    assert set(explored) == {"b", "c"} and not vendors["low"].calls
    assert all(routing(r)["vendor"] == "a" for r in results if routing(r)["reason"] != "exploration")


def test_every_result_says_why_and_the_router_overhead() -> None:
    vendors = {"a": FakeVendor("a", 0.1, fault="timeout"), "b": FakeVendor("b", 0.2)}
    results = [
        run(Router(vendors, RoutingConfig(), None)),
        run(Router({"b": FakeVendor("b")}, RoutingConfig(exploration=0.5), None)),
        run(Router({"x": FakeVendor("x", fault="timeout")}, RoutingConfig(), None)),
        run(Router({"x": FakeVendor("x", countries=("FR",))}, RoutingConfig(), None)),
    ]
    for r in results:
        assert routing(r)["reason"] in {"cheapest_eligible", "failover", "all_failed", "none_eligible"}
        assert isinstance(routing(r)["overhead_us"], int)


def test_vendor_reason_codes_are_mapped_with_the_vendors_own_map() -> None:
    a = FakeVendor(
        "a", decision=VendorDecision.DECLINE, codes=("T1", "ZZ"), reason_codes={"T1": "DOCUMENT_TAMPERED"}
    )
    result = run(Router({"a": a}, RoutingConfig(), None))
    assert result.reason_codes == ("VENDOR_DECLINED", "DOCUMENT_TAMPERED", "VENDOR_REASON_UNMAPPED")
    assert result.check == "vendor_document"


def test_decide_runs_on_the_routers_own_loop_from_worker_threads_and_honours_the_deadline() -> None:
    slow = FakeVendor("slow", 0.1, delay_s=5.0)
    fast = FakeVendor("fast", 0.2, delay_s=0.001)
    with Router({"fast": fast}, RoutingConfig(), None) as router:
        out: list[CheckResult] = []
        threads = [
            threading.Thread(target=lambda i=i: out.append(router.decide(request(key=str(i)))))
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(out) == 8 and all(r.status == Status.OK for r in out)
    router = Router({"slow": slow}, RoutingConfig(), None, deadline_s=0.05)
    try:
        result = router.decide(request())
        assert result.status == Status.ERROR and result.reason_codes == ("VENDOR_UNAVAILABLE",)
        assert routing(result)["reason"] == "deadline"
    finally:
        router.close()
        router.close()  # idempotent


def test_scorecard_load_reads_a_folder_or_file_and_rejects_bad_ones(tmp_path: Path) -> None:
    raw = {
        "schema": "openidv.vendors.scorecard/1",
        "vendors": {"a": {"document": {"country=GB": m(0.9), "all": m(0.8)}}},
        "operations": {
            "a": {"document": {"decisions": {"pass": 8, "decline": 2}, "latency_ms": {"p50": 69.0}}}
        },
    }
    (tmp_path / "scorecard.json").write_text(json.dumps(raw))
    sc = Scorecard.load(tmp_path)
    assert sc.vendors() == ["a"]
    got = sc.measurement("a", "document", "recall_at_fpr_1e-2", country="GB")
    assert got is not None and got.slice == "country=GB" and got.ci_low == pytest.approx(0.88)
    assert sc.pass_rate("a", "document") == (0.8, 10) and sc.p50_latency_ms("a", "document") == 69.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"vendors": {"a": {"document": {"all": {"recall": 0.9}}}}}))
    with pytest.raises(ConfigurationError, match=r"all\.n"):
        Scorecard.load(bad)
    bad.write_text(json.dumps({"vendors": {"a": {"document": [m(0.9)]}}}))
    with pytest.raises(ConfigurationError, match="a mapping slice key"):
        Scorecard.load(bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        Scorecard.load(tmp_path / "missing.json")


def test_run_sync_gives_up_on_a_stuck_coroutine_and_cancels_it() -> None:
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with Router({"a": FakeVendor("a")}, RoutingConfig(), None) as router:
        with pytest.raises(TimeoutError):
            router.run_sync(stuck(), 0.05)
        assert cancelled.wait(5)
        assert router.run_sync(asyncio.sleep(0, result=7), 5) == 7


def test_error_rate_floors_use_the_complement_and_conservative_floors_the_interval_end() -> None:
    floor = {Capability.FACE_MATCH: Floor(metric="fnmr_at_fmr_1e-3", min=0.95)}

    def face(fnmr: float) -> dict[str, Any]:
        return {
            "n": 400,
            "fnmr_at_fmr_1e-3": {"value": fnmr, "ci_low": 0.0, "ci_high": fnmr + 0.03, "n": 200},
        }

    scorecard = Scorecard.from_dict(
        {
            "vendors": {
                "good": {"face_match": {"all": face(0.03)}},
                "bad": {"face_match": {"all": face(0.08)}},
            }
        }
    )
    vendors = {"good": FakeVendor("good", 0.5), "bad": FakeVendor("bad", 0.1)}
    r = routing(run(Router(vendors, RoutingConfig(floors=floor), scorecard), request(Capability.FACE_MATCH)))
    assert r["vendor"] == "good" and r["floor"]["accuracy"] == pytest.approx(0.97)
    strict = Router(vendors, RoutingConfig(floors=floor), scorecard, conservative_floors=True)
    r = routing(run(strict, request(Capability.FACE_MATCH)))  # 1 - 0.06 < 0.95: nobody passes
    assert r["vendor"] is None and {e["reason"] for e in r["excluded"]} == {"below_floor"}


def test_decide_can_run_on_the_vendor_runtimes_loop() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ran_on: list[bool] = []

    def runner(coro: Any, timeout: float | None = None) -> Any:
        ran_on.append(True)
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    try:
        router = Router({"a": FakeVendor("a")}, RoutingConfig(), None, runner=runner)
        assert router.decide(request()).status == Status.OK and ran_on == [True]
        assert router._loop is None  # it never started a loop of its own
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_every_call_is_reported_for_the_audit_log_with_its_role() -> None:
    calls: list[tuple[str, str, str, bool]] = []

    def hook(role: str, req: Any, answer: Any, result: CheckResult | None) -> None:
        kind = answer.kind if isinstance(answer, Exception) else str(answer.decision)
        vendor = answer.vendor
        calls.append((role, vendor, kind, result is not None))

    vendors = {
        "a": FakeVendor("a", 0.1, fault="timeout"),
        "b": FakeVendor("b", 0.2, decision=VendorDecision.DECLINE),
        "s": FakeVendor("s", 0.0),
    }
    run(Router(vendors, RoutingConfig(shadow=("s",)), None, on_call=hook))
    assert sorted(calls) == [
        ("routed", "a", "timeout", False),
        ("routed", "b", "decline", True),
        ("shadow", "s", "pass", False),
    ]
