"""``openidv train graph-gnn``: build SYNTHETIC populations, train the heterogeneous GNN on the training
seeds, score the held-out seeds, and write the state dict, a model card and an evaluation report.

The protocol (seeds, threshold on a calibration population, metrics and intervals) is
``openidv.train.graph_eval``'s, shared with the gradient-boosted model. Training and test populations come
from different seeds, so every test ring, family and office is new to the
model (inductive). All numbers in the outputs are SYNTHETIC and say so.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from openidv.train.graph_eval import (
    CALIBRATION_SEEDS,
    DEFAULT_N,
    DEFAULT_REPLICATES,
    SYNTHETIC_NOTE,
    TEST_SEEDS,
    TRAIN_SEEDS,
    LabelledGraph,
    Scored,
    evaluate_scores,
    labelled_graph,
    policy_threshold,
)
from openidv.train.graph_gnn import MODEL_ID, GnnConfig, Trained, save, score, train
from openidv.train.graph_hetero import HUB_CAP, HeteroArrays, build_arrays


@dataclass(frozen=True)
class Plan:
    """Which populations to train, calibrate and test on (``graph_eval``'s protocol by default); the three
    seed lists must not overlap."""

    n: int = DEFAULT_N
    train_seeds: tuple[int, ...] = TRAIN_SEEDS
    calibration_seeds: tuple[int, ...] = CALIBRATION_SEEDS
    test_seeds: tuple[int, ...] = TEST_SEEDS
    ring_share: float = 0.05
    hub_cap: int = HUB_CAP

    def __post_init__(self) -> None:
        seeds = [*self.train_seeds, *self.calibration_seeds, *self.test_seeds]
        if len(set(seeds)) != len(seeds):
            raise ValueError("train, calibration and test seeds overlap: a test ring would be seen before")


@dataclass(frozen=True)
class Population:
    labelled: LabelledGraph
    arrays: HeteroArrays


def population(plan: Plan, seed: int) -> Population:
    pop = labelled_graph(plan.n, seed, ring_share=plan.ring_share)
    return Population(pop, build_arrays(pop.graph, pop.accounts, hub_cap=plan.hub_cap))


def score_all(trained: Trained, pops: Sequence[Population]) -> tuple[list[np.ndarray], float]:
    """Scores per population and the inference time per 1,000 accounts (arrays already built)."""
    start = time.perf_counter()
    scores = [score(trained.model, p.arrays) for p in pops]
    n = sum(p.arrays.n for p in pops)
    return scores, 1000.0 * (time.perf_counter() - start) / max(n, 1)


def run(
    out: Path,
    *,
    plan: Plan = Plan(),
    config: GnnConfig = GnnConfig(),
    seed: int = 0,
    replicates: int = DEFAULT_REPLICATES,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The whole recipe; returns the report it writes to ``out/graph-ring-gnn-v1.report.json``."""
    say = log or (lambda _: None)
    t0 = time.perf_counter()

    def populations(seeds: Sequence[int], role: str) -> list[Population]:
        say(f"{time.perf_counter() - t0:7.1f}s building {role} populations {list(seeds)} (SYNTHETIC)")
        return [population(plan, s) for s in seeds]

    trains = populations(plan.train_seeds, "training")
    calibration = populations(plan.calibration_seeds, "calibration")
    tests = populations(plan.test_seeds, "test")
    build_seconds = time.perf_counter() - t0
    say(f"{build_seconds:7.1f}s training on {sum(p.arrays.n for p in trains)} accounts")
    trained = train(
        [p.arrays for p in trains],
        [p.labelled.is_ring for p in trains],
        config=config,
        seed=seed,
        log=lambda m: say(f"{time.perf_counter() - t0:7.1f}s {m}"),
    )
    calibration_scores, _ = score_all(trained, calibration)
    innocent = np.concatenate(
        [s[~p.labelled.is_ring] for s, p in zip(calibration_scores, calibration, strict=True)]
    )
    threshold = policy_threshold(innocent)
    test_scores, per_1k = score_all(trained, tests)
    scored = Scored.of([p.labelled for p in tests], test_scores)
    say(f"{time.perf_counter() - t0:7.1f}s evaluating ({replicates} bootstrap replicates)")
    metrics = evaluate_scores(scored, threshold=threshold, replicates=replicates, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{MODEL_ID}.pt"
    save(trained.model, str(weights))
    report: dict[str, Any] = {
        "data": SYNTHETIC_NOTE,
        "model_id": MODEL_ID,
        "seed": seed,
        "population_n": plan.n,
        "ring_share": plan.ring_share,
        "hub_cap": plan.hub_cap,
        "train_seeds": list(plan.train_seeds),
        "calibration_seeds": list(plan.calibration_seeds),
        "test_seeds": list(plan.test_seeds),
        "train_accounts": sum(p.arrays.n for p in trains),
        "config": config.as_dict(),
        "build_seconds": round(build_seconds, 2),
        "train_seconds": round(trained.train_seconds, 2),
        "final_loss": round(trained.losses[-1], 5),
        "inference_seconds_per_1k_accounts": round(per_1k, 4),
        "evaluation": metrics,
        "machine": {"python": platform.python_version(), "torch_threads": config.threads},
    }
    (out / f"{MODEL_ID}.report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / f"{MODEL_ID}.yaml").write_text(model_card(report, weights), encoding="utf-8")
    return report


def _fmt(entry: dict[str, Any]) -> str:
    """``value [low, high]``; ``n/a`` where the value or its interval is undefined (e.g. no bootstrap)."""

    def num(x: Any) -> str:
        return "n/a" if x is None else f"{x:.4f}"

    return f"{num(entry.get('value'))} [{num(entry.get('ci_low'))}, {num(entry.get('ci_high'))}]"


def headline(evaluation: dict[str, Any]) -> dict[str, dict[str, str]]:
    """AUC, AUPRC and recall at 1% FPR (value [95% interval]) overall and per ring typology."""
    rows = {"overall": evaluation["overall"], **evaluation["per_typology"]}
    return {
        name: {
            "auc": _fmt(r["roc_auc"]),
            "auprc": _fmt(r["auprc"]),
            "recall_at_1pct_fpr": _fmt(r["recall_at_fpr"]),
        }
        for name, r in rows.items()
    }


def model_card(report: dict[str, Any], weights: Path) -> str:
    """A card in the models/ style: what it is, what it was trained and tested on, how well, its limits."""
    m = report["evaluation"]
    card: dict[str, Any] = {
        "model_id": MODEL_ID,
        "artifact": weights.name,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "title": "Ring membership per account: heterogeneous GraphSAGE over typed account-identifier edges",
        "version": "1",
        "licence": "Apache-2.0",
        "status": "experimental, not the shipped default ring model (graph-ring-gbt-v1 is: docs/graph.md)",
        "format": "PyTorch state dict (tensors only; torch.load(weights_only=True)); architecture in config",
        "score": "P(ring member), meaning attack (higher = more likely a fraud-ring account)",
        "config": report["config"],
        "training_data": {
            "kind": report["data"],
            "population_n": report["population_n"],
            "train_seeds": report["train_seeds"],
            "ring_share": report["ring_share"],
            "hub_cap": report["hub_cap"],
            "seed": report["seed"],
        },
        "evaluation": {
            "kind": "SYNTHETIC held-out seeds (inductive: no test ring seen in training)",
            "test_seeds": report["test_seeds"],
            "calibration_seeds": report["calibration_seeds"],
            "test_accounts": m["accounts"],
            "interval": m["interval"],
            "metrics": headline(m),
            "policy_threshold": m["threshold"],
            "innocent_flagged_at_threshold": {
                t: f"{_fmt(v)} of {v['n']}" for t, v in m["innocent_flagged"].items()
            },
            "report": f"{MODEL_ID}.report.json",
        },
        "intended_use": "research comparison with the gradient-boosted ring model; ranking for review",
        "limits": [
            "trained and tested on SYNTHETIC populations only; real rings will differ",
            "identifiers above hub_cap holders lose their edges (counted as an account feature)",
            "scores are not calibrated probabilities on real data and must not feed a policy threshold as is",
        ],
    }
    header = "# Model card. Every number here is SYNTHETIC (openidv synth identities, held-out seeds).\n"
    return header + yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=110)
