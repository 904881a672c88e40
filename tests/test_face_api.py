"""Gallery routes over HTTP (multipart uploads of real photos) on SQLite and PostgreSQL, and the CLI."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openidv.api import problems
from openidv.api.auth import require_api_key
from openidv.api.routes_faces import router
from openidv.cli import app as cli_app
from openidv.crypto import BiometricCipher
from openidv.services.face_gallery import GalleryService
from openidv.store.db import make_engine
from openidv.store.gallery_tables import create_gallery_tables
from openidv.store.repository import ApiKeyInfo

#: the routes alone, without the app's key table: every request comes from a key of the default tenant
CALLER = ApiKeyInfo("k", "tests", "oidv_test", datetime.now(UTC), None)


@pytest.fixture
def faces(shared_data: Path) -> Path:
    return shared_data / "faces"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    engine = make_engine(database_url)
    create_gallery_tables(engine)
    service = GalleryService(engine, tmp_path / "galleries", cipher=BiometricCipher(b"k" * 32))
    app = FastAPI()
    problems.install(app)
    app.include_router(router)
    app.dependency_overrides[require_api_key] = lambda: CALLER
    app.state.services = SimpleNamespace(face_gallery=service)  # what the app's Services gives the routes
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def _upload(path: Path) -> dict[str, tuple[str, bytes, str]]:
    return {"image": (path.name, path.read_bytes(), "image/jpeg")}


def test_enrol_search_duplicate_delete_over_http(client: TestClient, faces: Path) -> None:
    enrolled = client.post(
        "/v1/galleries/onboarding/faces",
        files=_upload(faces / "obama/obama1.jpg"),
        data={"subject_id": "c-1"},
    )
    assert enrolled.status_code == 201, enrolled.text
    face_id = enrolled.json()["face_id"]
    assert enrolled.headers["location"] == f"/v1/galleries/onboarding/faces/{face_id}"
    assert enrolled.json()["quality"]["inter_eye_px"] > 60
    client.post(
        "/v1/galleries/onboarding/faces",
        files=_upload(faces / "rose_leslie/rose1.jpg"),
        data={"subject_id": "c-2"},
    )

    search = client.post(
        "/v1/galleries/onboarding/search", files=_upload(faces / "obama/obama3.jpg"), data={"k": 2}
    )
    assert search.status_code == 200, search.text
    body = search.json()
    assert body["matches"][0]["subject_id"] == "c-1" and body["matches"][0]["similarity"] >= body["threshold"]
    assert body["target"].startswith("fpir=1e-2") and len(body["matches"]) == 2

    duplicate = client.post(
        "/v1/galleries/onboarding/faces",
        files=_upload(faces / "obama/obama2.jpg"),
        data={"subject_id": "c-9"},
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    assert duplicate.json()["duplicates"][0]["subject_id"] == "c-1"
    assert "already enrolled" in duplicate.json()["detail"]

    assert client.get("/v1/galleries/onboarding").json()["size"] == 2
    assert client.delete(f"/v1/galleries/onboarding/faces/{face_id}").status_code == 204
    assert client.delete(f"/v1/galleries/onboarding/faces/{face_id}").status_code == 404
    after = client.post("/v1/galleries/onboarding/search", files=_upload(faces / "obama/obama3.jpg")).json()
    assert all(m["face_id"] != face_id for m in after["matches"])


def test_bad_uploads_are_problems(client: TestClient, faces: Path) -> None:
    junk = client.post(
        "/v1/galleries/g/faces",
        files={"image": ("x.jpg", b"not an image", "image/jpeg")},
        data={"subject_id": "a"},
    )
    assert junk.status_code == 422 and "not an image" in junk.json()["detail"]
    missing = client.post("/v1/galleries/g/faces", data={"subject_id": "a"})
    assert missing.status_code == 422
    blank_png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    no_face = client.post(
        "/v1/galleries/g/faces", files={"image": ("p.png", blank_png, "image/png")}, data={"subject_id": "a"}
    )
    assert no_face.status_code == 422 and "FACE_NOT_FOUND" in no_face.json()["detail"]
    unknown = client.post("/v1/galleries/nope/search", files=_upload(faces / "obama/obama1.jpg"))
    assert unknown.status_code == 404
    bad_k = client.post("/v1/galleries/g/search", files=_upload(faces / "obama/obama1.jpg"), data={"k": 0})
    assert bad_k.status_code == 422


def test_routes_without_a_gallery_service_fail_loudly(faces: Path) -> None:
    app = FastAPI()
    problems.install(app)
    app.include_router(router)
    app.dependency_overrides[require_api_key] = lambda: CALLER
    with TestClient(app) as bare:
        answer = bare.get("/v1/galleries/onboarding")
    assert answer.status_code == 503 and "face gallery service" in answer.json()["detail"]


def test_cli_enrol_search_delete(faces: Path, tmp_path: Path) -> None:
    env = {
        "OPENIDV_DATA_DIR": str(tmp_path),
        "OPENIDV_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "OPENIDV_ENCRYPTION_KEY": base64.b64encode(b"c" * 32).decode(),
    }
    runner = CliRunner(env=env)
    first = runner.invoke(
        cli_app, ["face", "enroll", str(faces / "biden/biden1.jpg"), "-g", "vip", "-s", "joe", "--json"]
    )
    assert first.exit_code == 0, first.output
    face_id = json.loads(first.stdout)["face_id"]
    dup = runner.invoke(
        cli_app, ["face", "enroll", str(faces / "biden/biden2.jpg"), "-g", "vip", "-s", "someone"]
    )
    assert dup.exit_code == 1 and "already enrolled" in dup.stderr and "'joe'" in dup.stderr
    found = runner.invoke(cli_app, ["face", "search", str(faces / "biden/biden2.jpg"), "-g", "vip"])
    assert found.exit_code == 0 and "'joe'" in found.stdout and "same person" in found.stdout
    listed = runner.invoke(cli_app, ["face", "galleries", "--json"])
    assert json.loads(listed.stdout)[0]["size"] == 1
    gone = runner.invoke(cli_app, ["face", "delete", "-g", "vip", str(face_id)])
    assert gone.exit_code == 0, gone.output
    empty = runner.invoke(cli_app, ["face", "search", str(faces / "biden/biden2.jpg"), "-g", "vip", "--json"])
    assert json.loads(empty.stdout)["matches"] == []
    no_key = CliRunner(env={**env, "OPENIDV_ENCRYPTION_KEY": ""}).invoke(
        cli_app, ["face", "enroll", str(faces / "biden/biden1.jpg"), "-g", "other", "-s", "x"]
    )
    assert no_key.exit_code == 2 and "no encryption key" in no_key.stderr
