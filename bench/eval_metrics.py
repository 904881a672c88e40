"""Benchmark: the verification metric set against scikit-learn's roc_curve, in the same run.

Prints JSON. Two workloads (synthetic genuine ~ N(2, 1), impostor ~ N(0, 1), 0.1% failures to acquire):

* ``large``: the full verification metric set (thresholds, FMR/FNMR curves with and without FTA, EER, ROC
  AUC, FNMR at five FMR targets, rates at the operating point) on 10 million scores, no bootstrap;
  peer: ``sklearn.metrics.roc_curve`` once on the same scores (curve only).
* ``bootstrap``: the same set with 1,000 subject-bootstrap replicates on 100,000 scores; peers:
  ``roc_curve`` once, and ``roc_curve`` on 1,000 row resamples (what a hand-written bootstrap costs).

Usage: ``python bench/eval_metrics.py [--large N] [--small N] [--replicates B]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import roc_curve

from openidv.eval.data import ScoredSet, Task
from openidv.eval.metrics import evaluate_set
from openidv.eval.metrics.common import Options
from openidv.results import Meaning


def synthetic(n: int, seed: int, genuine_share: float = 0.1, subjects: int | None = None) -> ScoredSet:
    rng = np.random.default_rng(seed)
    n_gen = int(n * genuine_share)
    n_sub = subjects or max(100, n // 100)
    good = np.zeros(n, dtype=bool)
    good[:n_gen] = True
    scores = np.where(good, rng.normal(2.0, 1.0, n), rng.normal(0.0, 1.0, n))
    fta = rng.random(n) < 0.001
    subject_a = rng.integers(0, n_sub, n).astype(np.intp)
    subject_b = np.where(good, subject_a, (subject_a + rng.integers(1, n_sub, n)) % n_sub).astype(np.intp)
    return ScoredSet(
        task=Task.VERIFICATION,
        meaning=Meaning.SIMILARITY,
        ids=np.arange(n).astype(object),
        scores=np.where(fta, np.nan, scores),
        fta=fta,
        good=good,
        subject_a=subject_a,
        subject_b=subject_b,
        subjects=tuple(str(i) for i in range(n_sub)),
        species=np.full(n, "", dtype=object),
    )


def timed(fn: Any, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def sklearn_inputs(ss: ScoredSet) -> tuple[np.ndarray, np.ndarray]:
    ok = ~ss.fta
    return ss.good[ok].astype(np.int8), ss.scores[ok]


def large(n: int) -> dict[str, Any]:
    ss = synthetic(n, seed=1)
    y, s = sklearn_inputs(ss)
    ours = timed(lambda: evaluate_set(ss, Options(replicates=0)), repeat=2)
    peer = timed(lambda: roc_curve(y, s), repeat=2)
    peer_full = timed(lambda: roc_curve(y, s, drop_intermediate=False), repeat=1)
    ev = evaluate_set(ss, Options(replicates=0))
    return {
        "scores": n,
        "openidv_full_verification_set_s": round(ours, 3),
        "sklearn_roc_curve_s": round(peer, 3),
        "sklearn_roc_curve_no_drop_s": round(peer_full, 3),
        "ratio_openidv_over_sklearn": round(ours / peer, 3),
        "eer": ev.metrics["eer"]["value"],
        "fnmr_at_fmr_1e-3": ev.metrics["fnmr_at_fmr"]["1e-3"]["value"],
    }


def bootstrap(n: int, replicates: int) -> dict[str, Any]:
    ss = synthetic(n, seed=2, subjects=1000)
    y, s = sklearn_inputs(ss)
    options = Options(replicates=replicates)
    ours = timed(lambda: evaluate_set(ss, options))
    peer_once = timed(lambda: roc_curve(y, s), repeat=3)
    rng = np.random.default_rng(3)

    def sklearn_bootstrap() -> None:
        for _ in range(replicates):
            idx = rng.integers(0, y.size, y.size)
            roc_curve(y[idx], s[idx])

    peer_loop = timed(sklearn_bootstrap)
    return {
        "scores": n,
        "subjects": len(ss.subjects),
        "replicates": replicates,
        "openidv_full_set_with_subject_bootstrap_s": round(ours, 3),
        "sklearn_roc_curve_once_s": round(peer_once, 4),
        "sklearn_roc_curve_x_replicates_s": round(peer_loop, 3),
        "ratio_openidv_over_sklearn_loop": round(ours / peer_loop, 3),
        "note": "sklearn loop: one curve per row resample; openidv: every metric with intervals",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    result = {
        "benchmark": "eval_metrics",
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "scikit_learn": sklearn.__version__,
        },
        "large": large(args.large),
        "bootstrap": bootstrap(args.small, args.replicates),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
