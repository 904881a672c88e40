"""The telemetry sessions API: token flow, appends, status, verification wiring, privacy, and bad input
(clear 4xx problem+json, nothing stored), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from openidv.api.app import create_app
from openidv.api.routes_telemetry import MAX_TELEMETRY_BYTES
from openidv.evidence import Evidence
from openidv.services.subjects import SubjectService
from openidv.services.telemetry_sessions import TelemetryConfig, TelemetrySessions
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.repository import Store
from openidv.store.telemetry_tables import TelemetryBatch, TelemetrySession
from openidv.telemetry import MAX_EVENTS_PER_BATCH
from tests.telemetry_helpers import TD3, batch, serve

ORIGIN = "https://onboarding.example.com"


@dataclass
class Api:
    client: TestClient
    store: Store
    key: str
    other_key: str
    seen: list[Evidence]

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def new_session(self) -> dict[str, Any]:
        resp = self.client.post("/v1/sessions", headers=self.headers())
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def post(self, session: dict[str, Any], body: Any, **kw: Any) -> Any:
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        headers = {"Authorization": f"Bearer {session['token']}", "Content-Type": "application/json"}
        headers.update(kw.pop("headers", {}))
        return self.client.post(session["telemetry_url"], content=content, headers=headers, **kw)

    def counts(self) -> tuple[int, int, int]:
        """(sessions, batches, events stored in all sessions)."""
        with self.store.transaction() as s:
            return (
                int(s.scalar(select(func.count()).select_from(TelemetrySession)) or 0),
                int(s.scalar(select(func.count()).select_from(TelemetryBatch)) or 0),
                int(s.scalar(select(func.coalesce(func.sum(TelemetrySession.n_events), 0))) or 0),
            )


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    store = Store(make_engine(database_url))
    app = create_app(Settings(data_dir=tmp_path, collector_origins=(ORIGIN,)), store=store)
    seen: list[Evidence] = []
    verify = app.state.verifier.verify

    def spy(evidence: Evidence, **kw: Any) -> Any:
        seen.append(evidence)
        return verify(evidence, **kw)

    app.state.verifier.verify = spy
    _, key = store.create_api_key("tests")
    store.create_tenant("other")
    _, other = store.create_api_key("other", tenant="other")
    with TestClient(app) as client:
        yield Api(client, store, key, other, seen)
    store.engine.dispose()


def test_session_round_trip_into_a_verification(api: Api) -> None:
    assert api.client.post("/v1/sessions").status_code == 401
    session = api.new_session()
    assert session["telemetry_url"] == f"/v1/sessions/{session['session_id']}/telemetry"
    assert session["collector_url"] == "/openidv-collector.js" and session["token"].startswith("oidvt_")
    first = api.post(session, batch(100, viewport_width=1280, viewport_height=720))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "session_id": session["session_id"],
        "accepted_events": 100,
        "total_events": 100,
        "batches": 1,
        "last_t": 99 * 8.0,
        "device_stored": True,
    }
    # the next batch may start exactly at the last stored t
    second = api.post(session, batch(50, start=99 * 8.0, device=False))
    assert second.status_code == 200 and second.json()["total_events"] == 150
    status = api.client.get(f"/v1/sessions/{session['session_id']}", headers=api.headers()).json()
    assert status["status"] == "open" and status["events"] == 150 and status["batches"] == 2
    assert status["viewport_width"] == 1280 and status["device_changes"] == 0 and "events" in status
    # another tenant sees nothing
    other = api.client.get(f"/v1/sessions/{session['session_id']}", headers=api.headers(api.other_key))
    assert other.status_code == 404

    resp = api.client.post(
        "/v1/verifications",
        json={"mrz": TD3, "session_id": session["session_id"], "subject_id": "s-1"},
        headers=api.headers(),
    )
    assert resp.status_code == 201, resp.text
    telemetry = api.seen[-1].telemetry
    assert telemetry is not None and len(telemetry.events) == 150
    assert telemetry.device is not None and telemetry.device.timezone == "Europe/Stockholm"
    assert telemetry.viewport_width == 1280 and telemetry.source == "collector"
    # used: closed to further telemetry, still readable by a retried verification
    assert api.post(session, batch(5, start=10_000, device=False)).status_code == 409
    status = api.client.get(f"/v1/sessions/{session['session_id']}", headers=api.headers()).json()
    assert status["status"] == "used" and status["events"] == 150


def test_multipart_verification_takes_session_id(api: Api) -> None:
    session = api.new_session()
    assert api.post(session, batch(20)).status_code == 200
    resp = api.client.post(
        "/v1/verifications", files={"session_id": (None, session["session_id"])}, headers=api.headers()
    )
    assert resp.status_code == 201, resp.text
    assert api.seen[-1].telemetry is not None and len(api.seen[-1].telemetry.events) == 20


@pytest.mark.parametrize("how", ["unknown", "other tenant"])
def test_verification_with_an_unknown_session_is_a_422_naming_the_field(api: Api, how: str) -> None:
    session_id = "no-such-session"
    if how == "other tenant":
        resp = api.client.post("/v1/sessions", headers=api.headers(api.other_key))
        session_id = resp.json()["session_id"]
    before = api.counts()
    resp = api.client.post(
        "/v1/verifications", json={"mrz": TD3, "session_id": session_id}, headers=api.headers()
    )
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["detail"].startswith("session_id:"), resp.json()
    assert api.counts() == before and not api.seen


def _nan_body() -> str:
    return '{"schema": "openidv.telemetry/1", "events": [{"t": 1, "type": "move", "x": NaN, "y": 3}]}'


BAD_BODIES: dict[str, tuple[Any, int, str]] = {
    "negative t": (batch(3) | {"events": [{"t": -1, "type": "move", "x": 1, "y": 1}]}, 422, "events.0.t"),
    "unordered t": (
        batch(3) | {"events": [{"t": 5, "type": "move", "x": 1, "y": 1}, {"t": 4, "type": "click"}]},
        422,
        "events",
    ),
    "NaN coordinate": (_nan_body(), 422, "events.0.x"),
    "Infinity coordinate": (_nan_body().replace("NaN", "Infinity"), 422, "events.0.x"),
    "huge t": (_nan_body().replace('"t": 1', '"t": 1e400').replace("NaN", "1"), 422, "events.0.t"),
    "unknown schema": (batch(3) | {"schema": "openidv.telemetry/2"}, 422, "schema"),
    "unknown event type": (batch(3) | {"events": [{"t": 1, "type": "keypress"}]}, 422, "events.0.type"),
    "key value smuggled": (
        batch(3) | {"events": [{"t": 1, "type": "key_down", "value": "a"}]},
        422,
        "events",
    ),
    "too many events in one post": (
        batch(0) | {"events": [{"t": 0, "type": "move"}] * (MAX_EVENTS_PER_BATCH + 1)},
        422,
        "events",
    ),
    "not JSON": ("{not json", 400, ""),
    "not an object": ("[1, 2]", 422, ""),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_batches_are_refused_and_store_nothing(api: Api, name: str) -> None:
    session = api.new_session()
    assert api.post(session, batch(10)).status_code == 200
    before = api.counts()
    body, status, field = BAD_BODIES[name]
    resp = api.post(session, body)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    if field:
        assert field in {e["field"] for e in resp.json()["errors"]} or field in resp.json()["detail"], (
            resp.json()
        )
    assert api.counts() == before


def test_batches_must_continue_the_sessions_clock(api: Api) -> None:
    session = api.new_session()
    assert api.post(session, batch(10, start=1000)).status_code == 200  # last t = 1072
    before = api.counts()
    resp = api.post(session, batch(10, start=500, device=False))
    assert resp.status_code == 422 and resp.json()["detail"].startswith("events[0].t:")
    assert api.counts() == before


def test_refusals_of_the_session_and_token(api: Api) -> None:
    session = api.new_session()
    before = api.counts()
    good = json.dumps(batch(5))
    cases = [
        ("wrong token", {"Authorization": "Bearer oidvt_wrong"}, session["telemetry_url"], 401),
        ("no token", {"Authorization": ""}, session["telemetry_url"], 401),
        ("an API key", {"Authorization": f"Bearer {api.key}"}, session["telemetry_url"], 401),
        ("unknown session", {}, "/v1/sessions/nope/telemetry", 404),
        ("text body", {"Content-Type": "text/plain"}, session["telemetry_url"], 415),
    ]
    for who, headers, url, status in cases:
        resp = api.post({**session, "telemetry_url": url}, good, headers=headers)
        assert resp.status_code == status, (who, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json"), who
    assert api.counts() == before


def test_an_expired_session_is_gone(api: Api) -> None:
    session = api.new_session()
    service = TelemetrySessions(api.store, clock=lambda: datetime.now(UTC) + timedelta(seconds=3601))
    api.client.app.state.telemetry_sessions = service  # type: ignore[attr-defined]
    before = api.counts()
    resp = api.post(session, batch(5))
    assert resp.status_code == 410 and "expired" in resp.json()["detail"]
    assert api.counts() == before
    status = api.client.get(f"/v1/sessions/{session['session_id']}", headers=api.headers()).json()
    assert status["status"] == "expired"


def test_the_session_event_limit(api: Api) -> None:
    service = TelemetrySessions(api.store, TelemetryConfig(max_events=100))
    api.client.app.state.telemetry_sessions = service  # type: ignore[attr-defined]
    session = api.new_session()
    assert api.post(session, batch(60)).status_code == 200
    before = api.counts()
    resp = api.post(session, batch(41, start=10_000, device=False))
    assert resp.status_code == 413 and "limit of 100" in resp.json()["detail"]
    assert api.counts() == before
    assert api.post(session, batch(40, start=10_000, device=False)).json()["total_events"] == 100


def test_device_attributes_last_post_wins(api: Api) -> None:
    session = api.new_session()
    api.post(session, batch(5))
    changed = batch(5, start=100) | {"device": {"timezone": "Asia/Tokyo"}}
    assert api.post(session, changed).status_code == 200
    status = api.client.get(f"/v1/sessions/{session['session_id']}", headers=api.headers()).json()
    assert status["device_changes"] == 1
    service = TelemetrySessions(api.store)
    telemetry = service.telemetry(session["session_id"])
    assert telemetry.device is not None and telemetry.device.timezone == "Asia/Tokyo"


def test_telemetry_is_sealed_at_rest(api: Api) -> None:
    session = api.new_session()
    api.post(session, batch(30))
    with api.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT device_sealed FROM telemetry_sessions")).all()
        blobs = conn.execute(text("SELECT events_sealed FROM telemetry_batches")).all()
    raw = b"".join(bytes(r[0]) for r in rows) + b"".join(bytes(r[0]) for r in blobs)
    for plain in (b"Europe/Stockholm", b"Linux x86_64", b"surname", b"key_down"):
        assert plain not in raw
    with api.store.engine.connect() as conn:
        hashes = [r[0] for r in conn.execute(text("SELECT token_hash FROM telemetry_sessions"))]
    assert session["token"] not in hashes and len(hashes[0]) == 64


def test_cors_only_for_configured_origins_and_only_the_telemetry_route(api: Api) -> None:
    session = api.new_session()
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    ok = api.client.options(session["telemetry_url"], headers=preflight)
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in ok.headers["access-control-allow-headers"]
    bad = api.client.options(
        session["telemetry_url"], headers={**preflight, "Origin": "https://evil.example"}
    )
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    posted = api.post(session, batch(3), headers={"Origin": ORIGIN})
    assert posted.status_code == 200 and posted.headers["access-control-allow-origin"] == ORIGIN
    other_route = api.client.options("/v1/sessions", headers=preflight)
    assert "access-control-allow-origin" not in other_route.headers


def test_collector_script_is_served_without_a_key(api: Api) -> None:
    resp = api.client.get("/openidv-collector.js")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/javascript")
    assert "max-age" in resp.headers["cache-control"] and b"openidv.telemetry/1" in resp.content


def test_subject_erasure_and_retention_remove_telemetry(api: Api, tmp_path: Path) -> None:
    kept, erased = api.new_session(), api.new_session()
    for s in (kept, erased):
        api.post(s, batch(10))
    resp = api.client.post(
        "/v1/verifications",
        json={"mrz": TD3, "session_id": erased["session_id"], "subject_id": "s-9"},
        headers=api.headers(),
    )
    assert resp.status_code == 201
    export = api.client.get("/v1/subjects/s-9", headers=api.headers()).json()
    assert [t["id"] for t in export["telemetry_sessions"]] == [erased["session_id"]]
    assert export["telemetry_sessions"][0]["device"]["timezone"] == "Europe/Stockholm"
    assert api.client.delete("/v1/subjects/s-9", headers=api.headers()).status_code == 204
    assert api.counts()[:2] == (1, 1)
    report = SubjectService(api.store, None).purge(
        Settings(data_dir=tmp_path), now=datetime.now(UTC) + timedelta(days=31)
    )
    assert report.telemetry_sessions == 1 and api.counts() == (0, 0, 0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Store, str]]:
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path), store=store)
    _, key = store.create_api_key("tests")
    with serve(app) as url:
        yield url, store, key
    store.engine.dispose()


def _raw_post(base: str, path: str, token: str, head: dict[str, str], chunks: Iterator[bytes]) -> str:
    """POST over a plain socket, streaming ``chunks`` from a thread while reading the answer; returns the
    status line (the server answers before the client is done sending, or the test times out)."""
    parsed = urlparse(base)
    with socket.create_connection((str(parsed.hostname), int(parsed.port or 80)), timeout=60) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {parsed.netloc}", f"Authorization: Bearer {token}"]
        lines += [f"{k}: {v}" for k, v in head.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

        def pump() -> None:
            try:
                for chunk in chunks:
                    sock.sendall(chunk)
            except OSError:  # the server answered and closed: what the test wants
                pass

        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        sock.shutdown(socket.SHUT_RDWR)
    sender.join(timeout=10)
    return answer.split(b"\r\n", 1)[0].decode()


def _ten_million_events() -> Iterator[bytes]:
    yield b'{"schema": "openidv.telemetry/1", "events": ['
    chunk = b",".join(b'{"t": 1, "type": "move", "x": 1, "y": 1}' for _ in range(10_000)) + b","
    for _ in range(1000):  # 10,000,000 events, ~400 MB, if the server kept reading
        yield chunk


def test_ten_million_events_are_refused_before_the_body_is_read(server: tuple[str, Store, str]) -> None:
    import httpx

    base, store, key = server
    session = httpx.post(f"{base}/v1/sessions", headers={"Authorization": f"Bearer {key}"}).json()
    declared = {"Content-Type": "application/json", "Content-Length": str(400_000_000)}
    status = _raw_post(base, session["telemetry_url"], session["token"], declared, _ten_million_events())
    assert " 413 " in status, status
    # under the API's 64 MiB limit for uploads, over the route's own: refused on the declared length too
    declared["Content-Length"] = str(MAX_TELEMETRY_BYTES + 1)
    status = _raw_post(base, session["telemetry_url"], session["token"], declared, _ten_million_events())
    assert " 413 " in status, status
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    def as_chunks() -> Iterator[bytes]:
        for part in _ten_million_events():
            yield f"{len(part):x}\r\n".encode() + part + b"\r\n"

    status = _raw_post(base, session["telemetry_url"], session["token"], chunked, as_chunks())
    assert " 413 " in status, status
    with store.transaction() as s:
        row = s.get(TelemetrySession, session["session_id"])
        assert row is not None and row.n_events == 0
        assert s.scalar(select(func.count()).select_from(TelemetryBatch)) == 0
    assert MAX_TELEMETRY_BYTES < 400_000_000


def test_library_verify_takes_session_id(api: Api) -> None:
    import openidv
    from openidv.errors import InvalidInput

    session = api.new_session()
    assert api.post(session, batch(12)).status_code == 200
    record = openidv.verify(mrz=TD3, session_id=session["session_id"], store=api.store, save=False)
    assert record.decision is not None
    status = api.client.get(f"/v1/sessions/{session['session_id']}", headers=api.headers()).json()
    assert status["status"] == "used"
    with pytest.raises(InvalidInput, match=r"^session_id:"):
        openidv.verify(mrz=TD3, session_id="nope", store=api.store, save=False)


def test_queued_evidence_keeps_its_telemetry(api: Api) -> None:
    """An async verification packs the evidence for the worker: the telemetry must survive exactly."""
    from openidv.store.job_evidence import pack_evidence, unpack_evidence

    session = api.new_session()
    api.post(session, batch(40))
    telemetry = TelemetrySessions(api.store).telemetry(session["session_id"])
    evidence = Evidence(mrz_text=TD3, telemetry=telemetry)
    assert unpack_evidence(pack_evidence(evidence)).telemetry == telemetry


def test_concurrent_posts_never_interleave_out_of_order(api: Api) -> None:
    """Eight posts at once, each starting where its predecessor in t would end: whichever order the row lock
    admits them in, every accepted batch is whole, the stored events are in time order, and the refused
    ones (starting before a later batch) left nothing."""
    from concurrent.futures import ThreadPoolExecutor

    from openidv.errors import InvalidInput
    from openidv.telemetry import Telemetry

    service = TelemetrySessions(api.store)
    new = service.create()
    batches = [Telemetry.model_validate(batch(200, start=i * 2000.0, device=i == 0)) for i in range(8)]

    def post(b: Telemetry) -> int:
        try:
            return service.append(new.id, new.token, b).accepted_events
        except InvalidInput:
            return 0

    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(post, batches))
    assert sum(accepted) > 0 and all(n in (0, 200) for n in accepted)
    telemetry = service.telemetry(new.id)
    stamps = [e.t for e in telemetry.events]
    assert len(stamps) == sum(accepted) and stamps == sorted(stamps)
