"""The GNN ring model (``openidv train graph-gnn``) on the shared protocol of ``openidv.train.graph_eval``:
SYNTHETIC populations, trained on the training seeds, threshold set on the calibration seed, every number
measured on the held-out test seeds.

Prints JSON: population build, training and inference time (per 1,000 accounts, the arrays already built),
and AUC, AUPRC and recall at 1% FPR with 95% intervals overall and per ring typology, plus recall and the
innocent groups flagged at the calibrated threshold. ``gnn_figures()`` returns the same dict for
``bench/graph.py``. ``--gbt-report`` puts the gradient-boosted model's figures (same protocol) beside it.
Needs ``pip install 'openidv[gnn]'``.

With saved weights (``--weights``, default models/graph-ring-gnn-v1.pt) it also times scoring one account
online from its neighbourhood (``score_account``) on test seed 201.

Usage: python bench/graph_gnn.py [--n 20000] [--epochs 80] [--replicates 500] [--gbt-report FILE]
                                 [--weights FILE] [--online-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any


def gnn_figures(
    n: int = 20_000, epochs: int = 80, replicates: int = 500, seed: int = 0, threads: int = 1
) -> dict[str, Any]:
    """Train and evaluate once; SYNTHETIC figures in a JSON-able dict."""
    from openidv.train.graph_gnn import GnnConfig
    from openidv.train.graph_gnn_recipe import Plan, headline, run

    with tempfile.TemporaryDirectory() as tmp:
        report = run(
            Path(tmp),
            plan=Plan(n=n),
            config=GnnConfig(epochs=epochs, threads=threads),
            seed=seed,
            replicates=replicates,
        )
    ev = report["evaluation"]
    return {
        "data": report["data"],
        "model": report["model_id"],
        "population_n": n,
        "train_seeds": report["train_seeds"],
        "calibration_seeds": report["calibration_seeds"],
        "test_seeds": report["test_seeds"],
        "train_accounts": report["train_accounts"],
        "test_accounts": ev["accounts"],
        "test_ring_accounts": ev["ring_accounts"],
        "test_rings": ev["rings"],
        "build_seconds": report["build_seconds"],
        "train_seconds": report["train_seconds"],
        "inference_seconds_per_1k_accounts": report["inference_seconds_per_1k_accounts"],
        "interval": ev["interval"],
        "metrics": headline(ev),
        "at_threshold": ev["overall"].get("at_threshold"),
        "innocent_flagged": ev["innocent_flagged"],
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch_threads": threads},
    }


def online_figures(
    weights: Path, n: int = 20_000, seed: int = 201, samples: int = 500, threads: int = 1
) -> dict[str, Any]:
    """One account at a time from its neighbourhood (``score_account``) with saved weights, on a test
    population: latency percentiles, neighbourhood size, and the largest gap to the full-batch score."""
    import numpy as np
    import torch

    from openidv.train.graph_eval import labelled_graph
    from openidv.train.graph_gnn import GnnConfig, load, score, score_account
    from openidv.train.graph_hetero import build_arrays, neighbourhood, token_index

    torch.set_num_threads(threads)
    pop = labelled_graph(n, seed)
    model = load(str(weights), GnnConfig())
    start = time.perf_counter()
    tokens = token_index(pop.graph)
    index_seconds = time.perf_counter() - start
    full = score(model, build_arrays(pop.graph, pop.accounts, tokens=tokens))
    rng = np.random.default_rng(0)
    picks = rng.choice(len(pop.accounts), size=min(samples, len(pop.accounts)), replace=False)
    times, sizes, gap = [], [], 0.0
    for i in picks:
        account = pop.accounts[int(i)]
        t = time.perf_counter()
        online = score_account(model, pop.graph, account, tokens=tokens)
        times.append(1000.0 * (time.perf_counter() - t))
        sizes.append(len(neighbourhood(pop.graph, account, tokens=tokens)))
        gap = max(gap, abs(online - float(full[int(i)])))
    ms = np.asarray(times)
    return {
        "data": "SYNTHETIC",
        "population_n": n,
        "seed": seed,
        "samples": len(picks),
        "token_index_seconds": round(index_seconds, 3),
        "ms_p50": round(float(np.percentile(ms, 50)), 2),
        "ms_p99": round(float(np.percentile(ms, 99)), 2),
        "ms_max": round(float(ms.max()), 2),
        "neighbourhood_accounts_p50": int(np.percentile(sizes, 50)),
        "neighbourhood_accounts_max": int(max(sizes)),
        "max_abs_gap_to_full_batch": gap,
    }


def gbt_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The GBT's evaluation (``graph_eval`` report under ``model``) in the same shape as the GNN's."""
    from openidv.train.graph_gnn_recipe import headline

    ev = report.get("model", report)
    return {
        "data": ev.get("data"),
        "test_accounts": ev["accounts"],
        "metrics": headline(ev),
        "at_threshold": ev["overall"].get("at_threshold"),
        "innocent_flagged": ev.get("innocent_flagged"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gbt-report", type=Path, default=None, help="the GBT's evaluation report JSON")
    parser.add_argument("--weights", type=Path, default=Path("models/graph-ring-gnn-v1.pt"))
    parser.add_argument("--online-only", action="store_true", help="only the one-account latency")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if not args.online_only:
        out["gnn"] = gnn_figures(args.n, args.epochs, args.replicates, args.seed, args.threads)
    if args.weights.exists():
        out["online"] = online_figures(args.weights, n=args.n, threads=args.threads)
    if args.gbt_report is not None:
        out["gbt"] = gbt_figures(json.loads(args.gbt_report.read_text(encoding="utf-8")))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
