"""Online ring scoring at N accounts: ``GraphScorer.score_account`` (neighbourhood, fresh ring, features,
trees, explanation) against its peer, the neighbourhood and fresh ring alone (what the graph costs without
the model), and with the ring taken from a cached ``find_rings`` pass (``fresh=False`` in the service), on a
SYNTHETIC population (``openidv synth identities``) with the learned hub weights.

Prints JSON. Usage: python bench/graph_scoring.py [--n 100000] [--seed 7] [--queries 2000] [--population core]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

from openidv.services.graph_rings import find_rings, ring_of
from openidv.services.graph_scoring import GraphScorer
from openidv.services.graph_weights import GraphConfig
from openidv.services.identity_graph import IdentityGraph
from openidv.train.graph_eval import labelled_graph


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.5) * 1000, 3),
        "p99_ms": round(pick(0.99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument(
        "--population",
        choices=("synth", "core"),
        default="synth",
        help="synth: openidv synth identities with facts; core: bench/graph_core.py's fast population "
        "(no facts, so fact features are missing), which builds a million accounts in seconds",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    graph = IdentityGraph(GraphConfig.learned())
    if args.population == "synth":
        graph = labelled_graph(args.n, args.seed, config=graph.config).graph
    else:
        from graph_core import population  # the script's folder (bench/) is on sys.path

        for record in population(args.n, args.seed):
            graph.add(record.account_id, record.keys, record.created_at)
    build_s = time.perf_counter() - started
    scorer = GraphScorer.default()
    started = time.perf_counter()
    cached = {m: ring for ring in find_rings(graph) for m in ring.members}
    rings_s = time.perf_counter() - started
    accounts = random.Random(args.seed).sample(list(graph.accounts()), min(args.queries, len(graph)))
    peer: list[float] = []
    full: list[float] = []
    with_cached_ring: list[float] = []
    for account in accounts:  # interleaved, so machine load hits both alike
        t = time.perf_counter()
        graph.neighbourhood(account)
        ring_of(graph, account)
        peer.append(time.perf_counter() - t)
        t = time.perf_counter()
        scorer.score_account(graph, account)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        scorer.score_account(graph, account, ring=cached.get(account))
        with_cached_ring.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "data": "SYNTHETIC",
                "population": args.population,
                "accounts": args.n,
                "queries": len(accounts),
                "build_population_and_graph_s": round(build_s, 1),
                "all_rings_s": round(rings_s, 1),
                "score_account": percentiles(full),
                "score_account_with_cached_ring": percentiles(with_cached_ring),
                "peer_neighbourhood_and_ring_of": percentiles(peer),
                "ratio_p50": round(statistics.median(full) / statistics.median(peer), 2),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load": os.getloadavg(),
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
