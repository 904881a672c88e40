"""The evaluation protocol of the ring models (issue 13 point 5), shared by every model compared on it.

One protocol, so the gradient-boosted trees and the GNN are measured on the same accounts the same way:

* **Populations**: ``openidv.synth.identities.build(n, seed=...)`` (SYNTHETIC), turned into an
  ``IdentityGraph`` by ``labelled_graph``: each applicant's raw fields normalised by
  ``checks.graph.identifiers_of`` (what ``openidv graph ingest`` does) and its ``AccountFacts`` attached.
* **Inductive split by seed**: models fit on ``TRAIN_SEEDS``; the policy threshold is chosen on
  ``CALIBRATION_SEEDS`` (1% of its innocent accounts flagged); everything reported is measured on
  ``TEST_SEEDS``. Different seeds are different populations, so no ring, group or identifier of a test
  population was ever seen in training.
* **Unit**: one score per account; positive class = ring member (any typology), negative = innocent.
* **Metrics** (``openidv.eval``'s classification metrics, nothing re-implemented): ROC AUC, average
  precision (AUPRC) and recall at 1% false-positive rate, each with a 95% interval from a bootstrap that
  resamples *groups* (a ring, a family, an office, a lone individual), never accounts, since members of one
  group are scored alike; count rates are widened to the exact binomial interval.
* **Per typology**: the ring accounts of one typology against *all* innocent accounts; and at the policy
  threshold, the share flagged of each innocent group typology (individual, family, coworkers, students).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from openidv.checks.graph.identifiers import identifiers_of
from openidv.eval.data import FloatArray, ScoredSet, Task
from openidv.eval.metrics import evaluate_set
from openidv.eval.metrics.common import Options
from openidv.eval.targets import target_key
from openidv.results import Meaning
from openidv.services.graph_facts import facts_from_applicant
from openidv.services.graph_rings import find_rings
from openidv.services.graph_weights import GraphConfig
from openidv.services.identity_graph import IdentityGraph
from openidv.synth.identities import INNOCENT_TYPOLOGIES, RING_TYPOLOGIES, build

#: populations the models are fitted on
TRAIN_SEEDS: tuple[int, ...] = (101, 102, 103)
#: population the policy threshold (1% FPR on its innocent accounts) is chosen on
CALIBRATION_SEEDS: tuple[int, ...] = (151,)
#: populations every reported number comes from (never seen in training or calibration)
TEST_SEEDS: tuple[int, ...] = (201, 202)
#: accounts per population
DEFAULT_N = 20_000
#: the operating point of the policy threshold: share of innocent accounts flagged
TARGET_FPR = 0.01
DEFAULT_REPLICATES = 500
SYNTHETIC_NOTE = "SYNTHETIC: openidv synth identities populations; no real person or ring"


@dataclass(frozen=True)
class LabelledGraph:
    """One SYNTHETIC population as an identity graph, with the truth per account (arrays in account order)."""

    seed: int
    graph: IdentityGraph
    accounts: tuple[str, ...]
    #: True for ring members
    is_ring: np.ndarray[Any, np.dtype[np.bool_]]
    #: ring typology for members, innocent group typology otherwise
    typology: tuple[str, ...]
    #: the ring id, or the innocent group (family, office, ...) the account was made in
    group: tuple[str, ...]


def labelled_graph(
    n: int = DEFAULT_N, seed: int = 0, *, ring_share: float = 0.05, config: GraphConfig | None = None
) -> LabelledGraph:
    """Build population ``seed`` and ingest it, in creation order, into a fresh ``IdentityGraph``."""
    graph = IdentityGraph(config)
    accounts: list[str] = []
    typology: list[str] = []
    group: list[str] = []
    ring: list[bool] = []
    for labelled in build(n, seed=seed, ring_share=ring_share):
        record = labelled.record
        account = str(record["account_id"])
        created = datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00"))
        found, _ = identifiers_of(record)
        graph.add(account, [i.key for i in found], created, facts=facts_from_applicant(record, created))
        accounts.append(account)
        typology.append(labelled.typology)
        group.append(labelled.group or account)
        ring.append(bool(labelled.ring_id))
    return LabelledGraph(
        seed, graph, tuple(accounts), np.array(ring, dtype=bool), tuple(typology), tuple(group)
    )


def populations(
    seeds: Iterable[int], n: int = DEFAULT_N, *, config: GraphConfig | None = None
) -> list[LabelledGraph]:
    """``labelled_graph`` of each seed (e.g. ``populations(TEST_SEEDS)``), each with its own graph; give
    ``GraphConfig.default()`` for the learned weights the shipped model links with."""
    return [labelled_graph(n, seed, config=config) for seed in seeds]


@dataclass(frozen=True)
class Scored:
    """Scores of the accounts of one or more populations, aligned with their labels."""

    scores: FloatArray
    is_ring: np.ndarray[Any, np.dtype[np.bool_]]
    typology: np.ndarray[Any, np.dtype[np.object_]]
    #: group ids made unique across populations (``seed/group``): the bootstrap's resampling unit
    group: np.ndarray[Any, np.dtype[np.object_]]
    ids: np.ndarray[Any, np.dtype[np.object_]]

    @classmethod
    def of(
        cls, populations: Sequence[LabelledGraph], scores: Sequence[Sequence[float] | FloatArray]
    ) -> Scored:
        """``scores[i]`` holds population ``i``'s scores in its ``accounts`` order."""
        if len(populations) != len(scores):
            raise ValueError("one score array per population")
        parts = [np.asarray(s, dtype=np.float64) for s in scores]
        for pop, s in zip(populations, parts, strict=True):
            if s.shape != (len(pop.accounts),):
                raise ValueError(
                    f"population {pop.seed}: {s.shape[0]} scores for {len(pop.accounts)} accounts"
                )
        return cls(
            scores=np.concatenate(parts),
            is_ring=np.concatenate([p.is_ring for p in populations]),
            typology=np.array([t for p in populations for t in p.typology], dtype=object),
            group=np.array([f"{p.seed}/{g}" for p in populations for g in p.group], dtype=object),
            ids=np.array([f"{p.seed}/{a}" for p in populations for a in p.accounts], dtype=object),
        )

    def subset(self, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> Scored:
        return Scored(
            self.scores[mask], self.is_ring[mask], self.typology[mask], self.group[mask], self.ids[mask]
        )


def scored_set(scored: Scored) -> ScoredSet:
    """The eval layer's view: a fraud classification (good = innocent), subjects = groups."""
    subjects, codes = np.unique(scored.group.astype(str), return_inverse=True)
    codes = codes.astype(np.intp)
    n = scored.scores.shape[0]
    return ScoredSet(
        task=Task.CLASSIFICATION,
        meaning=Meaning.ATTACK,
        ids=scored.ids,
        scores=scored.scores,
        fta=np.zeros(n, dtype=bool),
        good=~scored.is_ring,
        subject_a=codes,
        subject_b=codes,
        subjects=tuple(str(s) for s in subjects),
        species=np.full(n, "", dtype=object),
    )


def policy_threshold(innocent_scores: Iterable[float], target_fpr: float = TARGET_FPR) -> float:
    """The lowest threshold flagging (score >= threshold) at most ``target_fpr`` of these innocent scores."""
    s = np.sort(np.asarray(list(innocent_scores), dtype=np.float64))[::-1]
    allowed = int(np.floor(target_fpr * s.size))
    if s.size == 0:
        return 1.0
    if allowed >= s.size:
        return float(s[-1])
    # flag everything strictly above the (allowed+1)-th highest score
    return float(np.nextafter(s[allowed], np.inf))


def _summary(metrics: Mapping[str, Any], target_fpr: float) -> dict[str, Any]:
    key = target_key(target_fpr)
    out: dict[str, Any] = {
        "roc_auc": metrics["roc_auc"],
        "auprc": metrics["pr_auc"],
        "recall_at_fpr": {"target_fpr": target_fpr, **metrics["recall_at_fpr"][key]},
    }
    op = metrics.get("operating_point")
    if op is not None:
        out["at_threshold"] = {"threshold": op["threshold"], "recall": op["recall"], "fpr": op["fpr"]}
    return out


def evaluate_scores(
    scored: Scored,
    *,
    threshold: float | None = None,
    target_fpr: float = TARGET_FPR,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> dict[str, Any]:
    """The protocol's report: overall, per ring typology, and innocent groups flagged at ``threshold``."""
    options = Options(targets=(target_fpr,), threshold=threshold, replicates=replicates, seed=seed)
    innocent = ~scored.is_ring
    report: dict[str, Any] = {
        "data": SYNTHETIC_NOTE,
        "accounts": int(scored.scores.shape[0]),
        "ring_accounts": int(scored.is_ring.sum()),
        "innocent_accounts": int(innocent.sum()),
        "rings": len(set(scored.group[scored.is_ring].tolist())),
        "threshold": threshold,
        "interval": "95%, bootstrap over groups (rings, families, offices, individuals) + exact binomial",
        "overall": _summary(evaluate_set(scored_set(scored), options, keep_curves=False).metrics, target_fpr),
        "per_typology": {},
        "innocent_flagged": {},
    }
    for typology in RING_TYPOLOGIES:
        mask = innocent | (scored.typology == typology)
        if not np.any(scored.is_ring & mask):
            continue
        metrics = evaluate_set(scored_set(scored.subset(mask)), options, keep_curves=False).metrics
        entry = _summary(metrics, target_fpr)
        entry["ring_accounts"] = int(np.sum(scored.is_ring & mask))
        entry["rings"] = len(set(scored.group[scored.is_ring & mask].tolist()))
        report["per_typology"][typology] = entry
    if threshold is not None:
        for typology in INNOCENT_TYPOLOGIES:
            mask = scored.is_ring | (scored.typology == typology)
            if not np.any(innocent & mask):
                continue
            metrics = evaluate_set(scored_set(scored.subset(mask)), options, keep_curves=False).metrics
            fpr = metrics["operating_point"]["fpr"]
            report["innocent_flagged"][typology] = {
                **fpr,
                "groups": len(set(scored.group[innocent & mask].tolist())),
            }
    return report


# ------------------------------------------------------------------------------------------- baselines

#: identifier kinds of the naive rule of docs/graph.md ("shares one of these with any other account")
STRONG_KINDS = ("device", "phone", "document", "face")


def rule_scores(pop: LabelledGraph, kinds: Sequence[str] = STRONG_KINDS) -> FloatArray:
    """The naive rule: 1 when the account shares an identifier of ``kinds`` with another account, else 0."""
    graph = pop.graph
    wanted = {f"{k}:" for k in kinds}
    return np.array(
        [
            float(any(k[: k.find(":") + 1] in wanted and graph.degree(k) > 1 for k in graph.keys_of(a)))
            for a in pop.accounts
        ]
    )


def placeholder_scores(pop: LabelledGraph, config: GraphConfig | None = None) -> FloatArray:
    """The placeholder ring score (``graph_rings.placeholder_score``) of each account's ring, 0 outside a
    ring, over the hand-set weights (``config``: default ``GraphConfig()``): the system before the model."""
    graph = pop.graph
    kept = graph.config
    graph.config = config or GraphConfig()
    try:
        by_account = {m: ring.score for ring in find_rings(graph) for m in ring.members}
    finally:
        graph.config = kept
    return np.array([by_account.get(a, 0.0) for a in pop.accounts])
