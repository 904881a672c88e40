"""Async verifications on SQLite and PostgreSQL: queue, worker, signed webhooks to a real HTTP receiver,
retries, a worker killed with SIGKILL mid-job, tenant isolation, the list endpoint and bad input.

Workers and dispatchers run in-process (``run_once``/``drain``) where the test is about what they do, and as
real ``openidv worker`` processes where it is about a process dying.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from openidv.api.app import create_app
from openidv.cli import app as cli_app
from openidv.crypto import ENVELOPE_MAGIC, MAGIC, load_cipher
from openidv.errors import ConfigurationError, InvalidInput, NotFound
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.services import Verifier
from openidv.services.async_jobs import AsyncWorker, WorkerOptions
from openidv.services.webhook_dispatch import DispatchOptions, WebhookDispatcher
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.job_evidence import pack_evidence, unpack_evidence
from openidv.store.job_queue import JobQueue
from openidv.store.models import Verification
from openidv.store.queue_tables import Job, OutboxEvent
from openidv.store.repository import Store
from openidv.store.webhook_store import WebhookStore
from openidv.verification import evidence_digest
from openidv.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, resolved_host_refused, sign, verify_signature

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
BODY = {
    "mrz": TD3,
    "declared": {"surname": "Eriksson", "given_names": "Anna Maria", "birth_date": "1974-08-12"},
}
KEY_B64 = base64.b64encode(b"t" * 32).decode()
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------- a real receiver


@dataclass
class Receiver:
    """A threaded HTTP server that records every POST; it answers 500 to the first ``fail_first``."""

    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k: v for k, v in self.headers.items()}, body))
                status = 500 if len(receiver.received) <= receiver.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), r.handler())
    r.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/openidv"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield r
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------- the world


@dataclass
class World:
    client: TestClient
    store: Store
    app: Any
    a: dict[str, str]
    b: dict[str, str]
    queue: JobQueue
    webhooks: WebhookStore
    worker: AsyncWorker
    dispatcher: WebhookDispatcher

    def job_row(self, job_id: str) -> Job:
        with self.store.transaction() as s:
            row = s.get(Job, job_id)
            assert row is not None
            s.expunge(row)
            return row


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", KEY_B64)
    store = Store(make_engine(database_url))
    store.create_tenant("a")
    store.create_tenant("b")
    settings = Settings(data_dir=tmp_path, webhook_allow_private=True)  # the receivers run on loopback
    app = create_app(settings, store=store)
    cipher = load_cipher(settings)
    queue, webhooks = JobQueue(store, cipher), WebhookStore(store, cipher, allow_private=True)
    worker = AsyncWorker(app.state.verifier, queue, webhooks, WorkerOptions(lease_s=60, retry_s=0))
    dispatcher = WebhookDispatcher(
        webhooks,
        DispatchOptions(
            max_attempts=3, backoff_base_s=0.01, backoff_cap_s=0.05, timeout_s=5, allow_private=True
        ),
    )
    with TestClient(app) as client:
        yield World(
            client,
            store,
            app,
            bearer(store.create_api_key("a", tenant="a")[1]),
            bearer(store.create_api_key("b", tenant="b")[1]),
            queue,
            webhooks,
            worker,
            dispatcher,
        )
    dispatcher.close()
    store.engine.dispose()


def submit(world: World, headers: dict[str, str], body: dict[str, Any] | None = None, **extra: str) -> str:
    answer = world.client.post(
        "/v1/verifications", json={**(body or BODY), "mode": "async"}, headers={**headers, **extra}
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def add_hook(world: World, headers: dict[str, str], url: str) -> str:
    answer = world.client.post("/v1/webhooks", json={"url": url}, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["secret"].startswith("whsec_")
    return str(answer.json()["secret"])


def until(condition: Callable[[], bool], step: Callable[[], object], *, tries: int = 200) -> None:
    """Run ``step`` until ``condition`` holds (a bound on tries, not on time)."""
    for _ in range(tries):
        if condition():
            return
        step()
        time.sleep(0.02)
    assert condition(), "condition never held"


# ---------------------------------------------------------------------------------------- the happy path


def test_async_verification_reaches_a_real_receiver_signed(world: World, receiver: Receiver) -> None:
    secret = add_hook(world, world.a, receiver.url)
    answer = world.client.post("/v1/verifications", json={**BODY, "mode": "async"}, headers=world.a)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "queued" and answer.headers["Location"] == job["status_url"]
    assert job["status_url"] == f"/v1/verifications/{job['id']}"
    assert world.client.get(job["status_url"], headers=world.a).json()["status"] == "queued"
    queued = world.job_row(job["id"])  # the evidence waits encrypted, never in clear
    assert queued.evidence is not None and queued.evidence.startswith((MAGIC, ENVELOPE_MAGIC))
    assert b"ERIKSSON" not in queued.evidence and b"Eriksson" not in queued.evidence

    assert world.worker.drain() == 1
    done = world.client.get(job["status_url"], headers=world.a)
    assert done.status_code == 200
    result = done.json()
    assert result["status"] == "completed" and result["id"] == job["id"]
    sync = world.client.post("/v1/verifications", json=BODY, headers=world.a).json()
    assert set(result) - {"status"} == set(sync)  # the same body as a synchronous verification
    assert result["decision"] == sync["decision"] == "reject"  # the ICAO specimen expired in 2012
    assert world.job_row(job["id"]).evidence is None  # erased once the job finished

    assert world.dispatcher.run_once() == 1
    ((headers, raw),) = receiver.received
    assert verify_signature(secret, headers[SIGNATURE_HEADER], raw)
    assert not verify_signature(secret, headers[SIGNATURE_HEADER], raw + b" ")
    assert not verify_signature("whsec_other", headers[SIGNATURE_HEADER], raw)
    event = json.loads(raw)
    assert headers[EVENT_ID_HEADER] == event["id"]
    assert event["type"] == "verification.completed"
    assert event["data"] == {
        "id": job["id"],
        "status": "completed",
        "decision": "reject",
        "reason_codes": result["reason_codes"],
    }
    assert b"Eriksson" not in raw and b"L898902C3" not in raw  # no personal data in webhooks
    assert world.dispatcher.run_once() == 0  # delivered once, not again


def test_prefer_header_and_multipart_mode_queue_too(world: World) -> None:
    preferred = world.client.post(
        "/v1/verifications", json=BODY, headers={**world.a, "Prefer": "respond-async, wait=5"}
    )
    assert preferred.status_code == 202 and preferred.headers["Preference-Applied"] == "respond-async"
    form = world.client.post(
        "/v1/verifications", files={"mrz": (None, TD3), "mode": (None, "async")}, headers=world.a
    )
    assert form.status_code == 202, form.text
    explicit_sync = world.client.post(
        "/v1/verifications", json={**BODY, "mode": "sync"}, headers={**world.a, "Prefer": "respond-async"}
    )
    assert explicit_sync.status_code == 201  # an explicit mode wins over the header
    assert world.worker.drain() == 2
    for answer in (preferred, form):
        assert world.client.get(answer.headers["Location"], headers=world.a).json()["status"] == "completed"


def test_idempotency_key_returns_the_same_job(world: World) -> None:
    key = {"Idempotency-Key": "order-17"}
    first = world.client.post("/v1/verifications", json={**BODY, "mode": "async"}, headers={**world.a, **key})
    again = world.client.post("/v1/verifications", json={**BODY, "mode": "async"}, headers={**world.a, **key})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = world.client.post(
        "/v1/verifications", json={"mrz": TD3, "mode": "async"}, headers={**world.a, **key}
    )
    assert other.status_code == 409 and other.headers["content-type"].startswith("application/problem+json")
    sync_same = world.client.post("/v1/verifications", json=BODY, headers={**world.a, **key})
    assert (
        sync_same.status_code == 202 and sync_same.json()["id"] == first.json()["id"]
    )  # same key, same work
    assert world.worker.drain() == 1
    with world.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Job)).scalar_one() == 1


def test_images_survive_the_queue_exactly(shared_data: Path) -> None:
    photo = next((shared_data / "faces" / "biden").glob("*.jpg"))
    evidence = Evidence(selfie=load_image(photo.read_bytes(), name="selfie"), mrz_text=TD3, tenant_id="a")
    back = unpack_evidence(pack_evidence(evidence))
    assert back.selfie is not None and evidence.selfie is not None
    assert (back.selfie.pixels == evidence.selfie.pixels).all()
    assert back.selfie.describe() == evidence.selfie.describe()
    assert evidence_digest(back) == evidence_digest(evidence) and back.tenant_id == "a"


# ---------------------------------------------------------------------------------------- retries


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(
    world: World, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    secret = add_hook(world, world.a, receiver.url)
    submit(world, world.a)
    world.worker.drain()
    until(lambda: len(receiver.received) >= 3, world.dispatcher.run_once)
    assert [json.loads(body)["id"] for _, body in receiver.received] == [
        json.loads(receiver.received[0][1])["id"]
    ] * 3
    assert all(verify_signature(secret, h[SIGNATURE_HEADER], b) for h, b in receiver.received)
    (event,) = world.webhooks.events("a")
    assert event["status"] == "delivered" and event["attempts"] == 3


def test_a_receiver_that_always_fails_ends_dead(world: World, receiver: Receiver) -> None:
    receiver.fail_first = 1000
    add_hook(world, world.a, receiver.url)
    submit(world, world.a)
    world.worker.drain()
    until(lambda: world.webhooks.counts()["dead"] == 1, world.dispatcher.run_once)
    assert len(receiver.received) == 3  # max_attempts
    (event,) = world.webhooks.events("a")
    assert event["last_error"] == "HTTP 500"
    with pytest.raises(NotFound):
        world.webhooks.redeliver("b", event["event_id"])  # not B's event
    receiver.fail_first = 0  # the receiver is fixed
    assert world.webhooks.redeliver("a", event["event_id"]) == 1
    world.dispatcher.run_once()
    assert world.webhooks.events("a")[0]["status"] == "delivered" and len(receiver.received) == 4


# ---------------------------------------------------------------------------------------- leases


def test_a_lost_lease_stores_nothing_and_the_new_owner_completes(world: World) -> None:
    job_id = submit(world, world.a)
    stale = world.queue.claim("worker-a", lease_s=0)  # its lease is over at once
    current = world.queue.claim("worker-b", lease_s=60)
    assert stale is not None and current is not None and stale.id == current.id == job_id
    assert world.worker.run_job(stale) == "lease_lost"
    with world.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Verification)).scalar_one() == 0
    assert world.worker.run_job(current) == "completed"
    assert world.client.get(f"/v1/verifications/{job_id}", headers=world.a).json()["status"] == "completed"


def test_renewing_a_lease_is_for_its_owner_only(world: World) -> None:
    submit(world, world.a)
    stale = world.queue.claim("worker-a", lease_s=0)
    assert stale is not None
    current = world.queue.claim("worker-b", lease_s=0)
    assert current is not None
    assert not world.queue.renew(stale, 60)  # taken over: no renewing it back
    assert world.queue.renew(current, 60)
    assert world.queue.claim("worker-c", lease_s=60) is None  # renewed: hidden again


class SlowVerifier(Verifier):
    """The real verifier, slower than the lease it runs under."""

    def verify(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(4)
        return super().verify(*args, **kwargs)


def test_a_job_slower_than_its_lease_is_not_taken_over(world: World) -> None:
    job_id = submit(world, world.a)
    base = world.app.state.verifier
    slow = AsyncWorker(
        SlowVerifier(base.policy, base.services, world.store),
        world.queue,
        world.webhooks,
        WorkerOptions(lease_s=3),  # heartbeats every second
    )
    job = world.queue.claim(slow.name, lease_s=3)
    assert job is not None and job.id == job_id
    runner = threading.Thread(target=slow.run_job, args=(job,))
    runner.start()
    stolen = []
    while runner.is_alive():
        stolen.append(world.queue.claim("thief", lease_s=60))
        time.sleep(0.2)
    runner.join()
    assert [s for s in stolen if s is not None] == []
    row = world.job_row(job_id)
    assert row.status == "completed" and row.attempts == 1


def test_a_dispatcher_that_dies_mid_send_loses_no_event(world: World, receiver: Receiver) -> None:
    add_hook(world, world.a, receiver.url)
    submit(world, world.a)
    world.worker.drain()
    (claimed,) = world.webhooks.claim_due(lease_s=0)  # a dispatcher takes the event, then dies
    assert receiver.received == []
    assert world.dispatcher.run_once() == 1  # the next one finds it once the lease is over
    ((headers, _),) = receiver.received
    assert headers[EVENT_ID_HEADER] == claimed.event_id
    (event,) = world.webhooks.events("a")
    assert event["status"] == "delivered" and event["attempts"] == 2


def test_queued_evidence_is_bound_to_its_job(world: World) -> None:
    first, second = submit(world, world.a), submit(world, world.a, {"mrz": TD3})
    with world.store.transaction() as s:  # swap the two encrypted blobs
        a, b = s.get(Job, first), s.get(Job, second)
        assert a is not None and b is not None
        a.evidence, b.evidence = b.evidence, a.evidence
    with pytest.raises(ConfigurationError, match="failed authentication"):
        world.queue.claim("w", lease_s=60)


def test_a_job_whose_leases_all_run_out_fails_with_a_reason(world: World, receiver: Receiver) -> None:
    add_hook(world, world.a, receiver.url)
    queue = JobQueue(world.store, world.queue.cipher, max_attempts=2)
    job_id = submit(world, world.a)
    with world.store.transaction() as s:
        s.get(Job, job_id).max_attempts = 2  # type: ignore[union-attr]
    for worker in ("w1", "w2"):
        assert queue.claim(worker, lease_s=0) is not None  # claimed, then the worker "dies"
    assert queue.claim("w3", lease_s=0, on_failed=world.worker._failed_event) is None
    status = world.client.get(f"/v1/verifications/{job_id}", headers=world.a).json()
    assert status["status"] == "failed" and "lease ran out 2 times" in status["error"]
    assert world.job_row(job_id).evidence is None
    world.dispatcher.run_once()
    ((_, raw),) = receiver.received
    assert json.loads(raw)["type"] == "verification.failed"


def _worker_process(
    database_url: str, data_dir: Path, *args: str, pause: float = 0
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "openidv", "worker", "--lease-s", "2", "--poll-s", "0.2", *args],
        env=_worker_env(database_url, data_dir, pause),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _worker_env(database_url: str, data_dir: Path, pause: float = 0) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "OPENIDV_DATABASE_URL": database_url,
        "OPENIDV_DATA_DIR": str(data_dir),
        "OPENIDV_ENCRYPTION_KEY": KEY_B64,
        "OPENIDV_WORKER_PAUSE_AFTER_CLAIM_S": str(pause),
        "OPENIDV_WEBHOOK_ALLOW_PRIVATE": "1",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_worker_killed_mid_job_does_not_lose_it(world: World, database_url: str, tmp_path: Path) -> None:
    job_id = submit(world, world.a)
    doomed = _worker_process(database_url, tmp_path, pause=600)  # claims the job, then hangs
    try:
        until(lambda: world.job_row(job_id).status == "running", lambda: time.sleep(0.2), tries=300)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    port = _free_port()
    rescuer = _worker_process(database_url, tmp_path, "--metrics-port", str(port))
    try:
        until(lambda: world.job_row(job_id).status == "completed", lambda: time.sleep(0.2), tries=600)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text  # the worker's own counters
        assert 'openidv_jobs_total{result="completed"} 1.0' in metrics
        assert 'openidv_decisions_total{outcome="reject"} 1.0' in metrics
    finally:
        rescuer.send_signal(signal.SIGTERM)
        rescuer.wait(60)
    assert rescuer.returncode == 0  # a clean stop on SIGTERM
    row = world.job_row(job_id)
    assert row.attempts == 2 and row.evidence is None
    with world.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Verification)).scalar_one() == 1
    assert world.client.get(f"/v1/verifications/{job_id}", headers=world.a).json()["decision"] == "reject"


def test_concurrent_workers_run_each_job_exactly_once(
    world: World, database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    add_hook(world, world.a, receiver.url)
    jobs = {submit(world, world.a, {"mrz": TD3, "declared": {"surname": f"N{i}"}}) for i in range(12)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "openidv", "worker", "--burst", "--concurrency", "2"],
            env=_worker_env(database_url, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    assert [w.wait(300) for w in workers] == [0, 0]
    world.dispatcher.run_once()  # whatever the burst workers left due
    with world.store.transaction() as s:
        stored = set(s.execute(select(Verification.id)).scalars())
        attempts = set(s.execute(select(Job.attempts)).scalars())
    assert stored == jobs and attempts == {1}  # every job once, by one worker, at the first attempt
    delivered = [json.loads(body)["data"]["id"] for _, body in receiver.received]
    assert sorted(delivered) == sorted(jobs)  # one event per job


# ---------------------------------------------------------------------------------------- tenants, list


def test_tenants_see_only_their_own_jobs_lists_and_webhooks(world: World, receiver: Receiver) -> None:
    add_hook(world, world.a, receiver.url)
    hook_b = world.client.post("/v1/webhooks", json={"url": receiver.url + "/b"}, headers=world.b).json()
    job_id = submit(world, world.a)
    assert world.client.get(f"/v1/verifications/{job_id}", headers=world.b).status_code == 404
    assert world.client.get("/v1/verifications", headers=world.b).json() == {"items": [], "next_cursor": None}
    assert [i["id"] for i in world.client.get("/v1/verifications", headers=world.a).json()["items"]] == [
        job_id
    ]
    (hook_a,) = world.client.get("/v1/webhooks", headers=world.a).json()["items"]
    assert world.client.delete(f"/v1/webhooks/{hook_a['id']}", headers=world.b).status_code == 404
    assert [h["id"] for h in world.client.get("/v1/webhooks", headers=world.b).json()["items"]] == [
        hook_b["id"]
    ]
    world.worker.drain()
    world.dispatcher.run_once()
    assert [h["Host"] for h, _ in receiver.received] and len(receiver.received) == 1  # only A's endpoint
    assert world.webhooks.events("b") == []
    assert world.client.get(f"/v1/verifications/{job_id}", headers=world.b).status_code == 404


def test_list_pages_newest_first_with_filters(world: World) -> None:
    made = [world.client.post("/v1/verifications", json=BODY, headers=world.a).json()["id"] for _ in range(4)]
    queued = submit(world, world.a)
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = world.client.get(
            "/v1/verifications",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=world.a,
        ).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in seen] == [queued, *reversed(made)]
    assert set(seen[0]) == {"id", "created_at", "status", "outcome", "final_outcome", "review"}
    assert seen[0]["status"] == "queued" and seen[1] == {
        **seen[1],
        "status": "completed",
        "outcome": "reject",
    }
    only_queued = world.client.get("/v1/verifications", params={"status": "queued"}, headers=world.a).json()
    assert [i["id"] for i in only_queued["items"]] == [queued]
    approved = world.client.get("/v1/verifications", params={"outcome": "approve"}, headers=world.a).json()
    assert approved["items"] == []


# ---------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/v1/verifications", {"json": {**BODY, "mode": "later"}}, 422),
        ("POST", "/v1/verifications", {"files": {"mrz": (None, TD3), "mode": (None, "later")}}, 422),
        ("GET", "/v1/verifications?cursor=not-a-cursor", {}, 422),
        ("GET", "/v1/verifications?cursor=W10", {}, 422),  # base64 of []
        ("GET", "/v1/verifications?limit=0", {}, 422),
        ("GET", "/v1/verifications?status=done", {}, 422),
        ("POST", "/v1/webhooks", {"json": {"url": "ftp://example.org/x"}}, 422),
        ("POST", "/v1/webhooks", {"json": {"url": "not a url"}}, 422),
        ("POST", "/v1/webhooks", {"json": {"url": "https://user:pw@example.org/x"}}, 422),
        ("POST", "/v1/webhooks", {"json": {"url": "https://example.org:99999/x"}}, 422),
        ("POST", "/v1/webhooks", {"json": {}}, 422),
        ("DELETE", "/v1/webhooks/no-such-endpoint", {}, 404),
    ],
)
def test_bad_input_is_a_problem(
    world: World, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    answer = world.client.request(method, path, headers=world.a, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    with world.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_metrics_show_queue_depth_and_enqueued_jobs(world: World) -> None:
    submit(world, world.a)
    text = world.client.get("/metrics").text
    assert 'openidv_queue_depth{status="queued"} 1.0' in text
    assert "openidv_jobs_enqueued_total 1.0" in text


def test_api_metrics_show_webhook_failures(world: World, receiver: Receiver) -> None:
    """A receiver that always fails: the event ends dead, and the API's /metrics says so (the worker's own
    delivery counters are on its port)."""
    receiver.fail_first = 100
    add_hook(world, world.a, receiver.url)
    submit(world, world.a)
    assert world.worker.drain() == 1
    text = world.client.get("/metrics").text
    assert 'openidv_webhook_events{status="pending"} 1.0' in text
    until(lambda: world.webhooks.counts()["dead"] == 1, world.dispatcher.run_once)
    text = world.client.get("/metrics").text
    assert 'openidv_webhook_events{status="dead"} 1.0' in text
    assert 'openidv_webhook_events{status="pending"} 0.0' in text


# ---------------------------------------------------------------------------------------- signing, CLI


def test_signature_checks_time_and_every_byte() -> None:
    body = b'{"id":"e1"}'
    header = sign("whsec_x", body, timestamp=1_000_000)
    assert verify_signature("whsec_x", header, body, now=1_000_100)
    assert not verify_signature("whsec_x", header, body, now=1_000_000 + 301)  # too old: a replay
    assert not verify_signature("whsec_x", header.replace("t=1000000", "t=1000001"), body, now=1_000_000)
    assert not verify_signature("whsec_x", "v1=abc", body) and not verify_signature("whsec_x", None, body)


def test_cli_adds_lists_and_removes_webhooks(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIDV_DATABASE_URL", database_url)
    monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", KEY_B64)
    monkeypatch.setenv("OPENIDV_WEBHOOK_ALLOW_PRIVATE", "1")
    runner = CliRunner()
    Store.from_url(database_url).create_tenant("t1")
    added = runner.invoke(cli_app, ["webhooks", "add", "--tenant", "t1", "https://example.org/hook"])
    assert added.exit_code == 0, added.output
    assert "whsec_" in added.output
    listed = runner.invoke(cli_app, ["webhooks", "list", "--tenant", "t1", "--json"])
    (endpoint,) = json.loads(listed.output)
    assert endpoint["url"] == "https://example.org/hook" and "secret" not in endpoint
    assert "whsec_" not in listed.output
    bad = runner.invoke(cli_app, ["webhooks", "add", "--tenant", "t1", "gopher://x"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1
    wrong_tenant = runner.invoke(cli_app, ["webhooks", "remove", "--tenant", "default", endpoint["id"]])
    assert wrong_tenant.exit_code == 2
    removed = runner.invoke(cli_app, ["webhooks", "remove", "--tenant", "t1", endpoint["id"]])
    assert removed.exit_code == 0
    with Store.from_url(database_url).transaction() as s:
        assert s.execute(select(func.count()).select_from(OutboxEvent)).scalar_one() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://app.localhost/hook",
        "https://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_webhooks_to_this_machine_or_a_private_network_are_refused(world: World, url: str) -> None:
    """A tenant must not make openidv post into the operator's network (server-side request forgery)."""
    guarded = WebhookStore(world.store, world.webhooks.cipher)  # the default: public addresses only
    with pytest.raises(InvalidInput, match="public addresses only"):
        guarded.add_endpoint("a", url)
    endpoint, _ = world.webhooks.add_endpoint("a", url)  # allowed where the operator says so
    assert endpoint.url == url
    assert guarded.add_endpoint("a", "https://hooks.example.com/openidv")[0].url.startswith("https://")


def test_a_delivery_is_refused_when_its_name_resolves_into_a_private_network(world: World) -> None:
    """Checked again at every attempt, resolved: a name registered as public can be pointed at the
    operator's network later. Here the machine's own name, which resolves to its private address."""
    import socket

    name = socket.gethostname()
    if resolved_host_refused(name, 80) is None:
        pytest.skip(f"{name} resolves to a public address on this machine")
    world.webhooks.add_endpoint("a", f"http://{name}:9/hooks")  # registered while allowed
    submit(world, world.a)
    assert world.worker.drain() == 1
    guarded = WebhookDispatcher(world.webhooks, DispatchOptions(max_attempts=3, backoff_base_s=0.01))
    try:
        assert guarded.run_once() == 1
    finally:
        guarded.close()
    (event,) = world.webhooks.events("a")
    assert event["status"] == "pending" and "destination refused" in str(event["last_error"])
    assert resolved_host_refused("localhost", 80) is not None
    assert resolved_host_refused("no-such-host.invalid", 80) == "no-such-host.invalid does not resolve"


def test_purge_removes_finished_jobs_and_settled_events_past_retention(
    world: World, receiver: Receiver
) -> None:
    """`openidv purge` keeps jobs and webhook events as long as verifications; a pending event is kept
    whatever its age (it is still owed to a receiver)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update as sql_update

    from openidv.services.subjects import SubjectService
    from openidv.store.queue_tables import OutboxEvent

    add_hook(world, world.a, receiver.url)
    submit(world, world.a)
    submit(world, world.a, {**BODY, "declared": {"surname": "Other"}})
    assert world.worker.drain() == 2
    (first, _) = world.webhooks.events("a")[::-1][:2]
    until(lambda: world.webhooks.counts()["delivered"] >= 1, world.dispatcher.run_once)
    old = datetime.now(UTC) - timedelta(days=400)
    with world.store.transaction() as s:
        s.execute(sql_update(Job).values(updated_at=old))
        s.execute(sql_update(OutboxEvent).values(created_at=old))
        s.execute(
            sql_update(OutboxEvent).where(OutboxEvent.event_id == first["event_id"]).values(status="pending")
        )
    service = SubjectService(world.store, None)
    settings = Settings(data_dir=Path("."), retention_verifications_days=365)
    dry = service.purge(settings, dry_run=True)
    assert (dry.jobs, dry.webhook_events) == (2, 1)
    done = service.purge(settings)
    assert (done.jobs, done.webhook_events) == (2, 1)
    assert world.webhooks.counts() == {"pending": 1, "delivered": 0, "dead": 0}
    with world.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_an_async_replay_of_a_stored_verification_carries_its_review(world: World) -> None:
    key = {"Idempotency-Key": "order-18"}
    first = world.client.post("/v1/verifications", json={**BODY, "mode": "sync"}, headers={**world.a, **key})
    assert first.status_code == 201
    again = world.client.post("/v1/verifications", json={**BODY, "mode": "async"}, headers={**world.a, **key})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    body = again.json()
    assert body["id"] == first.json()["id"]
    assert body["final_outcome"] == first.json()["final_outcome"] and "review" in body
