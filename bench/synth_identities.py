"""The synthetic onboarding population (``openidv synth identities``): how fast it is written, how much
innocent sharing it holds, and what the naive rule "an account that shares an identifier with another is in
a ring" scores on it (the peer the identity-graph models have to beat).

Prints JSON: accounts per second (wall and CPU), accounts per typology, per identifier the shared values and
the innocent and ring accounts on them, and the naive rule's flagged count, precision and recall.
Usage: python bench/synth_identities.py [--n 100000] [--seed 1] [--ring-share 0.05]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from openidv.synth.identities import generate

Record = dict[str, str | None]


def _phone(r: Record) -> str | None:
    """Last nine digits: one number under its national and international spellings."""
    digits = re.sub(r"\D", "", r["phone"] or "")
    return digits[-9:] or None


KEYS: dict[str, Callable[[Record], str | None]] = {
    "ip": lambda r: r["ip"],
    "ip_24": lambda r: r["ip"].rsplit(".", 1)[0] if r["ip"] else None,
    "device": lambda r: r["device_id"],
    "phone": _phone,
    "document": lambda r: f"{r['document_number']}|{r['document_issuer']}" if r["document_number"] else None,
    "face": lambda r: r["face_id"],
    "national_id": lambda r: r["national_id"],
}
RULES = (
    ("device", "phone", "document", "face"),
    ("device", "phone", "document", "face", "ip"),
    ("device",),
    ("phone",),
    ("document",),
    ("face",),
    ("ip",),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ring-share", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        population = generate(args.n, Path(tmp), seed=args.seed, ring_share=args.ring_share)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        lines = (Path(tmp) / "applicants.jsonl").read_text(encoding="utf-8").splitlines()
        records: list[Record] = [json.loads(line) for line in lines]
        rows = (Path(tmp) / "labels.csv").read_text(encoding="utf-8").splitlines()[1:]
    in_ring = {row.split(",")[0] for row in rows if row.split(",")[1]}
    shared: dict[str, set[str]] = {}
    sharing = {}
    for name, key in KEYS.items():
        counts = Counter(key(r) for r in records)
        shared[name] = {str(r["account_id"]) for r in records if key(r) and counts[key(r)] > 1}
        values = [v for v, c in counts.items() if v and c > 1]
        sharing[name] = {
            "shared_values": len(values),
            "innocent_accounts_on_shared": len(shared[name] - in_ring),
            "ring_accounts_on_shared": len(shared[name] & in_ring),
            "largest": max((counts[v] for v in values), default=0),
        }
    naive = []
    for rule in RULES:
        flagged = set().union(*(shared[k] for k in rule))
        hits = len(flagged & in_ring)
        naive.append(
            {
                "shares_any_of": list(rule),
                "flagged": len(flagged),
                "precision": round(hits / len(flagged), 3) if flagged else None,
                "recall": round(hits / len(in_ring), 3) if in_ring else None,
            }
        )
    print(
        json.dumps(
            {
                "n": args.n,
                "seed": args.seed,
                "ring_share": args.ring_share,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "accounts_per_s_wall": round(args.n / wall),
                "accounts_per_s_cpu": round(args.n / cpu),
                "counts": population.counts,
                "rings": population.rings,
                "sharing": sharing,
                "naive_rule": naive,
                "machine": {"python": platform.python_version(), "processor": platform.processor()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
