"""How much one shared identifier links two accounts: the weight hook and the caps that tame hubs.

An identifier shared by many accounts for innocent reasons (a carrier NAT address, an office, a family phone)
must not glue thousands of accounts into one "ring". Three rules, applied by the graph, keep that bounded:

* **Hub cap** (``GraphConfig.hub_cap``, default 1,000): an identifier held by more accounts never links
  anyone. It is still stored and reported (``IdentifierInfo.hub``), never expanded.
* **Pair limit** (``GraphConfig.pair_limit``, default 50): an identifier held by at most this many accounts
  links them pairwise (at most 1,225 pairs each); above it, ring detection joins its accounts through one
  star node instead, so no all-pairs clique is ever materialised.
* **Weight** (``GraphConfig.weight``): a function of the identifier's kind and degree (how many accounts hold
  it). The default is a fixed weight per kind; issue 13 wants a learned down-weighting of hubs: plug it in
  here, nothing else changes. Two accounts are linked when the weights of the identifiers they share sum to at
  least ``GraphConfig.min_link_weight``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

#: (kind, degree) -> weight of one shared identifier; 0 means "does not link"
WeightFunction = Callable[[str, int], float]

#: default weight per identifier kind: 1.0 links two accounts on its own; an IP address or an address does
#: not, but adds to another shared identifier (an address and a /24 together do link)
KIND_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "device": 1.0,
        "document": 1.0,
        "national_id": 1.0,
        "face": 1.0,
        "phone": 0.7,
        "email": 0.7,
        "address": 0.4,
        "ip": 0.4,
        "ip24": 0.2,
    }
)
#: weight of a kind not in ``KIND_WEIGHTS``
UNKNOWN_KIND_WEIGHT = 0.5


def kind_of(key: str) -> str:
    """``"phone:+14155550100"`` -> ``"phone"``."""
    return key.partition(":")[0]


def default_weight(kind: str, degree: int) -> float:
    """A fixed weight per kind, whatever the degree (the hub cap handles the worst hubs). A placeholder for
    the learned weight issue 13 asks for."""
    del degree
    return KIND_WEIGHTS.get(kind, UNKNOWN_KIND_WEIGHT)


def degree_bucket(degree: int) -> int:
    """Log-degree bucket of a learned weight: floor(log2(degree)); 2-3 -> 1, 4-7 -> 2, ... 512-1023 -> 9."""
    return max(1, int(degree).bit_length() - 1)


@dataclass(frozen=True)
class LearnedWeights:
    """``weight(kind, degree)`` read from a table learned on training populations (issue 13 point 3).

    One row per kind, one value per log-degree bucket (``degree_bucket``), non-increasing along the row: the
    smoothed probability that two accounts holding one identifier of that kind and degree belong together
    (one person, household, office, dorm or ring; ``openidv.train.graph_weights_fit``). Degrees past the
    last bucket take its value. Pure and deterministic, so an incrementally grown graph still equals a
    rebuilt one."""

    kinds: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]
    unknown: float = UNKNOWN_KIND_WEIGHT
    _lookup: dict[str, tuple[float, ...]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.kinds) != len(self.rows) or any(not row for row in self.rows):
            raise ValueError("one non-empty row of weights per kind")
        # expanded to one entry per degree up to the last bucket: the graph asks for weights very often
        top = 2 ** (max(len(r) for r in self.rows) + 1)
        expanded = {
            kind: tuple(row[min(degree_bucket(d), len(row)) - 1] for d in range(top))
            for kind, row in zip(self.kinds, self.rows, strict=True)
        }
        object.__setattr__(self, "_lookup", expanded)

    def __call__(self, kind: str, degree: int) -> float:
        row = self._lookup.get(kind)
        if row is None:
            return self.unknown
        return row[degree] if 0 <= degree < len(row) else row[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "buckets": "floor(log2(degree)), first bucket = degree 2-3",
            "unknown": self.unknown,
            "table": {k: list(r) for k, r in zip(self.kinds, self.rows, strict=True)},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LearnedWeights:
        table = raw["table"]
        kinds = tuple(sorted(table))
        return cls(
            kinds,
            tuple(tuple(float(v) for v in table[k]) for k in kinds),
            float(raw.get("unknown", UNKNOWN_KIND_WEIGHT)),
        )


@dataclass(frozen=True)
class GraphConfig:
    """Caps, weights and ring-detection settings of one identity graph."""

    #: identifiers held by more accounts never link (hubs)
    hub_cap: int = 1000
    #: identifiers held by at most this many accounts link pairwise; above, through one star node
    pair_limit: int = 50
    #: two accounts are linked when their shared identifiers' weights sum to at least this
    min_link_weight: float = 0.5
    #: connected components with more accounts than this are split into Louvain communities
    louvain_above: int = 30
    louvain_resolution: float = 1.0
    #: Louvain's seed (and the density sampler's): rings are reproducible
    seed: int = 0
    #: at most this many accounts listed per hop in a neighbourhood (strongest first)
    max_neighbours: int = 200
    #: the online score walks the applicant's component to find its ring; past this many nodes it stops
    #: and scores without a ring (the offline ``rings`` still split such components)
    online_component_cap: int = 1000
    weight: WeightFunction = field(default=default_weight)

    def __post_init__(self) -> None:
        if not 2 <= self.pair_limit <= self.hub_cap:
            raise ValueError("need 2 <= pair_limit <= hub_cap")
        if self.min_link_weight <= 0:
            raise ValueError("min_link_weight must be positive")

    @classmethod
    def learned(cls, **overrides: Any) -> GraphConfig:
        """This config with the packaged learned weights (``models/graph-ring-gbt-v1.json``, sha256-checked);
        ConfigurationError when the artifact is missing or changed."""
        from openidv.services.graph_artifact import load_artifact  # reads JSON + registry: only when asked

        return replace(cls(**overrides), weight=LearnedWeights.from_dict(load_artifact()["weights"]))

    @classmethod
    def default(cls, **overrides: Any) -> GraphConfig:
        """The learned weights when the packaged model is present, else the hand-set ``default_weight``.
        ``GraphConfig()`` itself keeps the hand-set weights (tests and explicit choices rely on them)."""
        from openidv.errors import ConfigurationError

        try:
            return cls.learned(**overrides)
        except ConfigurationError:
            return cls(**overrides)
