"""A short load-and-fault run (25 s of load) with the zero-loss assertions, and the regression test of what
it found (a database outage answered 500 "unexpected error" instead of a retryable 503).

The run is the long bench's harness (``bench/load_harness.py``) with a lower rate: ``openidv serve --workers
2`` and ``openidv worker`` as real processes on a private PostgreSQL cluster and a private Redis (never the
shared servers: other tests use them), PostgreSQL stopped and started mid-run, Redis killed with SIGKILL,
one uvicorn worker and the ``openidv worker`` killed with SIGKILL. Deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.load_harness import (
    BODY,
    ENCRYPTION_KEY,
    MUST_BE_ZERO,
    PrivatePostgres,
    Unavailable,
    run_load_fault,
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from openidv.api.app import create_app
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.models import Verification
from openidv.store.repository import Store

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def _unavailable(exc: Unavailable) -> None:
    message = f"load-and-fault test needs a private PostgreSQL and Redis: {exc}"
    if os.environ.get("OPENIDV_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (OPENIDV_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        pg = PrivatePostgres()
    except Unavailable as exc:
        _unavailable(exc)
    try:
        yield pg
    finally:
        pg.close()


def test_short_load_with_faults_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    try:
        report = run_load_fault(
            duration=25, rate=5, grace_s=90, down_s=2, lose_answer_every=10, root=tmp_path / "run"
        )
    except Unavailable as exc:
        _unavailable(exc)
    print(json.dumps(report, indent=1))  # shown with -s, and on failure
    audit: dict[str, Any] = report["audit"]
    assert report["failures"] == [], report  # every count in MUST_BE_ZERO, the row count and the chain
    for name in MUST_BE_ZERO:
        assert audit[name] == 0, (name, audit)
    assert audit["accepted"] == audit["requests"] == 125
    assert audit["verification_rows"] == audit["verification_rows_expected"]
    assert audit["async_accepted"] > 0 and audit["webhook_events_received"] == audit["webhook_events"]
    assert report["audit_chain"]["ok"], report["audit_chain"]
    # answers the receiver lost on purpose came again, and dedup by event id leaves each event once
    assert audit["webhook_answers_lost_on_purpose"] > 0, audit
    assert audit["webhook_redeliveries"] >= audit["webhook_answers_lost_on_purpose"], audit

    # the faults happened and were seen: otherwise the zeros above prove nothing
    faults = {f["fault"]: f for f in report["faults"]}
    assert set(faults) == {"restart_postgres", "kill_redis", "kill_api_worker", "kill_openidv_worker"}
    assert faults["restart_postgres"]["readyz_while_down"].startswith("503"), faults
    assert faults["restart_postgres"]["readyz_after"] == "200", faults
    assert "redis" in faults["kill_redis"]["readyz_while_down"], faults
    assert faults["kill_api_worker"]["respawned"], faults  # uvicorn's master replaces a killed worker
    assert faults["kill_openidv_worker"]["running_jobs_at_kill"] > 0, faults
    assert any(int(n) > 1 for n in audit["job_attempts"]), audit  # a killed worker's job ran again
    # the client saw the outage and recovered by retrying with the same key
    assert report["latency"]["retried_requests"] > 0, report["latency"]
    assert "http_500" not in str(report["errors_by_fault"]), report["errors_by_fault"]


def test_a_database_outage_is_a_503_with_retry_after(
    private_postgres: PrivatePostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the database is down a verification is a retryable 503 problem+json (was: a 500 "unexpected
    error"); the retry with the same Idempotency-Key after it is back stores exactly one verification."""
    monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", ENCRYPTION_KEY)
    store = Store(make_engine(private_postgres.url))
    store.create_tenant("t")
    key = store.create_api_key("k", tenant="t")[1]
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "outage-1"}
    app = create_app(Settings(data_dir=tmp_path), store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        private_postgres.stop()
        for body in (BODY, {**BODY, "mode": "async"}):
            down = client.post("/v1/verifications", json=body, headers=headers)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"] == "1"
            assert "database is unavailable" in down.json()["detail"]
            assert "SELECT" not in down.text and "127.0.0.1" not in down.text  # no driver text
        private_postgres.start()
        first = client.post("/v1/verifications", json=BODY, headers=headers)
        again = client.post("/v1/verifications", json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    with store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Verification)).scalar_one() == 1
    store.engine.dispose()
