"""Wire contracts of the real vendor adapters (Onfido v3.6, Veriff), against the documented examples.

``httpx.MockTransport`` is the right tool here: the subject is the exact bytes on the wire (paths,
headers, HMAC signatures, bodies) and the parsing of the documented answers stored under
tests/data/vendors/ (sources in its README). The adapters are written from public documentation and are
untested against the live services.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from openidv.errors import ConfigurationError
from openidv.results import Meaning, Status
from openidv.vendors.adapters import adapter_for
from openidv.vendors.adapters._http import RateLimited
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import Capability, VendorDecision, VendorFault, VendorRequest, normalise

DATA = Path(__file__).parent / "data" / "vendors"
SESSION = "f04bdb47-d3be-4b28-b028-a652feb060b5"


def doc(vendor: str, name: str) -> Any:
    return json.loads((DATA / vendor / f"{name}.json").read_text())


def run(adapter: Any, request: VendorRequest, handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await adapter.call(request, client)

    return asyncio.run(go())


def scripted(
    answers: list[httpx.Response], seen: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answers.pop(0)

    return handler


@pytest.fixture
def veriff(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("T_VERIFF_KEY", "pub-key")
    monkeypatch.setenv("T_VERIFF_SECRET", "shared-secret")
    config = VendorConfig(
        adapter="veriff",
        endpoint="https://stationapi.veriff.com/",
        credentials_env={"api_key": "T_VERIFF_KEY", "shared_secret": "T_VERIFF_SECRET"},
        capabilities=(Capability.DOCUMENT, Capability.FACE_MATCH),
        cost_per_call=0.8,
        reason_codes={"102": "DOCUMENT_TAMPERED"},
        options={"poll_interval_s": 0, "max_polls": 3},
    )
    return adapter_for("veriff_eu", config)


@pytest.fixture
def onfido(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("T_ONFIDO_TOKEN", "api_sandbox.abc")
    config = VendorConfig(
        adapter="onfido",
        endpoint="https://api.eu.onfido.com/v3.6",
        credentials_env={"api_token": "T_ONFIDO_TOKEN"},
        capabilities=(Capability.DOCUMENT, Capability.FACE_MATCH, Capability.LIVENESS),
        cost_per_call=1.2,
        options={"poll_interval_s": 0, "max_polls": 3},
    )
    return adapter_for("onfido_eu", config)


def request(capability: Capability, **kw: Any) -> VendorRequest:
    base: dict[str, Any] = {
        "capability": capability,
        "idempotency_key": "verif-1:document:0",
        "tenant": "t1",
        "country": "GB",
        "document_type": "passport",
        "document_front": b"\xff\xd8front",
        "declared": {"given_names": "Jane", "surname": "Doe"},
    }
    base.update(kw)
    return VendorRequest(**base)


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def sign(payload: bytes) -> str:
    return hmac.new(b"shared-secret", payload, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------- Veriff


def test_veriff_document_call_sequence_signatures_and_outcome(veriff: Any) -> None:
    seen: list[httpx.Request] = []
    answers = [
        ok(doc("veriff", "session_created"), 201),
        ok(doc("veriff", "media_uploaded")),
        ok(doc("veriff", "session_submitted")),
        ok(doc("veriff", "decision_pending")),
        ok(doc("veriff", "decision_approved")),
    ]
    outcome = run(veriff, request(Capability.DOCUMENT), scripted(answers, seen))
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v1/sessions"),
        ("POST", f"/v1/sessions/{SESSION}/media"),
        ("PATCH", f"/v1/sessions/{SESSION}"),
        ("GET", f"/v1/sessions/{SESSION}/decision"),
        ("GET", f"/v1/sessions/{SESSION}/decision"),
    ]
    assert all(r.headers["x-auth-client"] == "pub-key" for r in seen)
    assert str(seen[0].url) == "https://stationapi.veriff.com/v1/sessions"
    assert "x-hmac-signature" not in seen[0].headers  # POST /sessions is documented as unsigned
    assert json.loads(seen[0].content) == {
        "verification": {
            "vendorData": "verif-1:document:0",
            "document": {"country": "GB", "type": "PASSPORT"},
            "person": {"firstName": "Jane", "lastName": "Doe"},
        }
    }
    media = json.loads(seen[1].content)
    assert media == {
        "image": {"context": "document-front", "content": base64.b64encode(b"\xff\xd8front").decode()}
    }
    for r in seen[1:3]:
        assert r.headers["x-hmac-signature"] == sign(r.content)
    assert json.loads(seen[2].content) == {"verification": {"status": "submitted"}}
    for r in seen[3:]:
        assert r.headers["x-hmac-signature"] == sign(SESSION.encode())
    assert outcome.decision == VendorDecision.PASS
    assert outcome.score == 0.0  # attack meaning: approved is the least suspicious
    assert outcome.vendor_reference == "12df6045-3846-3e45-946a-14fa6136d78b"
    assert (
        outcome.cost == 0.8
        and outcome.vendor_reason_codes == ()
        and outcome.raw["verification"]["code"] == 9001
    )


def test_veriff_decline_maps_reason_and_normalises(veriff: Any) -> None:
    seen: list[httpx.Request] = []
    answers = [
        ok(doc("veriff", "session_created"), 201),
        ok(doc("veriff", "media_uploaded")),
        ok(doc("veriff", "media_uploaded")),
        ok(doc("veriff", "session_submitted")),
        ok(doc("veriff", "decision_declined")),
    ]
    outcome = run(veriff, request(Capability.FACE_MATCH, selfie=b"selfie"), scripted(answers, seen))
    contexts = [json.loads(r.content)["image"]["context"] for r in seen[1:3]]
    assert contexts == ["document-front", "face"]
    assert outcome.decision == VendorDecision.DECLINE and outcome.score == 0.0  # similarity: declined = 0
    assert outcome.vendor_reason_codes == ("102",)
    result = normalise(outcome, check="vendor_face", version="1", reason_map=veriff.config.reason_codes)
    assert result.status == Status.OK and result.meaning == Meaning.SIMILARITY
    assert result.reason_codes == ("VENDOR_DECLINED", "DOCUMENT_TAMPERED")


@pytest.mark.parametrize(
    "response,kind",
    [
        (httpx.Response(503, text="upstream"), "http_5xx"),
        (httpx.Response(401, json={"status": "fail", "code": 1801}), "auth"),
        (httpx.Response(400, json={"status": "fail", "code": 1102}), "config"),
        (httpx.Response(201, text="<html>"), "malformed"),
        (httpx.Response(201, json={"status": "success"}), "malformed"),
    ],
)
def test_veriff_faults(veriff: Any, response: httpx.Response, kind: str) -> None:
    with pytest.raises(VendorFault) as err:
        run(veriff, request(Capability.DOCUMENT), scripted([response], []))
    assert err.value.kind == kind and err.value.vendor == "veriff_eu"


def test_veriff_rate_limit_and_timeout(veriff: Any) -> None:
    with pytest.raises(RateLimited) as err:
        run(
            veriff,
            request(Capability.DOCUMENT),
            scripted([httpx.Response(429, headers={"Retry-After": "7"})], []),
        )
    assert err.value.kind == "rate_limited" and err.value.retry_after_s == 7.0

    def slow(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=req)

    with pytest.raises(VendorFault) as timeout:
        run(veriff, request(Capability.DOCUMENT), slow)
    assert timeout.value.kind == "timeout"


def test_veriff_poll_429_waits_and_keeps_the_session(veriff: Any) -> None:
    seen: list[httpx.Request] = []
    answers = [
        ok(doc("veriff", "session_created"), 201),
        ok(doc("veriff", "media_uploaded")),
        ok(doc("veriff", "session_submitted")),
        httpx.Response(429, headers={"Retry-After": "0"}),
        ok(doc("veriff", "decision_approved")),
    ]
    outcome = run(veriff, request(Capability.DOCUMENT), scripted(answers, seen))
    assert outcome.decision == VendorDecision.PASS
    assert sum(r.url.path == "/v1/sessions" for r in seen) == 1


def test_veriff_resubmission_is_unprocessable_not_a_fault(veriff: Any) -> None:
    body = doc("veriff", "decision_declined")
    body["verification"].update(
        status="resubmission_requested", code=9103, reasonCode=204, reason="Poor image quality"
    )
    answers = [ok(doc("veriff", "session_created"), 201), ok({}), ok({}), ok(body)]
    outcome = run(veriff, request(Capability.DOCUMENT), scripted(answers, []))
    assert outcome.decision == VendorDecision.UNPROCESSABLE and outcome.score is None
    assert normalise(outcome, check="v", version="1", reason_map={}).status == Status.FAILED_TO_ACQUIRE


# --------------------------------------------------------------------------------------------- Onfido


def _form(r: httpx.Request) -> dict[str, str]:
    """Text fields of a multipart body (name -> value), files left out."""
    out: dict[str, str] = {}
    for part in r.content.split(b"--" + r.headers["content-type"].split("boundary=")[1].encode()):
        if b'name="' in part and b"filename=" not in part:
            name = part.split(b'name="')[1].split(b'"')[0].decode()
            out[name] = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0].decode()
    return out


def test_onfido_face_match_sequence_and_score(onfido: Any) -> None:
    seen: list[httpx.Request] = []
    answers = [
        ok(doc("onfido", "applicant"), 201),
        ok(doc("onfido", "document"), 201),
        ok(doc("onfido", "live_photo"), 201),
        ok(doc("onfido", "check_in_progress"), 201),
        ok(doc("onfido", "check_complete")),
        ok(doc("onfido", "report_facial_similarity_clear")),
    ]
    outcome = run(
        onfido, request(Capability.FACE_MATCH, selfie=b"selfie-bytes", country="GBR"), scripted(answers, seen)
    )
    applicant = "8e9c7b2a-1f43-4a6e-9d2b-6c1a3e5f7b90"
    check = "0f2a9b4c-6d8e-4f1a-8b3c-5e7d9f1a2b4c"
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v3.6/applicants"),
        ("POST", "/v3.6/documents"),
        ("POST", "/v3.6/live_photos"),
        ("POST", "/v3.6/checks"),
        ("GET", f"/v3.6/checks/{check}"),
        ("GET", "/v3.6/reports/5d3b1f7e-9a2c-4e6b-8d1f-3a5c7e9b1d2f"),
    ]
    assert all(r.headers["authorization"] == "Token token=api_sandbox.abc" for r in seen)
    assert json.loads(seen[0].content) == {"first_name": "Jane", "last_name": "Doe"}
    assert _form(seen[1]) == {
        "applicant_id": applicant,
        "type": "passport",
        "side": "front",
        "issuing_country": "GBR",
    }
    assert b"\xff\xd8front" in seen[1].content and b"selfie-bytes" in seen[2].content
    assert _form(seen[2]) == {"applicant_id": applicant}
    assert json.loads(seen[3].content) == {
        "applicant_id": applicant,
        "report_names": ["facial_similarity_photo"],
        "document_ids": ["7568a2c8-3e6b-4f0e-bd2a-4a9a1d4d3b11"],
        "tags": ["openidv:verif-1:document:0"],
    }
    assert outcome.decision == VendorDecision.PASS
    assert outcome.score == pytest.approx(0.6512)  # face_match.properties.score, similarity as given
    assert outcome.vendor_reason_codes == () and outcome.cost == 1.2


def test_onfido_liveness_score_is_one_minus_spoofing(onfido: Any) -> None:
    answers = [
        ok(doc("onfido", "applicant"), 201),
        ok(doc("onfido", "document"), 201),
        ok(doc("onfido", "live_photo"), 201),
        ok(doc("onfido", "check_complete"), 201),
        ok(doc("onfido", "report_facial_similarity_clear")),
    ]
    outcome = run(onfido, request(Capability.LIVENESS, selfie=b"s"), scripted(answers, []))
    assert outcome.decision == VendorDecision.PASS and outcome.score == pytest.approx(1 - 0.9915)


def test_onfido_document_suspected_declines_with_breakdown_codes(onfido: Any) -> None:
    seen: list[httpx.Request] = []
    answers = [
        ok(doc("onfido", "applicant"), 201),
        ok(doc("onfido", "document"), 201),
        ok(doc("onfido", "check_complete"), 201),
        ok(doc("onfido", "report_document_suspected")),
    ]
    outcome = run(onfido, request(Capability.DOCUMENT, country="GB"), scripted(answers, seen))
    assert "issuing_country" not in _form(seen[1])  # Onfido takes alpha-3 only
    assert json.loads(seen[2].content)["report_names"] == ["document"]
    assert outcome.decision == VendorDecision.DECLINE and outcome.score == 1.0
    assert outcome.vendor_reason_codes == (
        "visual_authenticity",
        "visual_authenticity.original_document_present",
    )


def test_onfido_faults(onfido: Any) -> None:
    with pytest.raises(VendorFault) as invalid:
        run(onfido, request(Capability.DOCUMENT), scripted([ok(doc("onfido", "error_validation"), 422)], []))
    assert invalid.value.kind == "config" and "validation_error" in invalid.value.detail
    with pytest.raises(VendorFault) as server:
        run(onfido, request(Capability.DOCUMENT), scripted([httpx.Response(502)], []))
    assert server.value.kind == "http_5xx"
    pending = [ok(doc("onfido", "applicant"), 201), ok(doc("onfido", "document"), 201)]
    pending += [ok(doc("onfido", "check_in_progress"))] * 4
    with pytest.raises(VendorFault) as slow:
        run(onfido, request(Capability.DOCUMENT), scripted(pending, []))
    assert slow.value.kind == "timeout"
    bad = doc("onfido", "report_document_suspected")
    bad["sub_result"], bad["result"] = "mystery", "mystery"
    answers = [ok(doc("onfido", "applicant"), 201), ok(doc("onfido", "document"), 201)]
    answers += [ok(doc("onfido", "check_complete"), 201), ok(bad)]
    with pytest.raises(VendorFault) as malformed:
        run(onfido, request(Capability.DOCUMENT), scripted(answers, []))
    assert malformed.value.kind == "malformed"


def test_registry_unknown_kind_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    config = VendorConfig(adapter="nope", endpoint="http://x", capabilities=(Capability.DOCUMENT,))
    with pytest.raises(ConfigurationError, match="unknown adapter 'nope'"):
        adapter_for("v", config)
    monkeypatch.delenv("T_MISSING", raising=False)
    config = VendorConfig(
        adapter="onfido",
        endpoint="http://x",
        capabilities=(Capability.DOCUMENT,),
        credentials_env={"api_token": "T_MISSING"},
    )
    with pytest.raises(ConfigurationError, match="T_MISSING"):
        adapter_for("v", config)
