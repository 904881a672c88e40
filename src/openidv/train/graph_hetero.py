"""An identity graph as typed arrays for a heterogeneous GNN: accounts, identifier nodes per kind, edges.

Plain numpy, no torch, so the graph can be built and tested where torch is not installed; the GNN module
turns these arrays into a ``HeteroData`` in one call. The input is an ``IdentityGraph`` (the one the
service holds online and ``graph_eval.labelled_graph`` builds from a SYNTHETIC population), so the model
reads exactly what production keeps: identifier keys, creation times and ``AccountFacts``, never a name, a
date of birth, a label or a group.

What is kept, and why:

* identifier kinds as node types, plus the facts' keyed name tokens (``name``: first given name and
  surname; ``surname``) as two more kinds: "many names on one device" is a ring's trace, "one surname at one
  address" a family's;
* only identifiers held by at least two accounts become nodes: one held once links nobody, and dropping it
  shrinks the graph several times without losing a path between accounts (the account keeps a count of
  its identifiers per kind);
* identifiers held by more than ``hub_cap`` accounts (carrier NAT, a common surname) lose their edges, the
  bound ``GraphConfig.hub_cap`` puts on the online graph, so message passing stays bounded; the account
  keeps a count of the hubs it touches;
* account features: age, the national-id tells (issued before birth; issued within the last year to an
  adult, the "thin file"; age at issue), hour and weekday of creation, which identifier kinds are absent,
  and per kind how many shared identifiers it holds;
* identifier features: log degree and the log time span (hours) between the first and the last holder's
  application, because rings are made in days while families and offices accrue over months.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openidv.services.graph_facts import AccountFacts
from openidv.services.identity_graph import IdentityGraph

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

#: identifier kinds of ``checks.graph.identifiers`` in a fixed order, then the facts' name tokens
KEY_KINDS: tuple[str, ...] = (
    "device",
    "email",
    "phone",
    "address",
    "ip",
    "ip24",
    "national_id",
    "document",
    "face",
)
KINDS: tuple[str, ...] = (*KEY_KINDS, "name", "surname")
HUB_CAP = 1000
ACCOUNT_FEATURES: tuple[str, ...] = (
    "age_years_div_50",
    "national_id_before_birth",
    "national_id_issued_last_year_adult",
    "age_at_id_issue_div_50",
    "hour_sin",
    "hour_cos",
    "weekday_div_6",
    *(f"no_{k}" for k in KEY_KINDS),
    *(f"log_shared_{k}" for k in KINDS),
    "log_hubs",
)
IDENTIFIER_FEATURES: tuple[str, ...] = ("log_degree", "log_span_hours_div_10")


@dataclass(frozen=True)
class HeteroArrays:
    """One graph as arrays. ``edges[kind]`` is ``(2, E)``: row 0 account index (``account_ids`` order),
    row 1 identifier index within ``kind``; ``ident_x[kind]`` one row per identifier node."""

    account_ids: tuple[str, ...]
    account_x: F32
    ident_x: dict[str, F32]
    edges: dict[str, I64]
    hub_edges_dropped: int

    @property
    def n(self) -> int:
        return len(self.account_ids)


def _fact_features(facts: AccountFacts | None) -> list[float]:
    f = facts or AccountFacts()
    age = f.age_years or 0.0
    thin = f.national_id_age_days is not None and age >= 21 and 0 <= f.national_id_age_days < 365
    return [
        age / 50.0,
        float(bool(f.national_id_before_birth)),
        float(thin),
        (f.age_at_id_issue_years or 0.0) / 50.0,
    ]


def _keys(graph: IdentityGraph, account: str) -> list[tuple[str, str]]:
    """(kind, key) of an account: its identifier keys and its facts' name tokens."""
    out = [(k[: k.find(":")], k) for k in graph.keys_of(account)]
    facts = graph.facts_of(account)
    if facts is not None and facts.name_token:
        out.append(("name", f"name:{facts.name_token}"))
    if facts is not None and facts.surname_token:
        out.append(("surname", f"surname:{facts.surname_token}"))
    return [(kind, key) for kind, key in out if kind in KINDS]


def token_index(graph: IdentityGraph) -> dict[tuple[str, str], list[str]]:
    """Name-token key -> accounts holding it: the identity graph indexes identifier keys, not the facts'
    tokens, so their holders are gathered once per graph."""
    index: dict[tuple[str, str], list[str]] = {}
    for account in graph.accounts():
        for key in _keys(graph, account):
            if key[0] in ("name", "surname"):
                index.setdefault(key, []).append(account)
    return index


def build_arrays(
    graph: IdentityGraph,
    accounts: Sequence[str],
    *,
    hub_cap: int = HUB_CAP,
    tokens: dict[tuple[str, str], list[str]] | None = None,
) -> HeteroArrays:
    """The typed graph of ``accounts`` (each in ``graph``), rows in that order.

    Identifier features (degree, time span) and the accounts' shared and hub counts come from the *whole*
    graph; edges only join the given accounts. With every account of the graph that is the full graph; with an
    account and the holders of its identifiers (``neighbourhood``) it is exactly what a 3-layer model needs
    to score that one account. ``tokens`` is ``token_index(graph)``, computed here when not given.
    """
    tokens = token_index(graph) if tokens is None else tokens
    row = {a: i for i, a in enumerate(accounts)}
    keys_of = [_keys(graph, a) for a in accounts]
    created = [graph.created_at(a) for a in accounts]
    ident_rows: dict[str, list[list[float]]] = {k: [] for k in KINDS}
    src: dict[str, list[int]] = {k: [] for k in KINDS}
    dst: dict[str, list[int]] = {k: [] for k in KINDS}
    hubs = np.zeros(len(accounts), dtype=np.float64)
    shared = np.zeros((len(accounts), len(KINDS)), dtype=np.float64)
    dropped = 0
    # sorted: node order does not depend on arrival order
    for key in sorted({key for keys in keys_of for key in keys}):
        kind = key[0]
        holders = tokens.get(key, ()) if kind in ("name", "surname") else graph.holders(key[1])
        if len(holders) < 2:
            continue
        members = sorted(row[a] for a in holders if a in row)
        if len(holders) > hub_cap:
            hubs[members] += 1
            dropped += len(members)
            continue
        times = [graph.created_at(a).timestamp() / 3600.0 for a in holders]
        span = max(times) - min(times)
        dst[kind].extend([len(ident_rows[kind])] * len(members))
        src[kind].extend(members)
        ident_rows[kind].append([math.log1p(len(holders)), math.log1p(span) / 10.0])
        shared[members, KINDS.index(kind)] += 1
    own = []
    for a, keys, c in zip(accounts, keys_of, created, strict=True):
        hour = c.hour + c.minute / 60.0
        present = {kind for kind, _ in keys}
        own.append(
            [
                *_fact_features(graph.facts_of(a)),
                math.sin(2 * math.pi * hour / 24),
                math.cos(2 * math.pi * hour / 24),
                c.weekday() / 6.0,
                *(float(k not in present) for k in KEY_KINDS),
            ]
        )
    account_x = np.concatenate(
        [
            np.array(own, dtype=np.float64).reshape(len(accounts), -1),
            np.log1p(shared),
            np.log1p(hubs)[:, None],
        ],
        axis=1,
    ).astype(np.float32)
    return HeteroArrays(
        account_ids=tuple(accounts),
        account_x=account_x,
        ident_x={
            k: np.array(rows, dtype=np.float32).reshape(-1, len(IDENTIFIER_FEATURES))
            for k, rows in ident_rows.items()
        },
        edges={k: np.array([src[k], dst[k]], dtype=np.int64).reshape(2, -1) for k in KINDS},
        hub_edges_dropped=dropped,
    )


def neighbourhood(
    graph: IdentityGraph,
    account: str,
    *,
    hub_cap: int = HUB_CAP,
    tokens: dict[tuple[str, str], list[str]] | None = None,
) -> list[str]:
    """``account`` first, then every other holder of its shared, non-hub identifiers (sorted): the accounts
    whose features a 3-layer model reads to score ``account``."""
    tokens = token_index(graph) if tokens is None else tokens
    found: set[str] = set()
    for kind, key in _keys(graph, account):
        holders = tokens.get((kind, key), ()) if kind in ("name", "surname") else graph.holders(key)
        if 2 <= len(holders) <= hub_cap:
            found.update(holders)
    found.discard(account)
    return [account, *sorted(found)]
