"""Stable person keys: a cluster is named by a hash of its smallest member, so the same input gives the
same key whatever order the engine returned the rows in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def person_key(members: Iterable[str]) -> str:
    """``person:<16 hex>`` from the smallest member id (a singleton is its own person)."""
    smallest = min(members)
    return "person:" + hashlib.sha256(smallest.encode("utf-8")).hexdigest()[:16]


def groups(cluster_of: Mapping[str, str]) -> dict[str, list[str]]:
    """Engine cluster id -> sorted member ids."""
    out: dict[str, list[str]] = {}
    for record, cluster in cluster_of.items():
        out.setdefault(cluster, []).append(record)
    return {cluster: sorted(members) for cluster, members in out.items()}


def person_keys(cluster_of: Mapping[str, str]) -> dict[str, str]:
    """Record id -> ``person:`` key, from the engine's record id -> cluster id."""
    keys: dict[str, str] = {}
    for members in groups(cluster_of).values():
        key = person_key(members)
        for member in members:
            keys[member] = key
    return keys


def pairs_of(cluster_of: Mapping[str, str]) -> set[tuple[str, str]]:
    """Every within-cluster pair (smaller id first): what a clustering claims are matches."""
    out: set[tuple[str, str]] = set()
    for members in groups(cluster_of).values():
        for i, left in enumerate(members):
            for right in members[i + 1 :]:
                out.add((left, right))
    return out
