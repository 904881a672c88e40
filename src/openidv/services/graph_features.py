"""Features of one account for the ring model: the account, its neighbourhood, its ring.

GADBench (Tang et al., 2023) found gradient-boosted trees over node features plus neighbourhood aggregates
the strongest general approach to graph anomaly detection; these are those inputs for the identity graph:

* **node** (``NODE_FEATURES``, cheap: a few lookups per identifier): per kind, how many other accounts share
  the account's identifier of that kind (log) and the link weight it carries; the account's facts
  (national id issued before birth, its age at application, the holder's age at issue and at application);
* **hop 1 and hop 2**: how many accounts are linked, the link weights, the mean and max of the neighbours'
  node features, and *velocity*: linked accounts created within 24 hours and 7 days of this one;
* **names**: distinct name and surname tokens among the holders of the account's phone, device, face and
  document (many names on one phone: fabricated people; one surname: a family);
* **ring** (``graph_rings.ring_of``): size, density, accounts per day, span, which kinds of identifier bind it
  (the largest share of members holding one identifier, per kind), the share of members with a national id
  issued before birth, distinct names per member.

Bounded work, as the online check needs: the neighbourhood is ``IdentityGraph.neighbourhood`` (hubs never
expanded, at most ``max_neighbours`` a hop), name counts read identifiers within ``pair_limit`` holders only,
and the ring is one component. ``FeatureCache`` keeps node vectors across the accounts of a batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from openidv.services.graph_facts import AccountFacts
from openidv.services.graph_rings import Ring
from openidv.services.graph_weights import kind_of
from openidv.services.identity_graph import IdentityGraph, Neighbourhood

FloatArray = npt.NDArray[np.float64]
NAN = float("nan")
#: identifier kinds, in the order features are listed
KINDS = ("device", "face", "document", "national_id", "phone", "email", "address", "ip", "ip24")
#: kinds whose holders' names are counted
NAME_KINDS = ("phone", "device", "face", "document")
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)

NODE_FEATURES: tuple[str, ...] = (
    *(f"shared_{k}" for k in KINDS),
    *(f"weight_{k}" for k in KINDS),
    "identifiers",
    "nid_before_birth",
    "nid_age_days_log",
    "age_years",
    "age_at_id_issue_years",
)
_HOP_AGG = ("mean", "max")
FEATURES: tuple[str, ...] = (
    *NODE_FEATURES,
    "hop1_accounts",
    "hop1_weight_sum",
    "hop1_weight_max",
    *(f"hop1_{agg}_{f}" for agg in _HOP_AGG for f in NODE_FEATURES),
    "hop2_accounts",
    *(f"hop2_mean_{f}" for f in NODE_FEATURES),
    "hop1_within_24h",
    "hop1_within_7d",
    "hop12_within_24h",
    *(f"names_on_{k}" for k in NAME_KINDS),
    *(f"surnames_on_{k}" for k in NAME_KINDS),
    "ring_size_log",
    "ring_density",
    "ring_accounts_per_day_log",
    "ring_span_days",
    *(f"ring_mix_{k}" for k in KINDS),
    "ring_nid_before_birth_share",
    "ring_names_per_member",
    "ring_surnames_per_member",
    "ring_shared_identifiers_per_member",
)
_INDEX = {name: i for i, name in enumerate(FEATURES)}


class FeatureCache:
    """Node vectors of one graph version, shared by the accounts of a batch (offline training, reports)."""

    def __init__(self, graph: IdentityGraph) -> None:
        self.graph = graph
        self.version = graph.version
        self._node: dict[str, FloatArray] = {}

    def node(self, account_id: str) -> FloatArray:
        if self.graph.version != self.version:
            self._node.clear()
            self.version = self.graph.version
        found = self._node.get(account_id)
        if found is None:
            found = self._node[account_id] = node_features(self.graph, account_id)
        return found


def _fact_values(facts: AccountFacts | None) -> list[float]:
    if facts is None:
        return [NAN, NAN, NAN, NAN]
    nid_age = facts.national_id_age_days
    return [
        NAN if facts.national_id_before_birth is None else float(facts.national_id_before_birth),
        NAN if nid_age is None else math.copysign(math.log1p(abs(nid_age)), nid_age),
        NAN if facts.age_years is None else float(facts.age_years),
        NAN if facts.age_at_id_issue_years is None else float(facts.age_at_id_issue_years),
    ]


def node_features(graph: IdentityGraph, account_id: str) -> FloatArray:
    """``NODE_FEATURES`` of one account: O(its identifiers)."""
    shared = dict.fromkeys(KINDS, 0.0)
    weight = dict.fromkeys(KINDS, 0.0)
    keys = graph.keys_of(account_id)
    for key in keys:
        kind = kind_of(key)
        if kind not in shared:
            continue
        others = graph.degree(key) - 1
        shared[kind] = max(shared[kind], math.log1p(others))
        weight[kind] = max(weight[kind], graph.weight(key))
    values = [*shared.values(), *weight.values(), float(len(keys)), *_fact_values(graph.facts_of(account_id))]
    return np.array(values, dtype=np.float64)


def _within(graph: IdentityGraph, when: datetime, accounts: Sequence[str], span: timedelta) -> float:
    return float(sum(1 for a in accounts if abs(graph.created_at(a) - when) <= span))


def _names(graph: IdentityGraph, account_id: str) -> list[float]:
    """Distinct name and surname tokens among the holders of each ``NAME_KINDS`` identifier (0: none
    shared; identifiers above ``pair_limit`` holders are not read)."""
    names = dict.fromkeys(NAME_KINDS, 0.0)
    surnames = dict.fromkeys(NAME_KINDS, 0.0)
    limit = graph.config.pair_limit
    for key in graph.keys_of(account_id):
        kind = kind_of(key)
        if kind not in names or not 2 <= graph.degree(key) <= limit:
            continue
        facts = [graph.facts_of(a) for a in graph.holders(key)]
        names[kind] = max(names[kind], float(len({f.name_token for f in facts if f and f.name_token})))
        surnames[kind] = max(
            surnames[kind], float(len({f.surname_token for f in facts if f and f.surname_token}))
        )
    return [*names.values(), *surnames.values()]


def _ring_values(graph: IdentityGraph, ring: Ring | None) -> list[float]:
    if ring is None:
        return [0.0, 0.0, 0.0, 0.0, *([0.0] * len(KINDS)), 0.0, 0.0, 0.0, 0.0]
    size = ring.size
    mix = dict.fromkeys(KINDS, 0.0)
    for s in ring.shared:
        if s.kind in mix:
            mix[s.kind] = max(mix[s.kind], s.members / size)
    facts = [graph.facts_of(m) for m in ring.members]
    before = sum(1 for f in facts if f is not None and f.national_id_before_birth)
    names = len({f.name_token for f in facts if f is not None and f.name_token})
    surnames = len({f.surname_token for f in facts if f is not None and f.surname_token})
    span = (ring.last_seen - ring.first_seen).total_seconds() / 86_400
    return [
        math.log1p(size),
        ring.density,
        math.log1p(ring.accounts_per_day),
        span,
        *mix.values(),
        before / size,
        names / size,
        surnames / size,
        len(ring.shared) / size,
    ]


def account_features(
    graph: IdentityGraph,
    account_id: str,
    ring: Ring | None,
    *,
    neighbourhood: Neighbourhood | None = None,
    cache: FeatureCache | None = None,
) -> FloatArray:
    """``FEATURES`` of one account; ``ring`` is its ring (``ring_of``), ``neighbourhood`` its
    ``graph.neighbourhood`` when the caller already has it."""
    node = cache.node if cache is not None else (lambda a: node_features(graph, a))
    hood = neighbourhood or graph.neighbourhood(account_id)
    own = node(account_id)
    hop1 = [n for n in hood.neighbours if n.hops == 1]
    hop2 = [n.account_id for n in hood.neighbours if n.hops == 2]
    width = len(NODE_FEATURES)
    if hop1:
        m1 = np.vstack([node(n.account_id) for n in hop1])
        with np.errstate(all="ignore"):
            hop1_mean, hop1_max = _nanmean(m1), _nanmax(m1)
    else:
        hop1_mean = hop1_max = np.zeros(width)
    hop2_mean = _nanmean(np.vstack([node(a) for a in hop2])) if hop2 else np.zeros(width)
    when = hood.created_at
    hop1_ids = [n.account_id for n in hop1]
    weights = [n.weight for n in hop1]
    values = np.concatenate(
        [
            own,
            [float(len(hop1)), float(sum(weights)), max(weights, default=0.0)],
            hop1_mean,
            hop1_max,
            [float(len(hop2))],
            hop2_mean,
            [
                _within(graph, when, hop1_ids, _DAY),
                _within(graph, when, hop1_ids, _WEEK),
                _within(graph, when, hop1_ids + hop2, _DAY),
            ],
            _names(graph, account_id),
            _ring_values(graph, ring),
        ]
    )
    return values.astype(np.float64)


def _nanmean(m: FloatArray) -> FloatArray:
    """Column means ignoring NaN (a missing fact), NaN where a column has none."""
    ok = ~np.isnan(m)
    counts = ok.sum(axis=0)
    sums = np.where(ok, m, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), NAN)


def _nanmax(m: FloatArray) -> FloatArray:
    ok = ~np.isnan(m)
    filled = np.where(ok, m, -np.inf).max(axis=0)
    return np.where(ok.any(axis=0), filled, NAN)


def feature_index(name: str) -> int:
    return _INDEX[name]
