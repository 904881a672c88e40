"""The ring score of one account, with its explanation: what the online ``graph`` check asks.

``GraphScorer.default()`` loads the packaged model (``graph-ring-gbt-v1``: gradient-boosted trees over
``graph_features``, sha256-checked by the model registry). ``score_account(graph, account_id)`` returns an
``AccountScore``: the score in [0, 1] meaning *attack* (higher = more likely a fraud-ring member), the
policy threshold the model card states (1% of held-out SYNTHETIC innocent accounts at or above it), the
account's ring (members), the identifiers it shares with the accounts linked to it, and reason codes,
each backed by that evidence:

* ``GRAPH_SHARED_DEVICE`` / ``GRAPH_FACE_REUSE`` / ``GRAPH_DOCUMENT_REUSE``: a device / face / document
  of the account is also held by an account linked to it;
* ``GRAPH_VELOCITY``: at least ``VELOCITY_MIN`` linked accounts (one or two hops) were created within 24
  hours of this one;
* ``GRAPH_RING_MEMBER``: the score is at or above the threshold and the account is in a ring of 2+.

The score is a model output, not a decision: the policy compares it with its threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import numpy as np

from openidv.services.graph_artifact import MODEL_ID, load_artifact
from openidv.services.graph_features import FEATURES, FeatureCache, FloatArray, account_features
from openidv.services.graph_rings import Ring, ring_of
from openidv.services.graph_trees import Trees
from openidv.services.graph_weights import kind_of
from openidv.services.identity_graph import IdentityGraph, Neighbourhood

GRAPH_SHARED_DEVICE = "GRAPH_SHARED_DEVICE"
GRAPH_FACE_REUSE = "GRAPH_FACE_REUSE"
GRAPH_DOCUMENT_REUSE = "GRAPH_DOCUMENT_REUSE"
GRAPH_RING_MEMBER = "GRAPH_RING_MEMBER"
GRAPH_VELOCITY = "GRAPH_VELOCITY"
#: reason code of a shared identifier kind
KIND_REASONS = {"device": GRAPH_SHARED_DEVICE, "face": GRAPH_FACE_REUSE, "document": GRAPH_DOCUMENT_REUSE}
#: linked accounts created within ``VELOCITY_WINDOW`` of the applicant that make a burst
VELOCITY_MIN = 3
VELOCITY_WINDOW = timedelta(hours=24)
SCORE_MEANING = "attack: higher = more likely a member of a fraud ring"


@dataclass(frozen=True)
class SharedEvidence:
    """One of the account's identifiers that linked accounts also hold."""

    key: str
    kind: str
    #: linked accounts (one hop) holding it
    linked_accounts: int
    #: every account holding it, the applicant included
    holders: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "linked_accounts": self.linked_accounts,
            "holders": self.holders,
        }


@dataclass(frozen=True)
class Explanation:
    """Why the account scores what it does: the identifiers it shares and with whom."""

    shared: tuple[SharedEvidence, ...]
    #: accounts linked to it directly, strongest link first
    linked: tuple[str, ...]
    #: linked accounts (one or two hops) created within 24 hours of it
    burst: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "shared": [s.to_dict() for s in self.shared],
            "linked": list(self.linked),
            "burst": self.burst,
        }


@dataclass(frozen=True)
class AccountScore:
    """The ring score of one account, the policy threshold, reason codes and their evidence."""

    account_id: str
    score: float
    threshold: float
    reasons: tuple[str, ...]
    ring: Ring | None
    explanation: Explanation
    model_id: str = MODEL_ID

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "score": self.score,
            "score_meaning": SCORE_MEANING,
            "threshold": self.threshold,
            "model_id": self.model_id,
            "reasons": list(self.reasons),
            "ring": None
            if self.ring is None
            else {
                "ring_id": self.ring.ring_id,
                "size": self.ring.size,
                "members": list(self.ring.members),
                "density": self.ring.density,
                "shared": [s.to_dict() for s in self.ring.shared],
                "first_seen": self.ring.first_seen.isoformat(),
                "last_seen": self.ring.last_seen.isoformat(),
                "accounts_per_day": self.ring.accounts_per_day,
            },
            "explanation": self.explanation.to_dict(),
        }


class GraphScorer:
    """Scores accounts of an ``IdentityGraph`` with the trees of one artifact."""

    def __init__(self, trees: Trees, threshold: float, model_id: str = MODEL_ID) -> None:
        if trees.features != FEATURES:
            raise ValueError("the model's features are not this version's graph_features.FEATURES")
        self.trees = trees
        self.threshold = float(threshold)
        self.model_id = model_id

    @classmethod
    def from_artifact(cls, raw: Mapping[str, Any]) -> GraphScorer:
        return cls(
            Trees.from_dict(raw["model"]), float(raw["threshold"]["value"]), str(raw.get("id", MODEL_ID))
        )

    @classmethod
    def default(cls) -> GraphScorer:
        """The packaged model (ConfigurationError when it is missing or its sha256 does not match)."""
        return cls.from_artifact(load_artifact())

    # ---- online: one account
    def score_account(
        self,
        graph: IdentityGraph,
        account_id: str,
        *,
        neighbourhood: Neighbourhood | None = None,
        ring: Ring | Literal["fresh"] | None = "fresh",
    ) -> AccountScore:
        """Score, ring and explanation of one account (KeyError: unknown account). The ring is found fresh
        (``ring_of``) unless the caller passes the one it has (``GraphService.neighbourhood`` returns both,
        so the check can hand them over instead of computing them twice)."""
        hood = neighbourhood if neighbourhood is not None else graph.neighbourhood(account_id)
        if ring == "fresh":
            ring = ring_of(graph, account_id)
        x = account_features(graph, account_id, ring, neighbourhood=hood)
        score = round(float(self.trees.probability(x)[0]), 6)
        explanation = explain(graph, hood)
        return AccountScore(
            account_id, score, self.threshold, self.reasons(score, ring, explanation), ring, explanation,
            self.model_id,
        )  # fmt: skip

    def reasons(self, score: float, ring: Ring | None, explanation: Explanation) -> tuple[str, ...]:
        """The reason codes the evidence supports, in a fixed order."""
        kinds = {s.kind for s in explanation.shared}
        out = [code for kind, code in KIND_REASONS.items() if kind in kinds]
        if explanation.burst >= VELOCITY_MIN:
            out.append(GRAPH_VELOCITY)
        if score >= self.threshold and ring is not None and ring.size >= 2:
            out.append(GRAPH_RING_MEMBER)
        return tuple(out)

    def ring_score(self, graph: IdentityGraph, ring: Ring) -> float:
        """A learned ring score: the highest member score (a ring is as suspicious as its most suspicious
        member), meaning attack, on the same scale and threshold as account scores. Costs one feature row
        per member; meant to replace ``graph_rings.placeholder_score`` where rings are listed."""
        members = {m: ring for m in ring.members}
        return round(float(self.score_many(graph, ring.members, members).max()), 6)

    # ---- offline: many accounts
    def features_many(
        self, graph: IdentityGraph, accounts: Sequence[str], rings: Mapping[str, Ring] | None = None
    ) -> FloatArray:
        """Feature rows of ``accounts``; ``rings`` maps account -> ring (from ``find_rings``: one pass over
        the tenant instead of ``ring_of`` per account)."""
        return feature_matrix(graph, accounts, rings)

    def score_many(
        self, graph: IdentityGraph, accounts: Sequence[str], rings: Mapping[str, Ring] | None = None
    ) -> FloatArray:
        return self.trees.probability(feature_matrix(graph, accounts, rings))


def feature_matrix(
    graph: IdentityGraph, accounts: Sequence[str], rings: Mapping[str, Ring] | None = None
) -> FloatArray:
    """``FEATURES`` of many accounts, sharing node vectors; rings from ``rings`` or ``ring_of``."""
    cache = FeatureCache(graph)
    rows = [
        account_features(graph, a, rings.get(a) if rings is not None else ring_of(graph, a), cache=cache)
        for a in accounts
    ]
    return np.vstack(rows) if rows else np.empty((0, len(FEATURES)))


def rings_by_account(rings: Iterable[Ring]) -> dict[str, Ring]:
    return {m: ring for ring in rings for m in ring.members}


def explain(graph: IdentityGraph, hood: Neighbourhood) -> Explanation:
    """The identifiers of the account that its directly linked accounts share, and the burst count."""
    hop1 = [n for n in hood.neighbours if n.hops == 1]
    counts: dict[str, int] = {}
    for n in hop1:
        for key in n.shared:
            counts[key] = counts.get(key, 0) + 1
    shared = tuple(
        SharedEvidence(key, kind_of(key), count, graph.degree(key))
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    when = hood.created_at
    burst = sum(1 for n in hood.neighbours if abs(graph.created_at(n.account_id) - when) <= VELOCITY_WINDOW)
    return Explanation(shared, tuple(n.account_id for n in hop1), burst)
