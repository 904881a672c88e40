"""The HTTP API end to end (in-process), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from openidv.api.app import create_app
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.models import AuditEntry, Verification
from openidv.store.repository import Store

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
BODY = {
    "mrz": TD3,
    "declared": {"surname": "Eriksson", "given_names": "Anna Maria", "birth_date": "1974-08-12"},
}
MAX_BODY = 4096


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Store, str]]:
    store = Store(make_engine(database_url))
    app = create_app(Settings(data_dir=tmp_path, max_body_bytes=MAX_BODY), store=store)
    _, key = store.create_api_key("tests")
    with TestClient(app) as client:
        yield client, store, key
    store.engine.dispose()


def auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def stored(store: Store) -> tuple[int, int]:
    with store.transaction() as s:
        return (
            s.execute(select(func.count()).select_from(Verification)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
        )


def test_verification_round_trip(api: tuple[TestClient, Store, str]) -> None:
    client, _, key = api
    response = client.post("/v1/verifications", json=BODY, headers=auth(key))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"id", "decision", "reason_codes", "checks"}
    assert body["decision"] == "reject"  # the ICAO specimen expired in 2012
    assert "DOC_EXPIRED" in body["reason_codes"]
    check = body["checks"][0]
    assert set(check) == {
        "check",
        "version",
        "status",
        "score",
        "meaning",
        "reason_codes",
        "details",
        "latency_ms",
    }
    assert check["check"] == "mrz" and check["meaning"] == "similarity"
    assert response.headers["location"] == f"/v1/verifications/{body['id']}"
    fetched = client.get(f"/v1/verifications/{body['id']}", headers=auth(key))
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_auth_required(api: tuple[TestClient, Store, str]) -> None:
    client, store, key = api
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"}):
        response = client.post("/v1/verifications", json=BODY, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/verifications/x").status_code == 401
    info = store.list_api_keys()[0]
    store.revoke_api_key(info.id)
    assert client.post("/v1/verifications", json=BODY, headers=auth(key)).status_code == 401
    assert stored(store)[0] == 0


def test_idempotency(api: tuple[TestClient, Store, str]) -> None:
    client, store, key = api
    first = client.post("/v1/verifications", json=BODY, headers=auth(key, **{"Idempotency-Key": "abc"}))
    again = client.post("/v1/verifications", json=BODY, headers=auth(key, **{"Idempotency-Key": "abc"}))
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = dict(BODY, declared={"surname": "Other"})
    conflict = client.post("/v1/verifications", json=other, headers=auth(key, **{"Idempotency-Key": "abc"}))
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in conflict.json()["detail"]
    assert stored(store)[0] == 1


def test_oversized_body_is_413_and_stores_nothing(api: tuple[TestClient, Store, str]) -> None:
    client, store, key = api
    big = dict(BODY, padding="x" * (MAX_BODY + 10))
    response = client.post("/v1/verifications", json=big, headers=auth(key))
    assert response.status_code == 413
    assert response.json()["status"] == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must count streamed bytes
        for _ in range(10):
            yield b"x" * 1024

    streamed = client.post(
        "/v1/verifications", content=chunks(), headers=auth(key, **{"Content-Type": "application/json"})
    )
    assert streamed.status_code == 413
    assert stored(store) == (0, 1)  # only the key creation is audited


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        (b'{"mrz": 12}', 422, "mrz"),
        (b'{"mrz": "hello world"}', 422, "not MRZ text"),
        (b'{"mrz": "P<UTO\\nL898"}', 422, "not a machine readable zone"),
        (b'{"declared": {"surname": "X"}}', 422, "mrz: Field required"),
        (b'{"mrz": "' + b"A" * 500 + b'"}', 422, "at most 200 characters"),
        (b'{"mrz": "P<UTO", "extra": 1}', 422, "extra"),
    ],
)
def test_bad_input_is_problem_json_and_stores_nothing(
    api: tuple[TestClient, Store, str], payload: bytes, status: int, fragment: str
) -> None:
    client, store, key = api
    response = client.post(
        "/v1/verifications", content=payload, headers=auth(key, **{"Content-Type": "application/json"})
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and fragment in problem["detail"]
    assert stored(store) == (0, 1)


def test_bad_declared_fields(api: tuple[TestClient, Store, str]) -> None:
    client, store, key = api
    for declared, fragment in (
        ({"surname": "E", "birth_date": "12/08/1974"}, "declared.birth_date"),
        ({"surname": "E" * 300}, "declared.surname"),
        ({"surname": ""}, "declared.surname"),
        ({"surname": 5}, "declared.surname"),
    ):
        response = client.post("/v1/verifications", json=dict(BODY, declared=declared), headers=auth(key))
        assert response.status_code == 422 and fragment in response.json()["detail"], response.text
    assert stored(store)[0] == 0


def test_unsupported_media_type_and_unknown_id(api: tuple[TestClient, Store, str]) -> None:
    client, _, key = api
    response = client.post(
        "/v1/verifications", content=b"mrz", headers=auth(key, **{"Content-Type": "text/plain"})
    )
    assert response.status_code == 415
    missing = client.get("/v1/verifications/does-not-exist", headers=auth(key))
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_health_and_openapi(api: tuple[TestClient, Store, str]) -> None:
    client, _, _ = api
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/v1/verifications" in spec["paths"]
    ref = spec["paths"]["/v1/verifications"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    assert ref.rsplit("/", 1)[-1] in spec["components"]["schemas"]
