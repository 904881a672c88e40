"""Cost of sealing personal fields at rest, and throughput of erasure and key rotation, on SQLite.

Prints JSON. Stores ``--n`` verifications shaped like a real MRZ + declared-data verification (the MRZ
check's details and consistency details, about 1-2 KB of JSON per verification) through ``Store``, and times,
in the same run:

- the peer: the same JSON encoded and decoded without encryption (what storing it plain costs in Python);
- seal + open of the same JSON with the key ring (envelope AES-256-GCM), per verification;
- ``save_verification`` and ``get_verification`` end to end (sealing included);
- ``openidv crypto rotate`` re-encrypting every row under a new key (rows per second);
- subject erasure, one subject at a time (subjects per second), ending with an audit-chain verification.

Usage: PYTHONPATH=src python bench/privacy.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openidv.crypto import KeyRing
from openidv.results import CheckResult, Decision, Meaning, Outcome, Status
from openidv.services.subjects import SubjectService
from openidv.store.repository import Store
from openidv.store.rotation import rotate_all
from openidv.store.sealed import open_json, seal_json, verification_aad
from openidv.verification import VerificationRecord


def _details(i: int) -> dict[str, Any]:
    return {
        "format": "TD3",
        "fields": {
            "surname": f"SURNAME{i}",
            "given_names": "ANNA MARIA",
            "document_number": f"X{i:08d}",
            "birth_date": "740812",
            "expiry_date": "320415",
            "nationality": "UTO",
            "sex": "F",
        },
        "lines": [
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ],
        "check_digits": {"document_number": True, "birth_date": True, "expiry_date": True, "composite": True},
        "declared": {"surname": f"Surname{i}", "given_names": "Anna Maria", "birth_date": "1974-08-12"},
        "comparisons": [
            {"field": f, "score": 1.0, "method": "exact"} for f in ("surname", "given_names", "dob")
        ],
    }


def _record(i: int) -> VerificationRecord:
    checks = tuple(
        CheckResult(
            check=name,
            version="1",
            status=Status.OK,
            score=0.9,
            meaning=Meaning.SIMILARITY,
            reason_codes=(),
            details=_details(i),
            latency_ms=1.0,
        )
        for name in ("mrz", "consistency")
    )
    decision = Decision(outcome=Outcome.APPROVE, reason_codes=(), policy_version="bench", fired_rules=())
    return VerificationRecord(
        id=str(uuid.uuid4()), created_at=datetime.now(UTC), decision=decision, checks=checks, latency_ms=2.0
    )


def _per_item_us(start: float, n: int) -> float:
    return round((time.perf_counter() - start) / n * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    ring = KeyRing(secrets.token_bytes(32))
    payload = _details(1)
    size = len(json.dumps(payload))

    start = time.perf_counter()
    for _ in range(args.n):
        json.loads(json.dumps(payload, sort_keys=True, separators=(",", ":")))
    plain_us = _per_item_us(start, args.n)
    start = time.perf_counter()
    for i in range(args.n):
        aad = verification_aad(str(i))
        open_json(ring, seal_json(ring, payload, aad), aad)
    sealed_us = _per_item_us(start, args.n)

    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        store = Store.from_url(f"sqlite:///{data_dir / 'bench.sqlite3'}", keyring=ring)
        records = [_record(i) for i in range(args.n)]
        start = time.perf_counter()
        for i, record in enumerate(records):
            store.save_verification(
                record, request_hash="0" * 64, evidence_summary={"fields": ["mrz_text"]}, subject_id=f"s{i}"
            )
        save_us = _per_item_us(start, args.n)
        start = time.perf_counter()
        for record in records:
            store.get_verification(record.id)
        get_us = _per_item_us(start, args.n)

        new_ring = KeyRing(secrets.token_bytes(32), (ring.master_key,))
        start = time.perf_counter()
        report = rotate_all(store.engine, new_ring, data_dir / "galleries", batch=500)
        rotate_s = time.perf_counter() - start
        rotated_rows = report.verifications + report.check_results

        store = Store.from_url(f"sqlite:///{data_dir / 'bench.sqlite3'}", keyring=new_ring)
        subjects = SubjectService(store, None)
        erase_n = min(200, args.n)
        start = time.perf_counter()
        for i in range(erase_n):
            subjects.erase(f"s{i}")
        erase_s = time.perf_counter() - start
        chain = store.verify_audit_chain()

    print(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpu": platform.processor(),
                    "cores": os.cpu_count(),
                },
                "n": args.n,
                "details_json_bytes": size,
                "plain_json_round_trip_us": plain_us,
                "sealed_round_trip_us": sealed_us,
                "seal_overhead_ratio": round(sealed_us / plain_us, 2),
                "save_verification_us": save_us,
                "get_verification_us": get_us,
                "rotate_rows_per_s": round(rotated_rows / rotate_s, 1),
                "rotated": {"verifications": report.verifications, "check_results": report.check_results},
                "erase_subjects_per_s": round(erase_n / erase_s, 1),
                "audit_chain_ok": chain.ok,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
