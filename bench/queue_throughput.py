"""Job queue throughput: the store-backed queue (openidv.store.job_queue) on PostgreSQL (SELECT ... FOR
UPDATE SKIP LOCKED) and on SQLite (writers serialised, conditional UPDATE), against a Redis reliable queue
(LMOVE to a processing list, LREM to acknowledge) as the peer, with 1..4 concurrent workers.

Each job carries a small encrypted evidence blob (``--payload`` bytes). A store-backed "job" is the full
cycle a worker does around a verification: claim (lease), then one transaction that marks it completed
and queues one outbox row (the verification write itself is left out on every side, it is the same for
all). A Redis "job" is LMOVE + LREM only, with no lease, no retry bookkeeping and no outbox: it is the
floor of a broker-based design, which would still have to write job state and the outbox to the database
(a dual write). Workers are threads (psycopg and redis-py release the GIL while waiting).

Named queue_throughput.py, not queue.py: a script there would shadow the standard library's ``queue``.

Prints JSON: jobs/s per backend and worker count, with the machine.

Usage: python bench/queue_throughput.py [--jobs 2000] [--workers 1,2,3,4] [--payload 2048]
       [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--redis redis://127.0.0.1:6379/15]
       [--backends postgresql,sqlite,redis]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text, update

from openidv.crypto import BiometricCipher
from openidv.store.db import make_engine
from openidv.store.job_queue import JobQueue
from openidv.store.queue_tables import Job
from openidv.store.repository import Store
from openidv.store.webhook_store import WebhookStore


def run_threads(workers: int, work: Callable[[], int]) -> tuple[float, int]:
    done: list[int] = []
    threads = [threading.Thread(target=lambda: done.append(work())) for _ in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, sum(done)


def store_queue(store: Store, jobs: int, workers: int, payload: int) -> dict[str, Any]:
    cipher = BiometricCipher(secrets.token_bytes(32))
    queue, webhooks = JobQueue(store, cipher), WebhookStore(store, cipher)
    webhooks.add_endpoint("default", "http://127.0.0.1:9/bench")
    blob = secrets.token_bytes(payload)
    for _ in range(jobs):
        queue.enqueue(blob, tenant_id="default", request_hash="0" * 64)

    def work() -> int:
        name, n = f"bench-{uuid.uuid4().hex[:6]}", 0
        while (job := queue.claim(name, lease_s=300)) is not None:
            with store.transaction() as session:
                queue.complete(session, job)
                webhooks.enqueue(session, "default", "verification.completed", {"id": job.id})
            n += 1
        return n

    seconds, n = run_threads(workers, work)
    depth = queue.depth()
    assert n == jobs == depth["completed"], (n, jobs, depth)  # each job exactly once
    return {"workers": workers, "jobs": n, "seconds": round(seconds, 3), "jobs_per_s": round(n / seconds, 1)}


def redis_queue(
    url: str, jobs: int, workers: int, payload: int, store: Store | None = None
) -> dict[str, Any]:
    """LMOVE + LREM; with ``store``, each job also does the database write a broker-based worker still
    needs (job state and the outbox row, one transaction), so the two designs compare like for like."""
    import redis

    client = redis.Redis.from_url(url)
    key = f"openidv:bench:{uuid.uuid4().hex}"
    blob = secrets.token_bytes(payload)
    ids: list[str] = []
    if store is not None:
        cipher = BiometricCipher(secrets.token_bytes(32))
        queue, webhooks = JobQueue(store, cipher), WebhookStore(store, cipher)
        webhooks.add_endpoint("default", "http://127.0.0.1:9/bench")
        ids = [queue.enqueue(blob, tenant_id="default", request_hash="0" * 64)[0].id for _ in range(jobs)]
    pipe = client.pipeline()
    for i in range(jobs):
        pipe.lpush(key, json.dumps({"id": i}).encode() + blob)
    pipe.execute()

    def work() -> int:
        processing, n = f"{key}:processing:{uuid.uuid4().hex[:6]}", 0
        while (item := client.lmove(key, processing, "RIGHT", "LEFT")) is not None:
            if store is not None:
                job_id = ids[json.loads(item[: item.index(b"}") + 1])["id"]]
                with store.transaction() as session:
                    session.execute(
                        update(Job).where(Job.id == job_id).values(status="completed", evidence=None)
                    )
                    webhooks.enqueue(session, "default", "verification.completed", {"id": job_id})
            client.lrem(processing, 1, item)  # acknowledge
            n += 1
        return n

    seconds, n = run_threads(workers, work)
    client.delete(key)
    client.close()
    assert n == jobs
    return {"workers": workers, "jobs": n, "seconds": round(seconds, 3), "jobs_per_s": round(n / seconds, 1)}


def on_postgres(admin_url: str, run: Callable[[Store], dict[str, Any]]) -> dict[str, Any]:
    """``run`` on a fresh, migrated PostgreSQL database, dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"openidv_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = Store(make_engine(admin.url.set(database=name).render_as_string(hide_password=False)))
    try:
        return run(store)
    finally:
        store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,3,4")
    parser.add_argument("--payload", type=int, default=2048)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--backends", default="postgresql,sqlite,redis")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    backends = args.backends.split(",")
    results: dict[str, list[dict[str, Any]]] = {}
    for workers in counts:
        if "postgresql" in backends:
            results.setdefault("postgresql_skip_locked", []).append(
                on_postgres(
                    args.postgres, partial(store_queue, jobs=args.jobs, workers=workers, payload=args.payload)
                )
            )
        if "sqlite" in backends:
            with tempfile.TemporaryDirectory() as tmp:
                store = Store(make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"))
                try:
                    results.setdefault("sqlite_lease", []).append(
                        store_queue(store, args.jobs, workers, args.payload)
                    )
                finally:
                    store.engine.dispose()
        if "redis" in backends:
            results.setdefault("redis_lmove", []).append(
                redis_queue(args.redis, args.jobs, workers, args.payload)
            )
            with_write = partial(redis_queue, args.redis, args.jobs, workers, args.payload)
            results.setdefault("redis_lmove_plus_postgresql_write", []).append(
                on_postgres(args.postgres, lambda s, run=with_write: run(s))  # type: ignore[misc]
            )
    print(
        json.dumps(
            {
                "bench": "queue",
                "jobs": args.jobs,
                "payload_bytes": args.payload,
                "results": results,
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
