"""A completed liveness session feeds `POST /v1/verifications`; its own best frame is not called a replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openidv.checks.liveness.replay import Fingerprint
from openidv.imageio import load_image


@pytest.fixture
def api(api_client):  # type: ignore[no-untyped-def]
    return api_client


def set_status(client: TestClient, session_id: str, status: str, codes: list[str]) -> None:
    service = client.app.state.services.liveness_sessions  # type: ignore[attr-defined]
    service._finish(session_id, status, {"passed": status == "passed", "reason_codes": codes})


def verify(client: TestClient, headers: dict[str, str], selfie: bytes, session_id: str) -> dict:  # type: ignore[type-arg]
    files = {"selfie": ("best.jpg", selfie, "image/jpeg"), "liveness_session_id": (None, session_id)}
    response = client.post("/v1/verifications", files=files, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_session_verdicts_reach_the_decision(api, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    client, _, headers = api
    selfie = (shared_data / "faces" / "obama" / "obama1.jpg").read_bytes()
    session = client.post("/v1/liveness/sessions", headers=headers).json()

    other_selfie = (shared_data / "faces" / "biden" / "biden1.jpg").read_bytes()
    open_body = verify(client, headers, other_selfie, session["id"])
    checks = {c["check"]: c for c in open_body["checks"]}
    assert checks["liveness_session"]["status"] == "failed_to_acquire"
    assert "LIVENESS_SESSION_INCOMPLETE" in open_body["reason_codes"] and open_body["decision"] == "review"

    # The session's frames were recorded in the capture index under the session id (as the service does).
    index = client.app.state.services.capture_index
    assert index is not None
    index.add(Fingerprint.of(load_image(selfie).bgr), kind="liveness", reference=session["id"])
    set_status(client, session["id"], "passed", [])
    passed = verify(client, headers, selfie, session["id"])
    checks = {c["check"]: c for c in passed["checks"]}
    assert checks["liveness_session"]["score"] == 0.0
    assert "REPLAYED_CAPTURE" not in passed["reason_codes"], passed["reason_codes"]

    other = client.post("/v1/liveness/sessions", headers=headers).json()
    set_status(client, other["id"], "failed", ["LIVENESS_CHALLENGE_FAILED"])
    failed = verify(client, headers, selfie, other["id"])
    assert failed["decision"] == "reject"
    assert {"LIVENESS_CHALLENGE_FAILED", "REPLAYED_CAPTURE"} <= set(failed["reason_codes"])

    unknown = verify(client, headers, selfie, "no-such-session")
    assert "LIVENESS_SESSION_UNKNOWN" in unknown["reason_codes"]
