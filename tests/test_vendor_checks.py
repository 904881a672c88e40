"""Vendor checks in the pipeline: requests built from evidence, a simulated vendor judged through the policy,
reason codes mapped, raw answers stored sealed with the verification, erased and purged with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from openidv.checks.base import FollowUp
from openidv.checks.registry import create_check
from openidv.checks.services import VENDOR_ROUTER
from openidv.checks.vendor import RecordVendorCalls, VendorCheck, alpha2, document_type_of
from openidv.decision.policy import Policy, default_policy_path, parse_policy
from openidv.errors import ConfigurationError
from openidv.evidence import ApplicantData, Evidence
from openidv.imageio import load_image
from openidv.results import CheckResult, Meaning, Outcome, Status
from openidv.services.container import Services
from openidv.services.subjects import SubjectService
from openidv.services.verifier import Verifier
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.repository import Store
from openidv.store.vendor_call_store import calls_of, purge_vendor_calls, read_raw
from openidv.vendor_types import Capability, VendorRequest
from openidv.vendors.audit import VendorCallLog
from openidv.vendors.client import VendorRuntime
from openidv.vendors.config import VendorConfig
from openidv.vendors.simulated import SimulatedVendorServer
from openidv.vendors.single import SingleVendorRouter, router_from_file


def vendor_config(**options: Any) -> VendorConfig:
    return VendorConfig.model_validate(
        {
            "adapter": "simulated",
            "endpoint": "http://127.0.0.1:1",
            "capabilities": ["face_match", "liveness", "document"],
            "timeout_s": 20.0,  # the vendor runs our face model on the photos: the first call loads it
            "retries": 1,
            "backoff_s": 0.01,
            "cost_per_call": 0.4,
            "circuit": {"failures": 50, "window_s": 30, "open_s": 30},
            "reason_codes": {"face.mismatch": "FACE_MISMATCH"},
            "options": {
                "accuracy": {"default": {"tpr": 1.0, "tnr": 1.0}},
                "latency": {"median_ms": 1, "sigma": 0.1},
                **options,
            },
        }
    )


def vendor_policy(check: str = "vendor_face_match") -> Policy:
    """The default policy's vendor rules (and its check-error rule) with one vendor check configured."""
    raw = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    rules = [r for r in raw["rules"] if r["name"].startswith("vendor-") or r["name"] == "check-error"]
    return parse_policy({"version": "test", "default": "approve", "checks": {check: {}}, "rules": rules})


@pytest.fixture(scope="module")
def runtime() -> Iterator[VendorRuntime]:
    rt = VendorRuntime()
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatedVendorServer]:
    with SimulatedVendorServer("acme", vendor_config(), port=0) as srv:
        yield srv


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(make_engine(sqlite_url))
    yield s
    s.engine.dispose()


def router_for(
    runtime: VendorRuntime, server: SimulatedVendorServer, store: Store, **changes: Any
) -> SingleVendorRouter:
    config = vendor_config().model_copy(update={"endpoint": server.url, **changes})
    return SingleVendorRouter("acme", config, runtime, log=VendorCallLog(lambda: store.keyring))


def faces(shared_data: Path, selfie: str, document: str) -> Evidence:
    root = shared_data / "faces"
    return Evidence(
        selfie=load_image(root / selfie),
        document_image=load_image(root / document),
        subject_id="applicant-1",
        metadata={"channel": "web", "country": "GB", "document_type": "passport"},
    )


def test_a_vendor_decline_rejects_with_our_mapped_codes_and_is_stored_sealed(
    runtime: VendorRuntime, server: SimulatedVendorServer, store: Store, shared_data: Path
) -> None:
    router = router_for(runtime, server, store)
    verifier = Verifier(vendor_policy(), Services(vendor_router=router), store)
    record = verifier.verify(faces(shared_data, "obama/obama1.jpg", "biden/biden1.jpg"))
    assert record.decision.outcome == Outcome.REJECT
    assert "VENDOR_DECLINED" in record.decision.reason_codes
    assert "FACE_MISMATCH" in record.decision.reason_codes  # the vendor's face.mismatch, mapped
    assert [f.rule for f in record.decision.fired_rules] == ["vendor-declined"]
    (result,) = record.checks
    assert result.check == "vendor_face_match" and result.meaning == Meaning.SIMILARITY
    assert result.details["vendor"] == "acme" and result.details["vendor_reason_codes"] == ["face.mismatch"]
    assert result.details["country"] == "GB" and result.score is not None and result.score < 0.5
    (call,) = calls_of(store, record.id)
    assert call.decision == "decline" and call.vendor == "acme" and call.capability == "face_match"
    assert call.reason_codes == "VENDOR_DECLINED,FACE_MISMATCH"
    assert call.attempts == 1 and call.cost == pytest.approx(0.4) and call.fault is None
    assert call.idempotency_key == result.details["call_key"]
    assert b"rejected" not in (call.raw_sealed or b"")  # sealed, not plain JSON
    raw = read_raw(store.keyring, call)
    assert raw["result"] == "rejected" and raw["reasons"] == ["face.mismatch"]

    approved = verifier.verify(faces(shared_data, "obama/obama1.jpg", "obama/obama2.jpg"))
    assert approved.decision.outcome == Outcome.APPROVE
    assert approved.checks[0].score is not None and approved.checks[0].score > 0.5
    assert [c.decision for c in calls_of(store, approved.id)] == ["pass"]


def test_an_unreachable_vendor_sends_the_applicant_to_review_and_the_failed_call_is_audited(
    runtime: VendorRuntime, store: Store, shared_data: Path
) -> None:
    config = vendor_config()
    with SimulatedVendorServer("down", config, port=0) as srv:
        srv.outage(60)
        router = SingleVendorRouter(
            "down",
            config.model_copy(update={"endpoint": srv.url}),
            runtime,
            log=VendorCallLog(lambda: store.keyring),
        )
        record = Verifier(vendor_policy(), Services(vendor_router=router), store).verify(
            faces(shared_data, "obama/obama1.jpg", "obama/obama2.jpg")
        )
    assert record.decision.outcome == Outcome.REVIEW
    assert "VENDOR_UNAVAILABLE" in record.decision.reason_codes
    (result,) = record.checks
    assert result.status == Status.ERROR and result.details["fault"] == "http_5xx"
    (call,) = calls_of(store, record.id)
    assert call.decision is None and call.fault == "http_5xx" and call.attempts == 2
    assert call.cost == pytest.approx(0.8)  # both attempts reached the vendor: billed


def test_nothing_is_written_when_the_verification_is_not_stored(
    runtime: VendorRuntime, server: SimulatedVendorServer, store: Store, shared_data: Path
) -> None:
    router = router_for(runtime, server, store)
    verifier = Verifier(vendor_policy("vendor_liveness"), Services(vendor_router=router), store)
    evidence = Evidence(selfie=load_image(shared_data / "faces" / "obama" / "obama3.jpg"))
    record = verifier.verify(evidence, save=False)
    assert record.checks[0].check == "vendor_liveness"
    assert calls_of(store, record.id) == []
    key = record.checks[0].details["call_key"]
    assert router.log is not None and len(router.log.pending(key)) == 1  # kept in memory until it expires


def test_the_pending_buffer_is_bounded() -> None:
    from openidv.vendors.audit import CallRecord

    clock = [0.0]
    log = VendorCallLog(lambda: None, max_keys=3, ttl_s=10, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    record = CallRecord("v", "face_match", "k", "t", "pass", (), 1.0, 0.1, 1)
    for i in range(5):
        log.remember(f"k{i}", record)
    assert [bool(log.pending(f"k{i}")) for i in range(5)] == [False, False, True, True, True]
    clock[0] = 11
    log.remember("new", record)
    assert [bool(log.pending(f"k{i}")) for i in range(5)] == [False] * 5 and log.dropped == 5


def test_erasure_and_retention_remove_vendor_calls(
    runtime: VendorRuntime, server: SimulatedVendorServer, store: Store, shared_data: Path
) -> None:
    router = router_for(runtime, server, store)
    verifier = Verifier(vendor_policy(), Services(vendor_router=router), store)
    record = verifier.verify(faces(shared_data, "obama/obama1.jpg", "obama/obama2.jpg"))
    assert len(calls_of(store, record.id)) == 1
    SubjectService(store, None).erase("applicant-1")
    assert calls_of(store, record.id) == []

    other = verifier.verify(faces(shared_data, "obama/obama2.jpg", "obama/obama1.jpg"))
    later = datetime.now(UTC) + timedelta(days=1)
    assert purge_vendor_calls(store, later, dry_run=True) == 1
    report = SubjectService(store, None).purge(
        Settings(retention_verifications_days=0, retention_vendor_calls_days=1), now=later + timedelta(days=1)
    )
    assert report.vendor_calls == 1 and calls_of(store, other.id) == []
    assert store.verify_audit_chain().ok


# ------------------------------------------------------------------ building the request


class Recorder:
    def __init__(self) -> None:
        self.requests: list[VendorRequest] = []

    def decide(self, request: VendorRequest) -> CheckResult:
        self.requests.append(request)
        return CheckResult(
            check="router", version="x", status=Status.FAILED_TO_ACQUIRE, meaning=Meaning.ATTACK, details={}
        )

    def apply_follow_up(self, follow_up: FollowUp, **_: Any) -> None:
        return None


def test_request_takes_issuer_and_type_from_the_mrz_and_the_channel_from_metadata(shared_data: Path) -> None:
    recorder = Recorder()
    check = create_check("vendor_document", {}, {VENDOR_ROUTER: recorder})
    assert isinstance(check, VendorCheck) and check.after == ("mrz", "document_read")
    document = load_image(shared_data / "documents" / "passport-td3.jpg")
    evidence = Evidence(
        document_image=document,
        document_back=document,
        metadata={"channel": "mobile", "country": "FR", "document_type": "id_card"},
        applicant=ApplicantData(country="US"),
        tenant_id="bank",
    )
    mrz = CheckResult(
        check="mrz",
        version="1",
        status=Status.OK,
        meaning=Meaning.ATTACK,
        details={"fields": {"issuer": "DEU", "document_code": "P"}},
    )
    result = check.run_after(evidence, {"mrz": mrz})
    (request,) = recorder.requests
    assert request.capability == Capability.DOCUMENT and request.tenant == "bank"
    assert (request.country, request.document_type, request.channel) == ("DE", "passport", "mobile")
    assert request.document_front and request.document_front[:2] == b"\xff\xd8" and request.document_back
    assert request.selfie is None
    # the router's result becomes this check's, and an input the vendor could not judge goes to review
    assert result.check == "vendor_document" and result.meaning == Meaning.ATTACK
    assert result.reason_codes == ("VENDOR_UNPROCESSABLE",)
    assert check.follow_ups(evidence, result) == (
        RecordVendorCalls(request.idempotency_key, "vendor_document"),
    )
    # without an MRZ the caller's metadata names the slice; every call gets its own key
    check.run(evidence)
    assert (recorder.requests[1].country, recorder.requests[1].document_type) == ("FR", "id_card")
    assert recorder.requests[1].idempotency_key != request.idempotency_key


def test_country_and_document_type_helpers() -> None:
    assert alpha2("GBR") == "GB" and alpha2("D<<") == "D" and alpha2("de") == "DE" and alpha2(None) is None
    assert document_type_of("P<") == "passport" and document_type_of("ID") == "id_card"
    assert document_type_of("IR") == "residence_permit" and document_type_of("V") == "visa"


def test_vendor_checks_need_the_router_and_the_default_policy_runs_none() -> None:
    with pytest.raises(ConfigurationError, match="vendor_router"):
        create_check("vendor_face_match", {}, {})
    default = parse_policy(yaml.safe_load(default_policy_path().read_text(encoding="utf-8")))
    assert not any(name.startswith("vendor_") for name in default.checks)
    assert {"vendor-declined", "vendor-review"} <= {r.name for r in default.rules}
    assert Services().as_mapping()[VENDOR_ROUTER] is None


def test_openidv_vendors_builds_the_router(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vendors.yaml"
    path.write_text(
        yaml.safe_dump({"vendors": {"acme": vendor_config().model_dump(mode="json")}}), encoding="utf-8"
    )
    monkeypatch.setenv("OPENIDV_VENDORS", str(path))
    monkeypatch.setenv("OPENIDV_RETENTION_VENDOR_CALLS_DAYS", "7")
    settings = Settings.from_env()
    assert settings.vendors_path == path and settings.retention_vendor_calls_days == 7
    router = router_from_file(path, lambda: store.keyring)
    try:
        assert router.name == "acme" and router.breakers()["acme"]["state"] == "closed"
    finally:
        router.runtime.close()
