"""The in-memory identity graph of one tenant: accounts linked to the identifiers they used.

A bipartite index (account -> keys, key -> accounts), updated in place on every add or erasure: adding an
applicant costs a few set insertions, never a rebuild. Account-account links are never stored: their weight
(the sum of the weights of the identifiers two accounts share, ``openidv.services.graph_weights``) is derived
from the index when asked, so an incrementally grown graph and one rebuilt from SQL are the same object by
construction. Rings are found over these links by ``openidv.services.graph_rings``.

Not thread-safe on its own: ``openidv.services.graph_service.GraphService`` serialises access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openidv.services.graph_facts import AccountFacts
from openidv.services.graph_weights import GraphConfig, kind_of


@dataclass(frozen=True)
class IdentifierInfo:
    """One identifier of an account: how many accounts hold it and what it weighs (0: does not link)."""

    key: str
    kind: str
    degree: int
    weight: float
    #: held by more than ``hub_cap`` accounts: never links anyone
    hub: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "accounts": self.degree,
            "weight": self.weight,
            "hub": self.hub,
        }


@dataclass(frozen=True)
class Neighbour:
    """An account linked to the applicant, directly (1 hop) or through ``via`` (2 hops)."""

    account_id: str
    hops: int
    #: weight of the link (to the applicant for 1 hop, to ``via`` for 2)
    weight: float
    #: the identifiers that make the link
    shared: tuple[str, ...]
    via: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "hops": self.hops,
            "weight": round(self.weight, 6),
            "shared": list(self.shared),
            "via": self.via,
        }


@dataclass(frozen=True)
class Neighbourhood:
    """Accounts linked to one account within two hops, strongest first, and the identifiers behind them."""

    account_id: str
    created_at: datetime
    identifiers: tuple[IdentifierInfo, ...]
    neighbours: tuple[Neighbour, ...]
    #: some neighbours were left out (more than ``max_neighbours`` on a hop)
    truncated: bool


class IdentityGraph:
    """Accounts and identifier keys of one tenant, with derived weighted account-account links."""

    def __init__(self, config: GraphConfig | None = None) -> None:
        self.config = config or GraphConfig()
        self._keys: dict[str, set[str]] = {}
        self._holders: dict[str, set[str]] = {}
        self._created: dict[str, datetime] = {}
        #: optional per-account facts (no personal data; ``graph_facts``), read by the ring model
        self._facts: dict[str, AccountFacts] = {}
        #: bumped on every change; caches derived from the graph (rings) compare it
        self.version = 0

    # ---- changes
    def add(
        self,
        account_id: str,
        keys: Iterable[str],
        created_at: datetime,
        *,
        facts: AccountFacts | None = None,
    ) -> tuple[str, ...]:
        """Link an account to keys (it is created if new; its first time is kept); returns the new keys.
        Adding the same key twice, or an account again, changes nothing. ``facts`` are kept the first time
        they are given (like ``created_at``)."""
        own = self._keys.get(account_id)
        if own is None:
            own = self._keys[account_id] = set()
            self._created[account_id] = created_at
            self.version += 1
        if facts is not None and account_id not in self._facts:
            self._facts[account_id] = facts
            self.version += 1
        fresh = tuple(k for k in dict.fromkeys(keys) if k not in own)
        for key in fresh:
            own.add(key)
            self._holders.setdefault(key, set()).add(account_id)
        if fresh:
            self.version += 1
        return fresh

    def remove(self, account_id: str) -> bool:
        """Forget an account and its links (erasure); False when it was not there."""
        own = self._keys.pop(account_id, None)
        if own is None:
            return False
        del self._created[account_id]
        self._facts.pop(account_id, None)
        for key in own:
            holders = self._holders[key]
            holders.discard(account_id)
            if not holders:
                del self._holders[key]
        self.version += 1
        return True

    # ---- reading
    def __contains__(self, account_id: object) -> bool:
        return account_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def accounts(self) -> Iterable[str]:
        return self._keys.keys()

    def identifiers(self) -> Mapping[str, set[str]]:
        """key -> accounts holding it (read-only by convention: do not change the sets)."""
        return self._holders

    def keys_of(self, account_id: str) -> frozenset[str]:
        return frozenset(self._keys.get(account_id, ()))

    def holders(self, key: str) -> frozenset[str]:
        return frozenset(self._holders.get(key, ()))

    def degree(self, key: str) -> int:
        return len(self._holders.get(key, ()))

    def created_at(self, account_id: str) -> datetime:
        return self._created[account_id]

    def facts_of(self, account_id: str) -> AccountFacts | None:
        """The account's facts, None when none were given (or the account is unknown)."""
        return self._facts.get(account_id)

    def weight(self, key: str) -> float:
        """What sharing ``key`` adds to a link: 0 for a hub or a key only one account holds."""
        degree = self.degree(key)
        if degree < 2 or degree > self.config.hub_cap:
            return 0.0
        return max(0.0, float(self.config.weight(kind_of(key), degree)))

    def link(self, a: str, b: str) -> tuple[float, tuple[str, ...]]:
        """Weight of the link between two accounts and the identifiers that make it (none for a == b)."""
        if a == b:
            return 0.0, ()
        shared = sorted(k for k in self._keys.get(a, set()) & self._keys.get(b, set()) if self.weight(k) > 0)
        return sum(self.weight(k) for k in shared), tuple(shared)

    def snapshot(self) -> dict[str, tuple[datetime, tuple[str, ...]]]:
        """Every account with its time and sorted keys: two graphs are the same graph iff these are equal."""
        return {a: (self._created[a], tuple(sorted(keys))) for a, keys in sorted(self._keys.items())}

    def neighbourhood(self, account_id: str) -> Neighbourhood:
        """Accounts linked to ``account_id`` (weight >= ``min_link_weight``) and those linked to them.

        Bounded work: hubs are never expanded, the first hop reads identifiers of at most ``hub_cap``
        holders, and the second hop only expands identifiers within ``pair_limit``; each hop keeps the
        ``max_neighbours`` strongest links."""
        if account_id not in self._keys:
            raise KeyError(account_id)
        cfg = self.config
        own = self._keys[account_id]
        infos = tuple(
            IdentifierInfo(k, kind_of(k), self.degree(k), self.weight(k), self.degree(k) > cfg.hub_cap)
            for k in sorted(own)
        )
        first: dict[str, list[str]] = {}
        for info in infos:
            if info.weight <= 0:
                continue
            for other in self._holders[info.key]:
                if other != account_id:
                    first.setdefault(other, []).append(info.key)
        hop1 = sorted(
            (
                Neighbour(b, 1, w, tuple(sorted(keys)))
                for b, keys in first.items()
                if (w := sum(self.weight(k) for k in keys)) >= cfg.min_link_weight
            ),
            key=lambda n: (-n.weight, n.account_id),
        )
        truncated = len(hop1) > cfg.max_neighbours
        hop1 = hop1[: cfg.max_neighbours]
        seen = {account_id, *(n.account_id for n in hop1)}
        second: dict[str, Neighbour] = {}
        for near in hop1:
            for key in sorted(self._keys[near.account_id]):
                if key in own or self.weight(key) <= 0 or self.degree(key) > cfg.pair_limit:
                    continue
                for far in sorted(self._holders[key]):
                    if far in seen:
                        continue
                    weight, shared = self.link(near.account_id, far)
                    best = second.get(far)
                    if weight >= cfg.min_link_weight and (best is None or weight > best.weight):
                        second[far] = Neighbour(far, 2, weight, shared, near.account_id)
        hop2 = sorted(second.values(), key=lambda n: (-n.weight, n.account_id))
        truncated = truncated or len(hop2) > cfg.max_neighbours
        return Neighbourhood(
            account_id,
            self._created[account_id],
            infos,
            (*hop1, *hop2[: cfg.max_neighbours]),
            truncated,
        )
