"""The cost of the keyed audit chain's checkpoints: storing verifications with a signed checkpoint after every
entry (fsynced to the checkpoint file) versus none, on SQLite and (when reachable) PostgreSQL.

Prints JSON: per-verification store latency (median, p95) for each setting and their ratio, and the time of
``verify_audit_chain`` over the stored log. The peer is the same store without checkpoints, in the same run.
Usage: python bench/audit.py [--n 300] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from openidv.results import CheckResult, Decision, Meaning, Outcome, Status
from openidv.settings import Settings
from openidv.store.audit import AuditLog
from openidv.store.audit_keys import AuditKey, AuditKeyring
from openidv.store.db import make_engine
from openidv.store.repository import Store
from openidv.verification import VerificationRecord


def record() -> VerificationRecord:
    return VerificationRecord(
        id=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        decision=Decision(outcome=Outcome.APPROVE, reason_codes=(), policy_version="p1", fired_rules=()),
        checks=tuple(
            CheckResult(
                check=name,
                version="1.0.0",
                status=Status.OK,
                score=0.5,
                meaning=Meaning.SIMILARITY,
                reason_codes=(),
                details={},
                latency_ms=1.0,
            )
            for name in ("mrz", "face_match", "pad")
        ),
        latency_ms=3.0,
    )


def run(url: str, data_dir: Path, every: int, n: int) -> dict[str, Any]:
    keyring = AuditKeyring(AuditKey(secrets.token_bytes(32)))
    audit_log = AuditLog.with_keyring(keyring, Settings(data_dir=data_dir, audit_checkpoint_every=every))
    store = Store(make_engine(url), audit_log=audit_log)
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        store.save_verification(record(), request_hash="h" * 64, evidence_summary={})
        timings.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    report = store.verify_audit_chain()
    verify_ms = (time.perf_counter() - start) * 1000
    store.engine.dispose()
    assert report.ok, report.problem
    timings.sort()
    return {
        "checkpoint_every": every,
        "median_ms": round(statistics.median(timings), 3),
        "p95_ms": round(timings[int(0.95 * len(timings)) - 1], 3),
        "verify_ms": round(verify_ms, 1),
        "checkpoints": report.checkpoints_checked,
    }


def compare(name: str, make_url: Any, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": name}
    for every in (0, 1):
        with tempfile.TemporaryDirectory() as tmp:
            out[f"every_{every}"] = run(make_url(Path(tmp)), Path(tmp), every, n)
    out["median_ratio_checkpoint_vs_none"] = round(
        out["every_1"]["median_ms"] / out["every_0"]["median_ms"], 3
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results = [compare("sqlite", lambda d: f"sqlite:///{d / 'bench.sqlite3'}", args.n)]
    try:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no PostgreSQL here: say so, measure SQLite only
        results.append({"backend": "postgresql", "skipped": type(exc).__name__})
    else:
        dbs: list[str] = []

        def pg_url(_: Path) -> str:
            name = f"openidv_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            dbs.append(name)
            return admin.url.set(database=name).render_as_string(hide_password=False)

        try:
            results.append(compare("postgresql", pg_url, args.n))
        finally:
            with admin.connect() as conn:
                for name in dbs:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(
        json.dumps(
            {
                "n": args.n,
                "machine": platform.platform(),
                "python": platform.python_version(),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
