"""The review console's pages against the JSON API a browser front end would call instead. Prints JSON.

Why this comparison: issue 16 left the console's build open (server-rendered pages, or a front end built
with Node.js that calls the API). A front end would fetch ``GET /v1/cases`` and ``GET /v1/cases/{id}`` and
render in the browser, after downloading its bundle; the server-rendered pages do the rendering on the
server and send HTML with no script. This measures, in one process over the real app (SQLite, TestClient,
no network): time per request (p50/p99 wall) and bytes per answer for the queue page (50 cases) and a case
page, against the two JSON answers, on ``--cases`` review cases (MRZ-only applicants through the real
default policy: SYNTHETIC data, sent to review because the selfie and the document photo are missing).

Usage: python bench/console.py [--cases 200] [--n 200]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PASSWORD = "benchmark password"


def _timed(call: Any, n: int) -> dict[str, Any]:
    walls, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        answer = call()
        walls.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.status_code
        size = len(answer.content)
    w = np.array(walls)
    return {
        "n": n,
        "p50_ms": round(float(np.percentile(w, 50)), 2),
        "p99_ms": round(float(np.percentile(w, 99)), 2),
        "bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="openidv-bench-console-"))
    os.environ["OPENIDV_DATA_DIR"] = str(work)
    for name in ("OPENIDV_DATABASE_URL", "OPENIDV_REDIS_URL", "OPENIDV_AUDIT_CHECKPOINTS"):
        os.environ.pop(name, None)
    os.environ.setdefault("OPENIDV_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    os.environ.setdefault("OPENIDV_AUDIT_KEY", base64.b64encode(os.urandom(32)).decode())
    from fastapi.testclient import TestClient

    from openidv.api.app import create_app
    from openidv.demo import session_applicants
    from openidv.evidence import Evidence
    from openidv.settings import Settings
    from openidv.store.repository import Store
    from openidv.tenancy import SCOPES

    settings = Settings.from_env()
    store = Store.from_settings(settings)
    app = create_app(settings, store=store)
    passport = session_applicants()[0].evidence  # a valid, unexpired SYNTHETIC passport MRZ
    start = time.perf_counter()
    for i in range(args.cases):
        evidence = Evidence(mrz_text=passport.mrz_text, declared=passport.declared, subject_id=f"bench-{i}")
        record = app.state.verifier.verify(evidence, actor="bench")
        assert record.decision.outcome.value == "review", record.decision
    seed_s = time.perf_counter() - start
    app.state.console_accounts.create_user("bench.analyst", "analyst", PASSWORD)
    _, key = store.create_api_key("bench", scopes=SCOPES)
    api = {"Authorization": f"Bearer {key}"}
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/console/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        signed = client.post(
            "/console/sign-in",
            data={
                "csrf_token": token.group(1),
                "name": "bench.analyst",
                "password": PASSWORD,
                "tenant": "default",
            },
            headers={"Origin": "https://testserver"},
        )
        assert signed.status_code == 303, signed.text
        case_id = client.get("/v1/cases", params={"limit": 1}, headers=api).json()["items"][0]["id"]
        n = args.n
        results = {
            "queue_page_50": _timed(lambda: client.get("/console/"), n),
            "api_cases_50": _timed(lambda: client.get("/v1/cases", params={"limit": 50}, headers=api), n),
            "case_page": _timed(lambda: client.get(f"/console/cases/{case_id}"), n),
            "api_case": _timed(lambda: client.get(f"/v1/cases/{case_id}", headers=api), n),
        }
    store.engine.dispose()
    out = {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_1m": os.getloadavg()[0],
        },
        "cases": args.cases,
        "seed_s": round(seed_s, 2),
        "what": "TestClient over the real app on SQLite; the console pages are server-rendered HTML with no "
        "script; the peer is the JSON a browser front end would fetch (plus its bundle, not counted)",
        "results": results,
        "ratio_p50_queue_page_over_api": round(
            results["queue_page_50"]["p50_ms"] / results["api_cases_50"]["p50_ms"], 2
        ),
        "ratio_p50_case_page_over_api": round(
            results["case_page"]["p50_ms"] / results["api_case"]["p50_ms"], 2
        ),
    }
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
