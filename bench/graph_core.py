"""Identity graph core at N accounts: build, rings, online neighbourhood, incremental add, SQL ingest and
restart; the peer is a full rebuild (what every add would cost without incremental updates).

The population is synthetic and seeded: every account has its own device, email and phone; families of 2-5
share an address and a home phone; coworkers share an office /24 (50-200 per office); carrier NAT addresses
are shared by ~2% of accounts each (hubs, above the 1,000 cap at 100k); device farms (10-60 accounts on one
device), document-reuse pairs and phone-sharing synthetic identities make up ~3% of accounts.

Prints JSON. Usage: python bench/graph_core.py [--n 100000] [--seed 0] [--queries 2000] [--store sqlite|none|postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openidv.services.graph_rings import find_rings, ring_of
from openidv.services.graph_service import GraphService
from openidv.services.identity_graph import IdentityGraph
from openidv.store.db import make_engine
from openidv.store.graph_repository import AccountRecord, GraphRepository, create_graph_tables


def population(n: int, seed: int) -> list[AccountRecord]:
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    offices = max(1, n // 120)
    nats = 50
    out: list[AccountRecord] = []
    i = 0
    while i < n:
        roll = rng.random()
        size = 1
        shared: list[str] = []
        if roll < 0.25:  # family
            size = rng.randint(2, 5)
            shared = [f"address:{i} family rd", f"phone:+1800{i:07d}"]
        elif roll < 0.255:  # device farm
            size = rng.randint(10, 60)
            shared = [f"device:farm{i}"]
        elif roll < 0.26:  # document reuse
            size = 2
            shared = [f"document:xx:D{i}"]
        elif roll < 0.265:  # synthetic identities on one phone
            size = rng.randint(3, 8)
            shared = [f"phone:+1900{i:07d}"]
        when = t0 + timedelta(minutes=rng.randrange(525_600))
        for j in range(min(size, n - i)):
            a = i + j
            keys = [
                f"device:d{a}",
                f"email:u{a}@mail.test",
                f"phone:+1{a:010d}",
                f"ip24:10.{rng.randrange(offices) % 256}.{rng.randrange(offices) // 256}.0/24",
                f"ip:100.64.0.{rng.randrange(nats)}",
                *shared,
            ]
            if "phone:+1800" in "".join(shared) or "phone:+1900" in "".join(shared):
                keys = [k for k in keys if not k.startswith(f"phone:+1{a:010d}")]
            out.append(AccountRecord(f"acct-{a:07d}", tuple(keys), when + timedelta(hours=j)))
        i += size
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument(
        "--store", default="sqlite", help="sqlite, none, or a PostgreSQL URL of an empty throw-away database"
    )
    args = parser.parse_args()
    records = population(args.n, args.seed)
    rng = random.Random(args.seed + 1)
    result: dict[str, object] = {
        "accounts": len(records),
        "links": sum(len(r.keys) for r in records),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }

    start = time.perf_counter()
    graph = IdentityGraph()
    for r in records:
        graph.add(r.account_id, r.keys, r.created_at)
    rebuild_s = time.perf_counter() - start
    result["memory_build_s"] = round(rebuild_s, 3)
    result["hubs"] = sum(1 for h in graph.identifiers().values() if len(h) > graph.config.hub_cap)

    start = time.perf_counter()
    rings = find_rings(graph)
    result["rings_s"] = round(time.perf_counter() - start, 3)
    result["rings"] = len(rings)
    result["largest_ring"] = max((r.size for r in rings), default=0)
    by_member = {a: r for r in rings for a in r.members}

    ids = [r.account_id for r in records]
    samples = []
    for account in rng.sample(ids, min(args.queries, len(ids))):
        t = time.perf_counter()
        graph.neighbourhood(account)
        by_member.get(account)
        samples.append(time.perf_counter() - t)
    result["neighbourhood"] = percentiles(samples)
    fresh = []
    for account in rng.sample(ids, min(args.queries, len(ids))):
        t = time.perf_counter()
        graph.neighbourhood(account)
        ring = ring_of(graph, account)
        fresh.append(time.perf_counter() - t)
        assert ring == by_member.get(account)
    result["neighbourhood_fresh_ring"] = percentiles(fresh)

    adds = []
    for k in range(args.queries):  # a new applicant sharing a random existing device and address
        other = graph.keys_of(rng.choice(ids))
        keys = [f"device:new{k}", *sorted(other)[:2]]
        t = time.perf_counter()
        graph.add(f"new-{k}", keys, datetime.now(UTC))
        adds.append(time.perf_counter() - t)
    result["memory_add"] = percentiles(adds)
    result["peer_full_rebuild_per_add_s"] = round(rebuild_s, 3)
    result["add_speedup_vs_rebuild"] = round(rebuild_s / statistics.median(adds))

    if args.store != "none":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'graph.sqlite3'}" if args.store == "sqlite" else args.store
            result["store"] = make_engine(url).dialect.name
            engine = make_engine(url)
            create_graph_tables(engine)
            service = GraphService(GraphRepository(engine))
            start = time.perf_counter()
            service.add_many(records)
            result["store_ingest_s"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            restarted = GraphService(GraphRepository(engine))
            restarted.graph()
            result["store_restart_load_s"] = round(time.perf_counter() - start, 3)
            assert restarted.graph().snapshot() == service.graph().snapshot()
            store_adds = []
            for k in range(min(500, args.queries)):
                t = time.perf_counter()
                service.add(f"stored-{k}", [f"device:s{k}", f"ip:100.64.0.{k % 50}"])
                store_adds.append(time.perf_counter() - t)
            result["store_add"] = percentiles(store_adds)
            engine.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
