"""The identity graph as a service: SQL as the source of truth, one in-memory graph per tenant.

Each tenant's graph is loaded from the store on first use (in batches) and then kept in step with every add
and erasure made through this service: the write commits to SQL first, then the same change is applied in
memory, so a restart (a new service on the same store) finds the same graph. Rings are computed on demand
and cached until the tenant's graph changes.

One process's view: another process writing to the same store is seen after ``reload(tenant)``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from openidv.checks.base import FollowUp
from openidv.checks.identity_graph import AddToGraph
from openidv.errors import NotFound
from openidv.services.graph_assessment import Assessment, assess, assess_applicant
from openidv.services.graph_facts import AccountFacts, facts_from_applicant
from openidv.services.graph_pseudonyms import Pseudonymiser
from openidv.services.graph_rings import Ring, find_rings, ring_of
from openidv.services.graph_scoring import GraphScorer, rings_by_account
from openidv.services.graph_weights import GraphConfig
from openidv.services.identity_graph import IdentityGraph, Neighbourhood
from openidv.settings import Settings
from openidv.store.graph_repository import AccountRecord, GraphRepository
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

#: accounts written per transaction by ``add_many``
WRITE_BATCH = 2_000


@dataclass(frozen=True)
class AccountGraph:
    """One account's neighbourhood and the ring it is in (None: in no ring)."""

    neighbourhood: Neighbourhood
    ring: Ring | None
    #: the ring comes from rings computed before the latest change (``fresh=False``)
    ring_stale: bool

    def to_dict(self) -> dict[str, Any]:
        n = self.neighbourhood
        return {
            "account_id": n.account_id,
            "created_at": n.created_at.isoformat(),
            "identifiers": [i.to_dict() for i in n.identifiers],
            "neighbours": [x.to_dict() for x in n.neighbours],
            "truncated": n.truncated,
            "ring": None if self.ring is None else self.ring.to_dict(),
            "ring_stale": self.ring_stale,
        }


@dataclass
class _Rings:
    version: int
    rings: list[Ring]
    by_member: dict[str, Ring]


class GraphService:
    """Identity graphs of every tenant over one ``GraphRepository``."""

    def __init__(
        self,
        repository: GraphRepository,
        config: GraphConfig | None = None,
        *,
        pseudonymiser: Pseudonymiser | None = None,
        scorer: GraphScorer | None = None,
    ) -> None:
        self.repository = repository
        self.config = config or GraphConfig()
        #: with one, keys are stored and held as keyed pseudonyms and their values sealed
        self.pseudonymiser = pseudonymiser
        self._scorer = scorer
        self._graphs: dict[str, IdentityGraph] = {}
        self._rings: dict[str, _Rings] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_store(cls, store: Store, settings: Settings, config: GraphConfig | None = None) -> GraphService:
        """The deployment's graph: the packaged model's learned link weights, keys pseudonymous under the
        graph key, values sealed by the key ring."""
        return cls(
            GraphRepository(store.engine, lambda: store.keyring),
            config or GraphConfig.default(),
            pseudonymiser=Pseudonymiser.from_settings(settings),
        )

    @property
    def scorer(self) -> GraphScorer:
        """The ring model (the packaged one unless given), loaded on first use."""
        if self._scorer is None:
            self._scorer = GraphScorer.default()
        return self._scorer

    def facts_of(self, applicant: Mapping[str, Any], created_at: datetime | None = None) -> dict[str, Any]:
        """The ring model's facts of an applicant's raw fields (names, birth and national-id dates), with
        names reduced to tokens keyed by the graph key: what is stored instead of the fields."""
        key = b"" if self.pseudonymiser is None else self.pseudonymiser.secret
        return facts_from_applicant(applicant, created_at, key=key).to_dict()

    def private(self, record: AccountRecord, tenant: str) -> AccountRecord:
        """``record`` with its clear keys replaced by pseudonyms and their values kept for sealing."""
        if self.pseudonymiser is None:
            return record
        keys = {self.pseudonymiser.key(k, tenant): k.partition(":")[2] for k in record.keys}
        return replace(record, keys=tuple(keys), values=keys)

    def key_of(self, clear_key: str, tenant: str = DEFAULT_TENANT) -> str:
        """The key under which ``clear_key`` is stored and linked."""
        return clear_key if self.pseudonymiser is None else self.pseudonymiser.key(clear_key, tenant)

    def graph(self, tenant: str = DEFAULT_TENANT) -> IdentityGraph:
        """The tenant's in-memory graph, loaded from the store on first use."""
        validate_tenant(tenant)
        with self._lock:
            graph = self._graphs.get(tenant)
            if graph is None:
                graph = self._graphs[tenant] = self._load(tenant)
            return graph

    def reload(self, tenant: str = DEFAULT_TENANT) -> IdentityGraph:
        """Rebuild the tenant's graph from the store (what a restart does)."""
        validate_tenant(tenant)
        with self._lock:
            self._graphs[tenant] = self._load(tenant)
            self._rings.pop(tenant, None)
            return self._graphs[tenant]

    def _load(self, tenant: str) -> IdentityGraph:
        graph = IdentityGraph(self.config)
        for batch in self.repository.load(tenant):
            for account in batch:
                graph.add(account.account_id, account.keys, account.created_at, facts=_facts(account.facts))
        return graph

    # ---- changes (SQL first, then memory)
    def add(
        self,
        account_id: str,
        identifiers: Iterable[str],
        *,
        created_at: datetime | None = None,
        verification_id: str | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> tuple[str, ...]:
        """Add an applicant and the identifier keys it used; returns the keys newly linked to it."""
        record = AccountRecord(
            account_id, tuple(identifiers), created_at or datetime.now(UTC), verification_id
        )
        return self._write([record], tenant)[account_id][1]

    def add_many(self, records: Sequence[AccountRecord], *, tenant: str = DEFAULT_TENANT) -> int:
        """Add applicants, ``WRITE_BATCH`` per transaction; returns how many accounts were new."""
        return sum(is_new for is_new, _ in self._write(records, tenant).values())

    def _write(
        self, records: Sequence[AccountRecord], tenant: str
    ) -> dict[str, tuple[bool, tuple[str, ...]]]:
        return self._write_private([self.private(r, tenant) for r in records], tenant)

    def _write_private(
        self, records: Sequence[AccountRecord], tenant: str
    ) -> dict[str, tuple[bool, tuple[str, ...]]]:
        graph = self.graph(tenant)
        out: dict[str, tuple[bool, tuple[str, ...]]] = {}
        with self._lock:
            for start in range(0, len(records), WRITE_BATCH):
                chunk = records[start : start + WRITE_BATCH]
                for account_id, (is_new, fresh) in self.repository.add_many(chunk, tenant).items():
                    old = out.get(account_id)
                    out[account_id] = (
                        is_new or (old is not None and old[0]),
                        (*(old[1] if old else ()), *fresh),
                    )
                for record in chunk:
                    # every key, not only those new in SQL: the graph ignores keys it has, and this process
                    # may not yet hold keys another process stored
                    graph.add(record.account_id, record.keys, record.created_at, facts=_facts(record.facts))
        return out

    def apply_follow_up(
        self, follow_up: FollowUp, *, reference: str, session: Session | None, tenant: str = DEFAULT_TENANT
    ) -> None:
        """Add a verified applicant (``AddToGraph``) in the verification's transaction; memory follows the
        commit, so a rolled-back verification never enters the in-memory graph."""
        if not isinstance(follow_up, AddToGraph):
            raise TypeError(f"the identity graph cannot apply a {type(follow_up).__name__}")
        record = self.private(
            AccountRecord(
                follow_up.account_id or reference,
                follow_up.keys,
                follow_up.created_at,
                reference,
                None
                if follow_up.applicant is None
                else self.facts_of(follow_up.applicant, follow_up.created_at),
            ),
            tenant,
        )
        if session is None:
            self._write_private([record], tenant)
            return
        self.repository.add_many([record], tenant, session=session)
        graph = self.graph(tenant)

        def remember(_: Session) -> None:
            with self._lock:
                graph.add(record.account_id, record.keys, record.created_at, facts=_facts(record.facts))

        event.listen(session, "after_commit", remember, once=True)

    def assess(
        self,
        keys: Sequence[str],
        *,
        account_id: str | None,
        created_at: datetime,
        applicant: Mapping[str, Any] | None,
        tenant: str = DEFAULT_TENANT,
    ) -> Assessment:
        """Score an applicant as if it were in the graph with ``keys`` (clear), changing nothing: it is
        added to the in-memory graph under the lock, scored, and taken out again."""
        trial = self.private(
            AccountRecord(account_id or f"pending:{uuid.uuid4()}", tuple(keys), created_at), tenant
        )
        labels = {self.key_of(k, tenant): k for k in keys}
        graph = self.graph(tenant)
        with self._lock:
            return assess_applicant(
                graph,
                trial.account_id,
                trial.keys,
                created_at,
                self.scorer,
                labels,
                None if applicant is None else AccountFacts.from_dict(self.facts_of(applicant, created_at)),
            )

    def reveal(self, keys: Sequence[str], *, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """Clear values of pseudonymous keys, for investigators (the caller checks who may see them)."""
        return self.repository.reveal(keys, tenant)

    def erase(self, account_id: str, *, tenant: str = DEFAULT_TENANT) -> bool:
        """Remove an account and all its links from the store and the graph (subject erasure)."""
        graph = self.graph(tenant)
        with self._lock:
            erased = self.repository.erase(account_id, tenant) is not None
            return graph.remove(account_id) or erased

    # ---- reading
    def rings(self, *, tenant: str = DEFAULT_TENANT, min_size: int = 2) -> list[Ring]:
        """Rings of the tenant (recomputed when the graph changed since the last call)."""
        return [r for r in self._fresh_rings(tenant).rings if r.size >= min_size]

    def _fresh_rings(self, tenant: str) -> _Rings:
        graph = self.graph(tenant)
        with self._lock:
            cached = self._rings.get(tenant)
            if cached is None or cached.version != graph.version:
                rings = self._scored(graph, find_rings(graph))
                cached = _Rings(graph.version, rings, {a: r for r in rings for a in r.members})
                self._rings[tenant] = cached
            return cached

    def _scored(self, graph: IdentityGraph, rings: list[Ring]) -> list[Ring]:
        """Rings scored by the ring model: a ring's score is its highest member score (meaning attack, on
        the account scores' scale and threshold), highest first."""
        members = [m for ring in rings for m in ring.members]
        if not members:
            return rings
        scores = dict(
            zip(members, self.scorer.score_many(graph, members, rings_by_account(rings)), strict=True)
        )
        scored = [
            replace(
                ring,
                score=round(float(max(scores[m] for m in ring.members)), 6),
                score_meaning=f"attack: highest member score of {self.scorer.model_id}",
            )
            for ring in rings
        ]
        return sorted(scored, key=lambda r: (-r.score, -r.size, r.ring_id))

    def neighbourhood(
        self, account_id: str, *, tenant: str = DEFAULT_TENANT, fresh: bool = True
    ) -> AccountGraph:
        """The account's neighbourhood within two hops and its ring.

        ``fresh=True`` finds the ring from the account's component alone (``ring_of``: exactly the ring
        ``rings()`` would report, at the cost of one component, not the tenant). ``fresh=False`` answers from
        the last rings computed and says so (``ring_stale``) when the graph changed since."""
        graph = self.graph(tenant)
        with self._lock:
            if account_id not in graph:
                raise NotFound(f"account {account_id!r} is not in the identity graph")
            near = graph.neighbourhood(account_id)
            if fresh:
                ring = ring_of(graph, account_id)
                return AccountGraph(near, None if ring is None else self._scored(graph, [ring])[0], False)
            cached = self._rings.get(tenant)
            ring = None if cached is None else cached.by_member.get(account_id)
            return AccountGraph(near, ring, cached is None or cached.version != graph.version)

    def describe(
        self, account_id: str, *, tenant: str = DEFAULT_TENANT, reveal: bool = False
    ) -> dict[str, Any]:
        """An account for an investigator: its neighbourhood and ring, its graph score and reason codes, and
        with ``reveal`` the clear values of every identifier key mentioned (``values``: key -> value)."""
        view = self.neighbourhood(account_id, tenant=tenant)
        graph = self.graph(tenant)
        with self._lock:
            found = assess(graph, account_id, self.scorer)
        out = view.to_dict()
        out.update(
            {
                "graph_score": found.score,
                "score_meaning": found.scored.to_dict()["score_meaning"],
                "model_id": found.scored.model_id,
                "reasons": list(found.scored.reasons),
            }
        )
        if reveal:
            keys = [i["key"] for i in out["identifiers"]]
            keys += [k for n in out["neighbours"] for k in n["shared"]]
            keys += [s["key"] for s in (out["ring"] or {}).get("shared", [])]
            out["values"] = self.reveal(sorted(set(keys)), tenant=tenant)
        return out


def _facts(raw: Mapping[str, Any] | None) -> AccountFacts | None:
    return None if raw is None else AccountFacts.from_dict(raw)
