"""`POST /v1/verifications` with real photos (multipart), end to end through the real app, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openidv.store.models import Verification
from openidv.store.repository import Store

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


@pytest.fixture
def api(api_client):  # type: ignore[no-untyped-def]
    return api_client


def photo(shared_data: Path, name: str) -> tuple[str, bytes, str]:
    path = shared_data / "faces" / name
    return (path.name, path.read_bytes(), "image/jpeg")


def checks_of(body: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["check"]: c for c in body["checks"]}


def count(store: Store) -> int:
    with store.transaction() as s:
        return int(s.execute(select(func.count()).select_from(Verification)).scalar_one())


def test_genuine_selfie_and_document_match(api, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    client, _, headers = api
    files = {
        "selfie": photo(shared_data, "obama/obama1.jpg"),
        "document": photo(shared_data, "obama/obama2.jpg"),
    }
    response = client.post("/v1/verifications", files=files, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    checks = checks_of(body)
    assert {"face_quality", "document_portrait", "face_match"} <= set(checks)
    assert checks["face_match"]["status"] == "ok" and checks["face_match"]["meaning"] == "similarity"
    assert "FACE_MISMATCH" not in body["reason_codes"]
    assert client.get(f"/v1/verifications/{body['id']}", headers=headers).json() == body


def test_impostor_is_rejected_and_mrz_travels_in_the_same_form(api, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    client, _, headers = api
    files = {
        "selfie": photo(shared_data, "obama/obama1.jpg"),
        "document": photo(shared_data, "biden/biden1.jpg"),
    }
    data = {"mrz": TD3, "declared": json.dumps({"surname": "Eriksson", "given_names": "Anna Maria"})}
    response = client.post("/v1/verifications", files=files, data=data, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["decision"] == "reject"
    assert "FACE_MISMATCH" in body["reason_codes"] and "DOC_EXPIRED" in body["reason_codes"]
    assert "mrz" in checks_of(body)


def test_idempotent_multipart(api, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    client, store, headers = api
    files = {"selfie": photo(shared_data, "obama/obama1.jpg")}
    first = client.post("/v1/verifications", files=files, headers={**headers, "Idempotency-Key": "m1"})
    again = client.post("/v1/verifications", files=files, headers={**headers, "Idempotency-Key": "m1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = {"selfie": photo(shared_data, "biden/biden1.jpg")}
    assert (
        client.post(
            "/v1/verifications", files=other, headers={**headers, "Idempotency-Key": "m1"}
        ).status_code
        == 409
    )
    assert count(store) == 1


@pytest.mark.parametrize(
    ("files", "data", "fragment"),
    [
        ({"selfie": ("x.jpg", b"not an image at all", "image/jpeg")}, {}, "selfie"),
        ({"selfie": ("x.jpg", b"", "image/jpeg")}, {}, "selfie: the uploaded file is empty"),
        ({"passport": ("x.jpg", b"123", "image/jpeg")}, {}, "passport: unknown form field"),
        (None, {"mrz": "hello"}, "mrz: line 1 is not MRZ text"),
        (None, {"selfie": "text instead of a file"}, "selfie: must be a file upload"),
        (None, {"declared": "{oops"}, "declared: not valid JSON"),
        (None, {"mrz": TD3, "declared": '{"surname": ""}'}, "declared.surname"),
        (None, {"subject_id": "s1"}, "nothing to verify"),
    ],
)
def test_bad_multipart_is_problem_json_and_stores_nothing(api, files, data, fragment) -> None:  # type: ignore[no-untyped-def]
    client, store, headers = api
    if files is None:  # text fields only: send them as multipart parts all the same
        files, data = {k: (None, v) for k, v in data.items()}, {}
    response = client.post("/v1/verifications", files=files, data=data, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"]
    assert count(store) == 0
