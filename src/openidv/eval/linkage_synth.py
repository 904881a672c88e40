"""Entity resolution on a SYNTHETIC population (``openidv.synth.identities``): does the resolver put one
person's accounts together, and does it keep different people apart?

Truth: two innocent accounts with the same ``face_id`` are one person (a second account, typed
differently); accounts with different faces are different people. Ring members are left out of the
"same person" truth (a face-reuse ring shares a face under other names and documents by design) but count
when they are wrongly merged with anyone.
"""

from __future__ import annotations

import time
from itertools import combinations
from typing import Any

from openidv.services.linkage.applicants import applicant_model, frame_of, record_of
from openidv.services.linkage.clusters import pairs_of
from openidv.services.linkage.engines import Engine
from openidv.services.linkage.resolve import Pair, resolve


def same_person_pairs(accounts: list[Any]) -> set[Pair]:
    """Pairs of innocent accounts with one face: one person's accounts."""
    by_face: dict[str, list[str]] = {}
    for account in accounts:
        face = account.record.get("face_id")
        if face and not account.ring_id:
            by_face.setdefault(face, []).append(str(account.record["account_id"]))
    out: set[Pair] = set()
    for members in by_face.values():
        for left, right in combinations(sorted(members), 2):
            out.add((left, right))
    return out


def synthetic_figures(
    n: int = 20_000, *, seed: int = 1, threshold: float = 0.9, engine: Engine | None = None
) -> dict[str, Any]:
    """Resolve a SYNTHETIC population of ``n`` and count what was joined right and wrong."""
    from openidv.synth.identities import build

    accounts = build(n, seed=seed)
    face = {str(a.record["account_id"]): a.record.get("face_id") for a in accounts}
    typology = {str(a.record["account_id"]): a.typology for a in accounts}
    frame = frame_of(record_of(a.record) for a in accounts)
    start = time.perf_counter()
    result = resolve([frame], applicant_model(threshold), engine=engine, seed=seed)
    seconds = time.perf_counter() - start
    truth = same_person_pairs(accounts)
    claimed = pairs_of(result.cluster_of)
    wrong = {pair for pair in claimed if face[pair[0]] != face[pair[1]]}
    wrong_by: dict[str, int] = {}
    for left, right in wrong:
        kinds = "+".join(sorted({typology[left], typology[right]}))
        wrong_by[kinds] = wrong_by.get(kinds, 0) + 1
    clusters: dict[str, int] = {}
    for cluster in result.cluster_of.values():
        clusters[cluster] = clusters.get(cluster, 0) + 1
    return {
        "data": "SYNTHETIC",
        "population": n,
        "seed": seed,
        "threshold_match_probability": threshold,
        "candidate_pairs": result.candidate_pairs,
        "same_person_pairs": len(truth),
        "same_person_pairs_clustered_together": len(truth & claimed),
        "same_person_recall": round(len(truth & claimed) / len(truth), 5) if truth else None,
        "pairs_clustered": len(claimed),
        "different_people_merged_pairs": len(wrong),
        "different_people_merged_by_typology": dict(sorted(wrong_by.items())),
        "clusters_of_2_or_more": sum(1 for size in clusters.values() if size > 1),
        "largest_cluster": max(clusters.values(), default=0),
        "seconds": round(seconds, 2),
        "seconds_by_step": {k: round(v, 2) for k, v in result.seconds.items()},
        "engine": result.engine,
        "training": result.training,
    }
