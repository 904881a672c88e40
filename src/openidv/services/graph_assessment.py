"""What the identity graph says about one applicant, as the ``graph`` check reports it.

The score, its explanation and the evidence-backed reason codes come from the ring model
(``graph_scoring.GraphScorer``). This module adds what the online check needs around it: scoring an
applicant *as if* it were in the graph without changing the graph (``assess_applicant``), a bound on the
work spent finding its ring (``GraphConfig.online_component_cap``), the applicant's pseudonymous keys shown
as the clear keys the caller sent (``labels``), and the direct links a reviewer reads. ``GRAPH_RING_MEMBER``
is left to the policy, which raises it at its own ``ring`` threshold: checks never compare scores with
thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openidv.services.graph_facts import AccountFacts
from openidv.services.graph_rings import ComponentTooLarge, Ring, ring_of
from openidv.services.graph_scoring import GRAPH_RING_MEMBER, AccountScore, GraphScorer
from openidv.services.identity_graph import IdentityGraph, Neighbourhood

#: linked accounts listed in the details (strongest first); the ring lists all its members
LINKS_LISTED = 20


@dataclass(frozen=True)
class Assessment:
    """One account's model score with its evidence, and the direct links behind it."""

    scored: AccountScore
    near: Neighbourhood
    #: stored key -> the key as the applicant gave it (their own identifiers only; others stay pseudonyms)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: the account's component was too large to find its ring online (``GraphConfig.online_component_cap``)
    ring_not_computed: bool = False

    @property
    def score(self) -> float:
        return self.scored.score

    @property
    def reasons(self) -> tuple[str, ...]:
        """The evidence-backed codes; ring membership is the policy's call (its ``ring`` threshold)."""
        return tuple(r for r in self.scored.reasons if r != GRAPH_RING_MEMBER)

    @property
    def ring(self) -> Ring | None:
        return self.scored.ring

    def to_dict(self) -> dict[str, Any]:
        out = self.scored.to_dict()
        out.pop("reasons", None)  # the check's reason codes are the result's own
        out.pop("threshold", None)  # the policy's threshold decides, not the model card's copy of it
        label = self._label
        for shared in out["explanation"]["shared"]:
            shared["key"] = label(shared["key"])
        for shared in [] if out["ring"] is None else out["ring"]["shared"]:
            shared["key"] = label(shared["key"])
        direct = [n for n in self.near.neighbours if n.hops == 1]
        links = [n.to_dict() for n in direct[:LINKS_LISTED]]
        for link in links:
            link["shared"] = [label(k) for k in link["shared"]]
        out.update(
            {
                "graph_score": out.pop("score"),
                "linked_accounts": len(direct),
                "links": links,
                "links_truncated": self.near.truncated or len(direct) > LINKS_LISTED,
            }
        )
        if self.ring_not_computed:
            out["ring_not_computed"] = "component too large to split online"
        return out

    def _label(self, key: str) -> str:
        return self.labels.get(key, key)


def assess(
    graph: IdentityGraph,
    account_id: str,
    scorer: GraphScorer,
    labels: Mapping[str, str] | None = None,
) -> Assessment:
    """Score ``account_id`` (which must be in ``graph``) and explain it, within the online bound."""
    near = graph.neighbourhood(account_id)
    try:
        ring = ring_of(graph, account_id, max_nodes=graph.config.online_component_cap)
        bounded = False
    except ComponentTooLarge:
        ring, bounded = None, True
    scored = scorer.score_account(graph, account_id, neighbourhood=near, ring=ring)
    return Assessment(scored, near, dict(labels or {}), bounded)


def assess_applicant(
    graph: IdentityGraph,
    account_id: str,
    keys: Sequence[str],
    created_at: datetime,
    scorer: GraphScorer,
    labels: Mapping[str, str] | None = None,
    facts: AccountFacts | None = None,
) -> Assessment:
    """Score an applicant as if it were in ``graph`` with ``keys``, leaving the graph as it was: the keys are
    added, the account scored, and the addition undone (the caller holds the graph's lock)."""
    existed = account_id in graph
    added = graph.add(account_id, keys, created_at, facts=facts)
    try:
        return assess(graph, account_id, scorer, labels)
    finally:
        if existed:
            graph.discard_keys(account_id, added)
        else:
            graph.remove(account_id)
