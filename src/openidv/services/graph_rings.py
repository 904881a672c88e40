"""Rings: groups of accounts bound by shared identifiers, with what explains them.

Over the identity graph's links (weight >= ``min_link_weight``): connected components, then Louvain
communities (seeded) inside components of more than ``louvain_above`` accounts, so one chain of weak links
does not make a giant ring. An identifier held by more than ``pair_limit`` accounts joins them through one
star node (never an all-pairs clique); hubs (more than ``hub_cap``) join nobody. Everything is computed in
sorted order, so the same graph gives the same rings whatever order its accounts arrived in.

The ring score is a transparent placeholder until the trained model of issue 13 lands (``placeholder_score``).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from types import MappingProxyType
from typing import Any

from openidv.services.graph_louvain import communities
from openidv.services.graph_weights import kind_of
from openidv.services.identity_graph import IdentityGraph

#: how strongly sharing an identifier of this kind suggests coordinated fraud (placeholder score only)
KIND_RISK: Mapping[str, float] = MappingProxyType(
    {
        "device": 0.9,
        "document": 0.9,
        "face": 0.9,
        "national_id": 0.9,
        "phone": 0.6,
        "email": 0.6,
        "ip": 0.3,
        "address": 0.2,
        "ip24": 0.2,
    }
)
#: member pairs checked exactly for density; larger rings are sampled (seeded)
_DENSITY_PAIRS = 20_000
#: identifiers listed per ring (most shared first)
_SHARED_LISTED = 50


@dataclass(frozen=True)
class SharedIdentifier:
    """An identifier that at least two members of a ring hold."""

    key: str
    kind: str
    #: how many members hold it
    members: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "members": self.members}


@dataclass(frozen=True)
class Ring:
    """A group of linked accounts and what explains it."""

    ring_id: str
    members: tuple[str, ...]
    #: share of member pairs that are linked (1.0: every member linked to every other)
    density: float
    shared: tuple[SharedIdentifier, ...]
    first_seen: datetime
    last_seen: datetime
    #: members per day between the first and last account (a day at least)
    accounts_per_day: float
    #: placeholder score in [0, 1], meaning "attack" (higher: more likely a fraud ring); see placeholder_score
    score: float
    #: what ``score`` means; the service replaces the placeholder with the ring model's score
    score_meaning: str = "attack (placeholder heuristic: density x strongest shared kind)"

    @property
    def size(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ring_id": self.ring_id,
            "score": self.score,
            "score_meaning": self.score_meaning,
            "size": self.size,
            "density": self.density,
            "members": list(self.members),
            "shared": [s.to_dict() for s in self.shared],
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "accounts_per_day": self.accounts_per_day,
        }


def placeholder_score(density: float, shared: tuple[SharedIdentifier, ...], size: int) -> float:
    """Density times the strongest shared kind, each kind's risk scaled by the share of members holding it.

    A device farm (every member on one device) scores 0.9, a family sharing an address and a phone 0.6 at
    most. Transparent on purpose; the trained model of issue 13 replaces it."""
    strength = max(
        (KIND_RISK.get(s.kind, 0.5) * s.members / size for s in shared),
        default=0.0,
    )
    return round(density * strength, 4)


def find_rings(graph: IdentityGraph, *, min_size: int = 2) -> list[Ring]:
    """Every ring of at least ``min_size`` accounts, highest score first."""
    groups = _groups(graph)
    rings = [_describe(graph, members) for members in groups if len(members) >= max(2, min_size)]
    return sorted(rings, key=lambda r: (-r.score, -r.size, r.ring_id))


def link_candidates(
    graph: IdentityGraph,
) -> tuple[set[tuple[str, str]], list[tuple[str, float, list[str]]]]:
    """Account pairs sharing an identifier within ``pair_limit`` (to be weighed), and the star nodes
    ``(star id, weight, holders)`` of identifiers above it that link on their own weight."""
    cfg = graph.config
    candidates: set[tuple[str, str]] = set()
    stars: list[tuple[str, float, list[str]]] = []
    for key, holders in graph.identifiers().items():
        weight = graph.weight(key)
        if weight <= 0:
            continue
        if len(holders) <= cfg.pair_limit:
            candidates.update(combinations(sorted(holders), 2))
        elif weight >= cfg.min_link_weight:
            stars.append((f"\x00{key}", weight, sorted(holders)))
    return candidates, stars


def _groups(graph: IdentityGraph) -> list[list[str]]:
    """Account groups: components of the link graph, large ones split by Louvain."""
    cfg = graph.config
    candidates, stars = link_candidates(graph)
    # a pair's weight sums every identifier it shares (in sorted order: the same bits on every run)
    edges = [(a, b, w) for a, b in sorted(candidates) if (w := graph.link(a, b)[0]) >= cfg.min_link_weight]
    edges += [(star, a, w) for star, w, holders in sorted(stars) for a in holders]

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b, _ in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    components: dict[str, list[str]] = {}
    for node in sorted(parent):
        components.setdefault(find(node), []).append(node)
    component_edges: dict[str, list[tuple[str, str, float]]] = {}
    for a, b, w in edges:
        component_edges.setdefault(find(a), []).append((a, b, w))

    groups: list[list[str]] = []
    for root, nodes in sorted(components.items()):
        groups.extend(_split(graph, nodes, component_edges[root]))
    return groups


def _split(graph: IdentityGraph, nodes: list[str], edges: list[tuple[str, str, float]]) -> list[list[str]]:
    """The account groups of one component (``nodes`` sorted): itself, or its Louvain communities when it
    has more than ``louvain_above`` accounts. A function of the component alone, so one account's ring can
    be found from its component without the rest of the graph (``ring_of``)."""
    cfg = graph.config
    accounts = [n for n in nodes if not n.startswith("\x00")]
    if len(accounts) <= cfg.louvain_above:
        return [accounts]
    index = {n: i for i, n in enumerate(nodes)}
    found = communities(
        range(len(nodes)),
        ((index[a], index[b], w) for a, b, w in edges),
        seed=cfg.seed,
        resolution=cfg.louvain_resolution,
    )
    groups = []
    for group in found:
        members = [nodes[i] for i in group if not nodes[i].startswith("\x00")]
        if members:
            groups.append(sorted(members))
    return groups


class ComponentTooLarge(Exception):
    """``ring_of`` stopped: the account's component has more accounts than the caller allowed."""


def ring_of(graph: IdentityGraph, account_id: str, *, max_nodes: int | None = None) -> Ring | None:
    """The ring ``account_id`` is in (None: in none), the same one ``find_rings`` would report, found from
    the account's component alone: fresh after every add without recomputing the tenant's rings.

    Walks the component over the same links as ``find_rings`` (pairs through identifiers within
    ``pair_limit``, a star node through larger ones), so its cost is the component's size; with
    ``max_nodes`` it raises ``ComponentTooLarge`` once the walk passes that many nodes (the online bound)."""
    if account_id not in graph:
        return None
    cfg = graph.config
    seen = {account_id}
    stack = [account_id]
    pairs: dict[tuple[str, str], float] = {}
    star_edges: list[tuple[str, str, float]] = []
    while stack:
        node = stack.pop()
        if max_nodes is not None and len(seen) > max_nodes:
            raise ComponentTooLarge(f"{account_id}: component above {max_nodes} nodes")
        if node.startswith("\x00"):
            continue
        for key in graph.keys_of(node):
            weight = graph.weight(key)
            if weight <= 0:
                continue
            holders = graph.holders(key)
            if len(holders) <= cfg.pair_limit:
                for other in holders:
                    pair = (node, other) if node < other else (other, node)
                    if other == node or pair in pairs:
                        continue
                    link = graph.link(node, other)[0]
                    if link >= cfg.min_link_weight:
                        pairs[pair] = link
                        if other not in seen:
                            seen.add(other)
                            stack.append(other)
            elif weight >= cfg.min_link_weight:
                star = f"\x00{key}"
                if star in seen:
                    continue
                seen.add(star)
                for other in holders:
                    star_edges.append((star, other, weight))
                    if other not in seen:
                        seen.add(other)
                        stack.append(other)
    if len(seen) == 1:
        return None
    edges = [(a, b, w) for (a, b), w in pairs.items()] + star_edges
    for group in _split(graph, sorted(seen), edges):
        if account_id in group:
            return _describe(graph, group) if len(group) >= 2 else None
    return None  # pragma: no cover - every account of the component is in one group


def _describe(graph: IdentityGraph, members: list[str]) -> Ring:
    members = sorted(members)
    counts: Counter[str] = Counter(k for a in members for k in graph.keys_of(a) if graph.weight(k) > 0)
    shared = tuple(
        SharedIdentifier(k, kind_of(k), n)
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if n >= 2
    )[:_SHARED_LISTED]
    density = _density(graph, members)
    times = sorted(graph.created_at(a) for a in members)
    days = max(1.0, (times[-1] - times[0]).total_seconds() / 86_400)
    return Ring(
        ring_id="ring-" + hashlib.sha256("\n".join(members).encode()).hexdigest()[:12],
        members=tuple(members),
        density=density,
        shared=shared,
        first_seen=times[0],
        last_seen=times[-1],
        accounts_per_day=round(len(members) / days, 4),
        score=placeholder_score(density, shared, len(members)),
    )


def _density(graph: IdentityGraph, members: list[str]) -> float:
    """Share of member pairs linked (weight >= min_link_weight); sampled (seeded) for large rings."""
    n = len(members)
    total = n * (n - 1) // 2
    if total <= _DENSITY_PAIRS:
        pairs: list[tuple[str, str]] = list(combinations(members, 2))
    else:
        rng = random.Random(graph.config.seed)
        pairs = [tuple(rng.sample(members, 2)) for _ in range(_DENSITY_PAIRS)]  # type: ignore[misc]
    linked = sum(1 for a, b in pairs if graph.link(a, b)[0] >= graph.config.min_link_weight)
    return round(linked / len(pairs), 4) if pairs else 0.0


#: public names for the ring build at scale (``openidv.services.graph_build``, the Spark engine): the split of
#: one component and the description of one group, so every engine makes rings with the same code
split_component = _split
describe_ring = _describe
