"""The review queue over HTTP (``/v1/cases``), on SQLite and PostgreSQL: the same queue the service (and the
console built on it) shows, scopes, the reviewer each call names, four eyes, the final outcome on the
verification, the webhook, and bad input as problem+json.

Verifications come from the app's own verifier (the real pipeline and store) with the review test policy
of ``tests/review_helpers.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from openidv.api.app import create_app
from openidv.services import Verifier
from openidv.services.review_cases import ReviewCases
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.queue_tables import OutboxEvent
from openidv.store.repository import Store
from openidv.tenancy import SCOPES
from tests.review_helpers import (
    REJECT,
    REVIEW,
    metadata_check,  # noqa: F401  (fixture)
    review_policy,
    verify,
)

pytestmark = pytest.mark.usefixtures("metadata_check")

READ, REVIEWING, SUPERVISING = ("cases:read",), ("cases:read", "cases:review"), SCOPES


@dataclass
class Api:
    client: TestClient
    store: Store
    verifier: Verifier

    def key(self, scopes: tuple[str, ...], tenant: str = "default") -> dict[str, str]:
        _, key = self.store.create_api_key("k", tenant=tenant, scopes=scopes)
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    store = Store(make_engine(database_url))
    app = create_app(
        Settings(data_dir=tmp_path, webhook_allow_private=True), store=store, policy=review_policy()
    )
    with TestClient(app) as client:
        yield Api(client, store, app.state.verifier)
    store.engine.dispose()


def _post(api: Api, path: str, headers: dict[str, str], **body: Any) -> Any:
    return api.client.post(path, json=body, headers=headers)


def test_queue_case_media_claim_decide_and_the_verification_shows_both_outcomes(api: Api) -> None:
    reviewer = api.key(REVIEWING)
    hook = api.client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/r"}, headers=api.key(SCOPES)
    )
    assert hook.status_code == 201, hook.text
    record = verify(api.verifier, REVIEW, subject_id="cust-1")
    queue = api.client.get("/v1/cases", headers=reviewer)
    assert queue.status_code == 200, queue.text
    # the API's queue is the service's queue (the console reads the same service)
    page = ReviewCases(api.store).list_cases("default")
    assert [i["id"] for i in queue.json()["items"]] == [i.id for i in page.items]
    assert queue.json()["items"][0]["verification_id"] == record.id
    case_id = queue.json()["items"][0]["id"]

    detail = api.client.get(f"/v1/cases/{case_id}", headers=reviewer).json()
    assert detail["state"] == "open" and detail["verification"]["decision"] == "review"
    assert {c["check"] for c in detail["verification"]["checks"]} == {"test_metadata_score", "mrz"}
    media_id = detail["media"][0]["id"]
    image = api.client.get(f"/v1/cases/{case_id}/media/{media_id}", headers=reviewer)
    assert image.status_code == 200 and image.headers["content-type"] == detail["media"][0]["content_type"]
    assert image.headers["cache-control"] == "no-store" and image.content.startswith(b"\xff\xd8\xff")
    assert len(image.content) == detail["media"][0]["size"]

    claimed = _post(api, f"/v1/cases/{case_id}/claim", reviewer, reviewer="alice")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "api:alice"
    other = _post(api, f"/v1/cases/{case_id}/claim", reviewer, reviewer="bob")
    assert other.status_code == 409 and "api:alice" in other.json()["detail"]
    decided = _post(
        api, f"/v1/cases/{case_id}/decision", reviewer, reviewer="alice", outcome="reject", reason="a screen"
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "decided" and decided.json()["final_outcome"] == "reject"

    shown = api.client.get(f"/v1/verifications/{record.id}", headers=api.key(SCOPES)).json()
    assert shown["decision"] == "review" and shown["final_outcome"] == "reject"
    assert shown["review"]["case_id"] == case_id and shown["review"]["state"] == "decided"
    listed = api.client.get("/v1/verifications", headers=api.key(SCOPES)).json()["items"]
    assert listed[0]["outcome"] == "review" and listed[0]["final_outcome"] == "reject"
    with api.store.transaction() as session:
        bodies = [json.loads(b) for b in session.scalars(select(OutboxEvent.body))]
    reviewed = [b for b in bodies if b["type"] == "verification.reviewed"]
    assert reviewed and reviewed[0]["data"] == {
        "id": record.id,
        "case_id": case_id,
        "decision": "review",
        "final_outcome": "reject",
    }


def test_four_eyes_over_the_api(api: Api) -> None:
    supervisor, analyst = api.key(SUPERVISING), api.key(REVIEWING)
    rejected = verify(api.verifier, REJECT)
    refused = _post(api, "/v1/cases", analyst, reviewer="al", verification_id=rejected.id, reason="complaint")
    assert refused.status_code == 403  # opening a case needs cases:supervise
    opened = _post(
        api, "/v1/cases", supervisor, reviewer="sue", verification_id=rejected.id, reason="complaint"
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    assert opened.headers["location"] == f"/v1/cases/{case_id}"
    assert opened.json()["automated_outcome"] == "reject" and opened.json()["opened_by"] == "api:sue"
    assert _post(api, f"/v1/cases/{case_id}/claim", supervisor, reviewer="sue").status_code == 200
    proposed = _post(
        api, f"/v1/cases/{case_id}/decision", supervisor, reviewer="sue", outcome="approve", reason="translit"
    )
    assert proposed.json()["state"] == "awaiting_confirmation"
    own = _post(api, f"/v1/cases/{case_id}/confirmation", supervisor, reviewer="sue", accept=True, reason="y")
    assert own.status_code == 403 and "own override" in own.json()["detail"]
    assert own.headers["content-type"].startswith("application/problem+json")
    scope = _post(api, f"/v1/cases/{case_id}/confirmation", analyst, reviewer="al", accept=True, reason="y")
    assert scope.status_code == 403
    confirmed = _post(
        api, f"/v1/cases/{case_id}/confirmation", supervisor, reviewer="sam", accept=True, reason="agreed"
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["final_outcome"] == "approve" and body["decided_by"] == "api:sue"
    assert body["confirmed_by"] == "api:sam"
    shown = api.client.get(f"/v1/verifications/{rejected.id}", headers=supervisor).json()
    assert shown["decision"] == "reject" and shown["final_outcome"] == "approve"
    assert api.store.verify_audit_chain().ok


def test_an_analyst_key_cannot_claim_an_escalated_case(api: Api) -> None:
    analyst, supervisor = api.key(REVIEWING), api.key(SUPERVISING)
    verify(api.verifier, REVIEW)
    case_id = api.client.get("/v1/cases", headers=analyst).json()["items"][0]["id"]
    _post(api, f"/v1/cases/{case_id}/claim", analyst, reviewer="al")
    escalated = _post(
        api, f"/v1/cases/{case_id}/decision", analyst, reviewer="al", outcome="escalate", reason="unsure"
    )
    assert escalated.json()["state"] == "escalated"
    assert api.client.get("/v1/cases?state=escalated", headers=analyst).json()["items"][0]["id"] == case_id
    assert _post(api, f"/v1/cases/{case_id}/claim", analyst, reviewer="al").status_code == 403
    assert _post(api, f"/v1/cases/{case_id}/claim", supervisor, reviewer="sue").status_code == 200


def test_scopes_tenants_and_bad_input(api: Api) -> None:
    verify(api.verifier, REVIEW)
    reader = api.key(READ)
    case_id = api.client.get("/v1/cases", headers=reader).json()["items"][0]["id"]
    assert _post(api, f"/v1/cases/{case_id}/claim", reader, reviewer="x").status_code == 403
    no_read = api.key(("verifications:read",))
    assert api.client.get("/v1/cases", headers=no_read).status_code == 403
    api.store.create_tenant("other")
    theirs = api.key(SCOPES, tenant="other")
    assert api.client.get("/v1/cases", headers=theirs).json()["items"] == []
    assert api.client.get(f"/v1/cases/{case_id}", headers=theirs).status_code == 404
    reviewer = api.key(REVIEWING)
    for body in (
        {"reviewer": "al", "outcome": "approve", "reason": ""},
        {"reviewer": "al", "outcome": "maybe", "reason": "x"},
        {"reviewer": "al\nadmin", "outcome": "approve", "reason": "x"},
        {"outcome": "approve", "reason": "x"},
    ):
        answer = _post(api, f"/v1/cases/{case_id}/decision", reviewer, **body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert api.client.get("/v1/cases?cursor=nonsense", headers=reader).status_code == 422
    assert api.client.get("/v1/cases?sla=late", headers=reader).status_code == 422
    assert api.client.get(f"/v1/cases/{case_id}/media/nope", headers=reader).status_code == 404
