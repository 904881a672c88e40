"""What the identity graph says about one account: its score, the reason codes, and the evidence for both.

Reason codes name what the account's direct links are made of, so every code points at identifiers a
reviewer can see in ``links``: ``GRAPH_SHARED_DEVICE`` (a device id shared with a linked account),
``GRAPH_FACE_REUSE`` (a face), ``GRAPH_DOCUMENT_REUSE`` (a document number and issuer), ``GRAPH_VELOCITY``
(at least ``VELOCITY_ACCOUNTS`` linked accounts created within ``VELOCITY_WINDOW`` of this one).
``GRAPH_RING_MEMBER`` is the policy's, not the check's: it is raised when the score reaches the policy's
``ring`` threshold (checks never compare scores with thresholds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from openidv.services.graph_rings import ComponentTooLarge, Ring, ring_of
from openidv.services.identity_graph import IdentityGraph, Neighbourhood

SHARED_DEVICE = "GRAPH_SHARED_DEVICE"
FACE_REUSE = "GRAPH_FACE_REUSE"
DOCUMENT_REUSE = "GRAPH_DOCUMENT_REUSE"
VELOCITY = "GRAPH_VELOCITY"
#: the kind of a shared identifier that raises each code
KIND_REASONS = {"device": SHARED_DEVICE, "face": FACE_REUSE, "document": DOCUMENT_REUSE}
#: a burst: this many linked accounts (besides the applicant) created within the window of it
VELOCITY_ACCOUNTS = 3
VELOCITY_WINDOW = timedelta(hours=24)
#: linked accounts listed in the details (strongest first); the ring lists all its members
LINKS_LISTED = 20

#: the score of an account in ``graph``: a number in [0, 1] meaning attack, and what it means in words
AccountScore = Callable[[IdentityGraph, str, Ring | None], float]


@dataclass(frozen=True)
class Assessment:
    """One account's graph score, reason codes, ring and direct links."""

    score: float
    score_meaning: str
    reasons: tuple[str, ...]
    ring: Ring | None
    near: Neighbourhood
    #: stored key -> the key as the applicant gave it, for the applicant's own identifiers (their
    #: pseudonyms are shown as the clear keys the caller sent; other members' stay pseudonymous)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: the account's component was too large to find its ring online (``GraphConfig.online_component_cap``)
    ring_not_computed: bool = False

    def to_dict(self) -> dict[str, Any]:
        direct = [n for n in self.near.neighbours if n.hops == 1]
        links = [n.to_dict() for n in direct[:LINKS_LISTED]]
        for link in links:
            link["shared"] = [self.labels.get(k, k) for k in link["shared"]]
        ring = None if self.ring is None else self.ring.to_dict()
        for shared in [] if ring is None else ring["shared"]:
            shared["key"] = self.labels.get(shared["key"], shared["key"])
        return {
            "graph_score": round(self.score, 6),
            "score_meaning": self.score_meaning,
            "linked_accounts": len(direct),
            "links": links,
            "links_truncated": self.near.truncated or len(direct) > LINKS_LISTED,
            "ring": ring,
            **(
                {"ring_not_computed": "component too large to split online"} if self.ring_not_computed else {}
            ),
        }


def reasons_of(graph: IdentityGraph, near: Neighbourhood) -> tuple[str, ...]:
    """The evidence-backed reason codes of one neighbourhood (see the module docstring)."""
    direct = [n for n in near.neighbours if n.hops == 1]
    kinds = {key.partition(":")[0] for n in direct for key in n.shared}
    codes = [code for kind, code in KIND_REASONS.items() if kind in kinds]
    burst = sum(1 for n in direct if abs(graph.created_at(n.account_id) - near.created_at) <= VELOCITY_WINDOW)
    if burst >= VELOCITY_ACCOUNTS:
        codes.append(VELOCITY)
    return tuple(codes)


def assess(
    graph: IdentityGraph,
    account_id: str,
    score: AccountScore,
    meaning: str,
    labels: Mapping[str, str] | None = None,
) -> Assessment:
    """Score ``account_id`` (which must be in ``graph``) and explain it."""
    near = graph.neighbourhood(account_id)
    try:
        ring = ring_of(graph, account_id, max_nodes=graph.config.online_component_cap)
        bounded = False
    except ComponentTooLarge:
        ring, bounded = None, True
    value = float(score(graph, account_id, ring))
    clipped = min(1.0, max(0.0, value))
    return Assessment(clipped, meaning, reasons_of(graph, near), ring, near, dict(labels or {}), bounded)


def ring_score(graph: IdentityGraph, account_id: str, ring: Ring | None) -> float:
    """The score of the account's ring (0 outside one): the ring model's score when rings carry one."""
    return 0.0 if ring is None else ring.score


def assess_applicant(
    graph: IdentityGraph,
    account_id: str,
    keys: Sequence[str],
    created_at: datetime,
    score: AccountScore,
    meaning: str,
    labels: Mapping[str, str] | None = None,
) -> Assessment:
    """Score an applicant as if it were in ``graph`` with ``keys``, leaving the graph as it was: the keys are
    added, the account scored, and the addition undone (the caller holds the graph's lock)."""
    existed = account_id in graph
    added = graph.add(account_id, keys, created_at)
    try:
        return assess(graph, account_id, score, meaning, labels)
    finally:
        if existed:
            graph.discard_keys(account_id, added)
        else:
            graph.remove(account_id)
