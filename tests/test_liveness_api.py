"""The liveness session API: happy path, single use, and bad input (clear 4xx, nothing stored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from openidv.api.app import create_app, require_api_key
from openidv.api.routes_liveness import get_liveness_service
from openidv.api.routes_liveness import router as liveness_router
from openidv.services.captures import SqlCaptureIndex
from openidv.services.liveness import LivenessService
from openidv.settings import Settings
from openidv.store.db import Base, make_engine
from openidv.store.liveness_tables import LIVENESS_TABLES, CaptureHash, LivenessSession
from openidv.store.repository import Store
from tests.liveness_helpers import (
    ScriptedObserver,
    b64,
    frame_jpeg,
    frames_payload,
    no_embedder,
    scripted_track,
)

TRACK = scripted_track([("turn_left", 800.0), ("blink", 2200.0), ("smile", 3600.0)])


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, LivenessService, str]]:
    store = Store(make_engine(database_url))
    Base.metadata.create_all(store.engine, tables=list(LIVENESS_TABLES))
    app = create_app(Settings(data_dir=tmp_path, max_body_bytes=20 * 1024 * 1024), store=store)
    service = LivenessService(
        store.engine,
        index=SqlCaptureIndex(store.engine),
        policy=app.state.policy,
        observer=ScriptedObserver(TRACK),
        embedder=no_embedder,
    )
    app.dependency_overrides[get_liveness_service] = lambda: service
    app.include_router(liveness_router, dependencies=[Depends(require_api_key)])
    _, key = store.create_api_key("tests")
    with TestClient(app) as client:
        yield client, service, key
    store.engine.dispose()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_session(client: TestClient, service: LivenessService, key: str) -> dict[str, Any]:
    resp = client.post("/v1/liveness/sessions", headers=auth(key))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    with service._sessions() as s, s.begin():  # the scripted track performs these three
        s.get(LivenessSession, body["id"]).challenges = ["turn_left", "blink", "smile"]  # type: ignore[union-attr,unused-ignore]
    return body


def stored(service: LivenessService, session_id: str) -> tuple[Any, int]:
    with service._sessions() as s:
        row = s.get(LivenessSession, session_id)
        assert row is not None
        return row.used_at, int(s.scalar(select(func.count()).select_from(CaptureHash)) or 0)


def test_session_round_trip_and_single_use(api: tuple[TestClient, LivenessService, str]) -> None:
    client, service, key = api
    assert client.post("/v1/liveness/sessions").status_code == 401
    session = new_session(client, service, key)
    body = {
        "nonce": session["nonce"],
        "frames": frames_payload(TRACK),
        "capture": {"device_label": "Front Camera", "platform": "ios", "device_model": "iPhone 14"},
    }
    resp = client.post(f"/v1/liveness/sessions/{session['id']}/frames", json=body, headers=auth(key))
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["passed"], result["reason_codes"]
    assert [c["met"] for c in result["challenges"]] == [True, True, True]
    assert result["best_frame_jpeg_base64"]
    again = client.post(f"/v1/liveness/sessions/{session['id']}/frames", json=body, headers=auth(key))
    assert again.status_code == 409 and again.json()["reason_codes"] == ["LIVENESS_SESSION_REUSED"]
    got = client.get(f"/v1/liveness/sessions/{session['id']}", headers=auth(key)).json()
    assert got["status"] == "passed" and "nonce" not in got
    assert stored(service, session["id"])[1] > 0  # an accepted capture enters the replay index
    assert client.post("/v1/liveness/sessions/nope/frames", json=body, headers=auth(key)).status_code == 404


def _bad_bodies(nonce: str) -> dict[str, tuple[dict[str, Any], str]]:
    good = frames_payload(TRACK)
    mixed = [*good[:-1], {"timestamp_ms": good[-1]["timestamp_ms"], "image": b64(frame_jpeg(1, (80, 60)))}]
    tiny = b64(frame_jpeg(0, (8, 6)))
    return {
        "empty": ({"nonce": nonce, "frames": []}, "empty"),
        "ten_thousand": (
            {"nonce": nonce, "frames": [{"timestamp_ms": i, "image": tiny} for i in range(10_000)]},
            "over the limit",
        ),
        "mixed_sizes": ({"nonce": nonce, "frames": mixed}, "one size"),
        "not_an_image": (
            {"nonce": nonce, "frames": [*good[:-1], {"timestamp_ms": 1e4, "image": b64(b"%PDF-1.4 no")}]},
            "not an image",
        ),
        "not_base64": (
            {"nonce": nonce, "frames": [*good[:-1], {"timestamp_ms": 1e4, "image": "***"}]},
            "base64",
        ),
    }


def test_bad_frames_are_4xx_and_store_nothing(api: tuple[TestClient, LivenessService, str]) -> None:
    client, service, key = api
    session = new_session(client, service, key)
    for case, (body, fragment) in _bad_bodies(session["nonce"]).items():
        resp = client.post(f"/v1/liveness/sessions/{session['id']}/frames", json=body, headers=auth(key))
        assert 400 <= resp.status_code < 500, (case, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json"), case
        assert fragment in resp.json()["detail"], (case, resp.json())
        assert stored(service, session["id"]) == (None, 0), case  # still unused; no hash stored
    # the untouched session still works afterwards
    body = {"nonce": session["nonce"], "frames": frames_payload(TRACK)}
    url = f"/v1/liveness/sessions/{session['id']}/frames"
    assert client.post(url, json=body, headers=auth(key)).json()["passed"]
