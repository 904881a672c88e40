"""MRZ parse+validate throughput and the latency of POST /v1/verifications in-process (SQLite store).

Prints JSON. The peer is the `mrz` package (GPL-3; installed by `make bench` only, never a dependency),
measured on the same synthetic MRZs in the same run: its checkers validate check digits like ours.
Usage: python bench/mrz.py [--n 20000] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from openidv.checks.document.mrz import compose_mrz, read_mrz

FORMATS = ("TD1", "TD2", "TD3", "MRV-A", "MRV-B")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def random_fields(rng: random.Random, fmt: str) -> dict[str, str]:
    def word(n: int) -> str:
        return "".join(rng.choice(LETTERS) for _ in range(n))

    return {
        "document_code": "P" if fmt == "TD3" else ("V" if fmt.startswith("MRV") else "I"),
        "issuer": rng.choice(["UTO", "D", "FRA", "NLD", "USA"]),
        "surname": word(rng.randint(3, 10)),
        "given_names": word(rng.randint(3, 8)),
        "document_number": "".join(rng.choice(LETTERS + "0123456789") for _ in range(9)),
        "nationality": rng.choice(["UTO", "D", "FRA", "NLD", "USA"]),
        "birth_date": f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        "sex": rng.choice("MF"),
        "expiry_date": f"{rng.randint(27, 35):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
    }


def throughput(parse: Callable[[str], Any], texts: list[str], repeats: int = 3) -> dict[str, float]:
    lines = sum(t.count("\n") + 1 for t in texts)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            parse(text)
        best = min(best, time.perf_counter() - start)
    return {
        "lines_per_s": round(lines / best),
        "mrz_per_s": round(len(texts) / best),
        "seconds": round(best, 4),
    }


def peer_parser() -> Callable[[str], Any] | None:
    # This file is itself named mrz.py: drop its folder from the path so `import mrz` finds the peer.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        from mrz.checker.mrva import MRVACodeChecker
        from mrz.checker.mrvb import MRVBCodeChecker
        from mrz.checker.td1 import TD1CodeChecker
        from mrz.checker.td2 import TD2CodeChecker
        from mrz.checker.td3 import TD3CodeChecker
    except ImportError:
        return None

    def parse(text: str) -> Any:
        first = text.split("\n", 1)[0]
        if len(first) == 30:
            return bool(TD1CodeChecker(text))
        if len(first) == 44:
            return bool((MRVACodeChecker if first[0] == "V" else TD3CodeChecker)(text))
        return bool((MRVBCodeChecker if first[0] == "V" else TD2CodeChecker)(text))

    return parse


def api_latency(requests: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from openidv.api.app import create_app
    from openidv.settings import Settings
    from openidv.store.audit import AuditLog
    from openidv.store.repository import Store

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(
            f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", audit_log=AuditLog.ephemeral(Path(tmp))
        )
        _, key = store.create_api_key("bench")
        app = create_app(Settings(data_dir=Path(tmp)), store=store)
        headers = {"Authorization": f"Bearer {key}"}
        timings = []
        with TestClient(app) as client:
            for i in range(requests + 20):
                fields = random_fields(rng, "TD3")
                body = {
                    "mrz": compose_mrz("TD3", fields),
                    "declared": {"surname": fields["surname"], "given_names": fields["given_names"]},
                }
                start = time.perf_counter()
                response = client.post("/v1/verifications", json=body, headers=headers)
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 201, response.text
                if i >= 20:  # warm-up excluded
                    timings.append(elapsed)
        store.engine.dispose()
    timings.sort()
    return {
        "requests": requests,
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 2),
        "mean_ms": round(statistics.fmean(timings), 2),
        "store": "sqlite (file, WAL)",
        "client": "in-process TestClient (no network)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="synthetic MRZs to parse")
    parser.add_argument("--requests", type=int, default=300, help="API requests to time")
    args = parser.parse_args()
    rng = random.Random(42)
    texts = [compose_mrz(fmt, random_fields(rng, fmt)) for fmt in rng.choices(FORMATS, k=args.n)]
    ours = throughput(lambda t: read_mrz(t, as_of=date(2026, 11, 29)), texts)
    peer = peer_parser()
    result: dict[str, Any] = {
        "benchmark": "mrz",
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "data": f"{args.n} synthetic MRZs (all five formats, valid check digits)",
        "parse_validate": {"openidv": ours},
    }
    if peer is not None:
        theirs = throughput(peer, texts)
        result["parse_validate"]["mrz_0.6.2"] = theirs
        result["parse_validate"]["speedup_vs_peer"] = round(ours["lines_per_s"] / theirs["lines_per_s"], 2)
        result["parse_validate"]["note"] = (
            "openidv also decodes dates, checks ICAO codes, sex and document codes; the peer validates "
            "check digits and fields"
        )
    else:
        result["parse_validate"]["mrz_0.6.2"] = "not installed (pip install mrz==0.6.2)"
    result["api_post_verifications"] = api_latency(args.requests)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
