"""Load with faults, minutes long: ``openidv serve --workers 2`` + ``openidv worker`` on a private PostgreSQL
and Redis, a steady rate of sync and async verifications, and mid-run: PostgreSQL stopped and started again,
Redis killed with SIGKILL and restarted, one uvicorn worker killed with SIGKILL, the ``openidv worker`` killed
with SIGKILL and replaced. Prints one JSON object: throughput, latency, errors by fault, the zero-loss audit.

    PYTHONPATH=src python bench/load_fault.py --duration 300 --rate 20

Exit status 1 when a write was lost or duplicated, an async job never finished, an event was not delivered
exactly once (after dedup by event id) or the audit chain does not verify. The harness is
``bench/load_harness.py``; ``tests/test_load_fault.py`` runs the same thing for 25 s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_harness import run_load_fault


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--rate", type=float, default=20, help="requests per second")
    parser.add_argument("--async-share", type=float, default=0.3, help="share of async requests")
    parser.add_argument("--api-workers", type=int, default=2, help="uvicorn workers of openidv serve")
    parser.add_argument("--grace", type=float, default=120, help="seconds to wait for jobs and webhooks")
    parser.add_argument("--lease-s", type=float, default=10, help="openidv worker --lease-s")
    parser.add_argument("--job-pause-s", type=float, default=0.2, help="worker sleep after each claim")
    parser.add_argument("--down-s", type=float, default=3, help="seconds PostgreSQL and Redis stay down")
    parser.add_argument("--lose-answer-every", type=int, default=50, help="receiver: lose every Nth answer")
    parser.add_argument("--pg-stop-mode", choices=["fast", "immediate"], default="fast", help="pg_ctl -m")
    parser.add_argument("--keep", type=Path, help="an empty dir to keep the logs and the cluster in")
    args = parser.parse_args()
    report = run_load_fault(
        duration=args.duration,
        rate=args.rate,
        async_share=args.async_share,
        api_workers=args.api_workers,
        grace_s=args.grace,
        lease_s=args.lease_s,
        job_pause_s=args.job_pause_s,
        down_s=args.down_s,
        lose_answer_every=args.lose_answer_every,
        pg_stop_mode=args.pg_stop_mode,
        root=args.keep,
    )
    print(json.dumps(report, indent=2))
    sys.exit(0 if report["pass"] else 1)


if __name__ == "__main__":
    main()
