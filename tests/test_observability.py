"""Issue 12, parts 4 and 5: JSON logs with the request id and no personal data, Prometheus /metrics,
/readyz, and rate limits per API key in Redis (429 with Retry-After)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from openidv import models
from openidv.api.app import create_app
from openidv.api.auth import PUBLIC_ROUTES
from openidv.api.logs import JsonFormatter, log_config
from openidv.errors import REQUEST_ID, ConfigurationError
from openidv.settings import Settings, parse_rate_limit_overrides
from openidv.store.db import make_engine
from openidv.store.repository import Store

REDIS_URL = os.environ.get("OPENIDV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
PERSONAL = {
    "surname": "Eriksson",
    "given_names": "Anna Maria",
    "birth_date": "1974-08-12",
    "document_number": "L898902C3",
}
#: strings that must never reach a log line: declared values, the MRZ lines and the parts they encode
SECRETS = (
    "Eriksson",
    "ERIKSSON",
    "Anna Maria",
    "ANNA<MARIA",
    "1974-08-12",
    "740812",
    "L898902C3",
    *TD3.split("\n"),
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), (128, 128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def _app(tmp_path: Path, url: str | None = None, **settings: Any) -> tuple[TestClient, Store, str]:
    store = Store(make_engine(url or f"sqlite:///{tmp_path / 'openidv.sqlite3'}"))
    app = create_app(Settings(data_dir=tmp_path, **settings), store=store)
    _, key = store.create_api_key("tests")
    return TestClient(app), store, key


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Store, str]]:
    client, store, key = _app(tmp_path)
    with client:
        yield client, store, key
    store.engine.dispose()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _redis() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        message = f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
        if os.environ.get("OPENIDV_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (OPENIDV_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, deleted afterwards."""
    client = _redis()
    prefix = f"openidv:test:{uuid.uuid4().hex}:"
    yield prefix
    for name in client.scan_iter(match=prefix + "*"):
        client.delete(name)
    client.close()


# ---------------------------------------------------------------------------------------------- logs


def test_logs_never_hold_personal_data(
    app: tuple[TestClient, Store, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, _, key = app
    with caplog.at_level(logging.DEBUG):
        as_json = client.post(
            "/v1/verifications", json={"mrz": TD3, "declared": PERSONAL}, headers=_bearer(key)
        )
        assert as_json.status_code == 201, as_json.text
        form = {"mrz": (None, TD3), "declared": (None, json.dumps(PERSONAL))}
        as_form = client.post(
            "/v1/verifications",
            files={**form, "selfie": ("selfie.png", _png(), "image/png")},
            headers=_bearer(key),
        )
        assert as_form.status_code == 201, as_form.text
        bad = client.post(  # an invalid field: the 422 names the field, the log must not echo the value
            "/v1/verifications",
            json={"mrz": TD3, "declared": {**PERSONAL, "birth_date": "Eriksson"}},
            headers=_bearer(key),
        )
        assert bad.status_code == 422
        client.get(f"/v1/verifications/{as_json.json()['id']}", headers=_bearer(key))
    assert caplog.records, "nothing was logged at DEBUG"
    formatter = JsonFormatter()
    for record in caplog.records:
        line = formatter.format(record) + repr(record.args) + repr(record.__dict__)
        for secret in SECRETS:
            assert secret not in line, f"{secret!r} logged by {record.name}: {line[:300]}"
    assert any(r.name == "openidv.access" for r in caplog.records)


def test_access_lines_are_json_with_request_id_route_and_status(
    app: tuple[TestClient, Store, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, _, key = app
    with caplog.at_level(logging.INFO, logger="openidv.access"):
        client.get("/v1/verifications/v-unknown-42", headers={**_bearer(key), "X-Request-ID": "req-obs-1"})
    records = [r for r in caplog.records if r.name == "openidv.access"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-obs-1"
    assert entry["route"] == "/v1/verifications/{verification_id}"  # the template: no id
    assert entry["method"] == "GET" and entry["status"] == 404 and entry["latency_ms"] >= 0
    assert entry["logger"] == "openidv.access" and entry["level"] == "INFO"
    assert {"ts", "message"} <= set(entry) and "v-unknown-42" not in line


def _install(log_format: str) -> None:
    """What ``openidv serve`` does with the handler (pytest's own handlers are set aside first, unclosed)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    logging.config.dictConfig(log_config(log_format, "DEBUG"))


def test_the_serve_handler_writes_one_json_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        _install("json")
        token = REQUEST_ID.set("req-json")
        try:
            logging.getLogger("openidv.test").info("hello %s", "world")
        finally:
            REQUEST_ID.reset(token)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("openidv.test").exception("failed")
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
        assert lines[0]["message"] == "hello world" and lines[0]["request_id"] == "req-json"
        assert lines[1]["request_id"] is None and lines[1]["exc_type"] == "ValueError"
        _install("text")
        logging.getLogger("openidv.test").info("plain")
        assert "INFO openidv.test [-] plain" in capsys.readouterr().err
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_settings_read_log_format_metrics_and_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIDV_LOG_FORMAT", "text")
    monkeypatch.setenv("OPENIDV_METRICS", "0")
    monkeypatch.setenv("OPENIDV_RATE_LIMIT", "5")
    monkeypatch.setenv("OPENIDV_RATE_LIMIT_OVERRIDES", "k1=10, k2=0")
    settings = Settings.from_env()
    assert settings.log_format == "text" and not settings.metrics_enabled
    assert settings.rate_limit == 5 and settings.rate_limit_overrides == (("k1", 10), ("k2", 0))
    with pytest.raises(ConfigurationError, match="OPENIDV_RATE_LIMIT_OVERRIDES"):
        parse_rate_limit_overrides("k1:10")
    monkeypatch.setenv("OPENIDV_RATE_LIMIT", "lots")
    with pytest.raises(ConfigurationError, match="OPENIDV_RATE_LIMIT"):
        Settings.from_env()
    monkeypatch.setenv("OPENIDV_RATE_LIMIT", "5")
    monkeypatch.setenv("OPENIDV_LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="OPENIDV_LOG_FORMAT"):
        Settings.from_env()


# ------------------------------------------------------------------------------------------- metrics


def test_metrics_count_routes_checks_and_decisions(app: tuple[TestClient, Store, str]) -> None:
    client, _, key = app
    created = client.post("/v1/verifications", json={"mrz": TD3, "declared": PERSONAL}, headers=_bearer(key))
    assert created.status_code == 201
    body = created.json()
    verification_id = body["id"]
    assert client.get(f"/v1/verifications/{verification_id}", headers=_bearer(key)).status_code == 200
    client.get("/no/such/path/123")
    client.request("BREW", "/v1/verifications")  # any token is a method: the label stays bounded
    metrics = client.get("/metrics")  # no key: see docs/operations.md
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'openidv_http_requests_total{method="POST",route="/v1/verifications",status="201"} 1.0' in text
    get_line = 'route="/v1/verifications/{verification_id}",status="200"} 1.0'
    assert get_line in text
    assert 'openidv_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'openidv_http_request_duration_seconds_count{method="POST",route="/v1/verifications"} 1.0' in text
    assert verification_id not in text and "/no/such" not in text and "Eriksson" not in text
    assert 'method="OTHER"' in text and "BREW" not in text
    assert f'openidv_decisions_total{{outcome="{body["decision"]}"}} 1.0' in text
    for code in body["reason_codes"]:
        assert f'openidv_decision_reasons_total{{reason_code="{code}"}} 1.0' in text
    for check in body["checks"]:
        assert f'openidv_check_duration_seconds_count{{check="{check["check"]}"}} 1.0' in text
        assert (
            f'openidv_check_results_total{{check="{check["check"]}",status="{check["status"]}"}} 1.0' in text
        )
    replay = client.post(
        "/v1/verifications",
        json={"mrz": TD3, "declared": PERSONAL},
        headers={**_bearer(key), "Idempotency-Key": "m-1"},
    )
    again = client.post(
        "/v1/verifications",
        json={"mrz": TD3, "declared": PERSONAL},
        headers={**_bearer(key), "Idempotency-Key": "m-1"},
    )
    assert (replay.status_code, again.status_code) == (201, 200)
    assert f'openidv_decisions_total{{outcome="{body["decision"]}"}} 2.0' in client.get("/metrics").text


def test_each_app_has_its_own_registry_and_metrics_can_be_turned_off(tmp_path: Path) -> None:
    first, s1, key = _app(tmp_path / "a")
    second, s2, _ = _app(tmp_path / "b", metrics_enabled=False)
    third, s3, _ = _app(tmp_path / "c")
    with first, second, third:
        assert first.post("/v1/verifications", json={"mrz": TD3}, headers=_bearer(key)).status_code == 201
        assert "openidv_decisions_total{" in first.get("/metrics").text
        assert "openidv_decisions_total{" not in third.get("/metrics").text
        assert second.get("/metrics").status_code == 404
    for s in (s1, s2, s3):
        s.engine.dispose()


def test_every_route_outside_v1_is_public_by_decision(app: tuple[TestClient, Store, str]) -> None:
    client, _, _ = app
    paths = {
        (method.upper(), path)
        for path, operations in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if not path.startswith("/v1")
        for method in operations
    }
    assert paths == set(PUBLIC_ROUTES)
    for method, path in PUBLIC_ROUTES:
        assert client.request(method, path).status_code == 200, path


# ------------------------------------------------------------------------------------------- readyz


def test_readyz_reports_each_component(app: tuple[TestClient, Store, str]) -> None:
    client, _, _ = app
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    components = ready.json()["components"]
    assert components["database"] == {"status": "ok"}
    assert (
        components["redis"]["status"] == "disabled" and "rate limits are off" in components["redis"]["detail"]
    )
    assert (
        components["models"]["status"] == "ok"
        and "face-embed-sface-2021dec-int8bq" in components["models"]["models"]
    )


@pytest.mark.postgres
def test_readyz_on_postgres_with_redis(postgres_url: str, tmp_path: Path, redis_prefix: str) -> None:
    client, store, _ = _app(tmp_path, postgres_url, redis_url=REDIS_URL, rate_limit_prefix=redis_prefix)
    with client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert {c["status"] for c in ready.json()["components"].values()} == {"ok"}
    store.engine.dispose()


@pytest.mark.postgres
def test_readyz_is_503_when_the_database_is_unreachable(postgres_url: str, tmp_path: Path) -> None:
    client, store, _ = _app(tmp_path, postgres_url)
    broken = f"postgresql+psycopg://postgres:secret-pw@127.0.0.1:{_closed_port()}/test"
    with client:
        client.app.state.store = Store(make_engine(broken), migrate=False)  # type: ignore[attr-defined]
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["status"] == 503 and body["detail"] == "not ready: database"
        assert body["components"]["database"]["status"] == "error"
        assert body["components"]["models"]["status"] == "ok"
        assert "secret-pw" not in answer.text and "psycopg" not in answer.text
    store.engine.dispose()


def test_readyz_is_503_when_redis_is_unreachable(tmp_path: Path) -> None:
    client, store, key = _app(tmp_path, redis_url=f"redis://127.0.0.1:{_closed_port()}/0", rate_limit=2)
    with client:
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.json()["detail"] == "not ready: redis"
        # the limiter fails open: requests are served while Redis is down, and counted as limiter errors
        for _ in range(3):
            assert client.get("/v1/verifications/v-x", headers=_bearer(key)).status_code == 404
        assert "openidv_rate_limit_errors_total 3.0" in client.get("/metrics").text
    store.engine.dispose()


def test_readyz_is_503_when_a_model_fails_its_check(
    app: tuple[TestClient, Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = app
    spec = models.ModelSpec(
        id="test-broken-model",
        package="openidv_no_such_package",
        resource="model.onnx",
        sha256="0" * 64,
        licence="none",
        distribution="openidv-no-such-package",
        card="models/none.md",
    )
    monkeypatch.setitem(models._REGISTRY, spec.id, spec)
    answer = client.get("/readyz")
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["detail"] == "not ready: models"
    assert body["components"]["models"]["failed"] == {"test-broken-model": "ConfigurationError"}


# -------------------------------------------------------------------------------------- rate limits


@pytest.mark.redis
def test_rate_limit_per_key_is_a_429_with_retry_after(tmp_path: Path, redis_prefix: str) -> None:
    limit = 3
    client, store, key = _app(
        tmp_path,
        redis_url=REDIS_URL,
        rate_limit=limit,
        rate_limit_window_s=60,
        rate_limit_prefix=redis_prefix,
    )
    _, other = store.create_api_key("other")
    with client:
        for _ in range(limit):
            assert client.get("/v1/verifications/v-x", headers=_bearer(key)).status_code == 404
        refused = client.get("/v1/verifications/v-x", headers=_bearer(key))
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        body = refused.json()
        assert body["status"] == 429 and body["title"] == "Too many requests"
        assert f"{limit} requests per 60 s" in body["detail"]
        # another key has a budget of its own
        assert client.get("/v1/verifications/v-x", headers=_bearer(other)).status_code == 404
        # unauthenticated requests are refused before counting; operational routes are never limited
        assert client.get("/v1/verifications/v-x").status_code == 401
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json()["components"]["redis"] == {"status": "ok"}
        assert "openidv_rate_limited_total 1.0" in client.get("/metrics").text
    store.engine.dispose()


@pytest.mark.redis
def test_rate_limit_overrides_per_key(tmp_path: Path, redis_prefix: str) -> None:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'openidv.sqlite3'}"))
    unlimited_info, unlimited = store.create_api_key("batch")
    tight_info, tight = store.create_api_key("tight")
    settings = Settings(
        data_dir=tmp_path,
        redis_url=REDIS_URL,
        rate_limit=2,
        rate_limit_prefix=redis_prefix,
        rate_limit_overrides=((unlimited_info.id, 0), (tight_info.id, 1)),
    )
    with TestClient(create_app(settings, store=store)) as client:
        for _ in range(5):
            assert client.get("/v1/verifications/v-x", headers=_bearer(unlimited)).status_code == 404
        assert client.get("/v1/verifications/v-x", headers=_bearer(tight)).status_code == 404
        assert client.get("/v1/verifications/v-x", headers=_bearer(tight)).status_code == 429
    store.engine.dispose()


def test_serve_logs_json_by_default_in_every_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``openidv serve`` hands uvicorn the JSON logging config (uvicorn applies it in each worker) and turns
    uvicorn's access log off; a bad ``--log-format`` exits 2 before binding anything."""
    import uvicorn
    from typer.testing import CliRunner

    from openidv.cli import app as cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append({"target": target, **options}))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "9", "--workers", "2"])
        assert result.exit_code == 0, result.output
        options = calls[0]
        assert options["access_log"] is False and options["workers"] == 2
        assert options["target"] == "openidv.api.worker:create_worker_app"  # workers die with the master
        assert options["log_config"]["handlers"]["stderr"]["formatter"] == "json"
        bad = CliRunner().invoke(cli, ["serve", "--log-format", "xml"])
        assert bad.exit_code == 2 and len(calls) == 1
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_readyz_does_not_hang_on_a_component_that_never_answers(
    app: tuple[TestClient, Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from openidv.api import readiness

    client, store, _ = app
    release = threading.Event()
    monkeypatch.setattr(store, "ping", lambda: release.wait(10))  # a database behind a dropped route
    monkeypatch.setattr(readiness, "TIMEOUT_S", 0.5)
    started = time.monotonic()
    answer = client.get("/readyz")
    release.set()
    assert time.monotonic() - started < 3
    assert answer.status_code == 503 and answer.json()["detail"] == "not ready: database"
    assert answer.json()["components"]["database"]["error"] == "Timeout"
