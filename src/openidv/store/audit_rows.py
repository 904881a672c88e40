"""Digests of the rows a decision depends on, so the audit log covers the stored decision, not a copy.

A ``verification.created`` entry records ``rows``: the SHA-256 of the canonical JSON of the decision row
(outcome, reason codes, policy version, fired rules) and of every check row (check, version, status, score,
meaning, reason codes), in their stored order. The entry's MAC protects the digest; ``verify`` recomputes it
from the live rows, so ``UPDATE decisions SET outcome = 'approve'`` is found. A check's ``details`` are
left out on purpose: they may be encrypted at rest and re-encrypted on key rotation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from openidv.store.models import CheckResultRow, DecisionRow, Verification

ROWS_VERSION = 1


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def rows_digest(decision: DecisionRow, checks: list[CheckResultRow]) -> str:
    """The digest of a verification's decision and check rows (``details`` excluded)."""
    material = {
        "v": ROWS_VERSION,
        "decision": {
            "outcome": decision.outcome,
            "reason_codes": list(decision.reason_codes),
            "policy_version": decision.policy_version,
            "fired_rules": list(decision.fired_rules),
        },
        "checks": [
            {
                "check": c.check,
                "version": c.version,
                "status": c.status,
                "score": c.score,
                "meaning": c.meaning,
                "reason_codes": list(c.reason_codes),
            }
            for c in sorted(checks, key=lambda c: c.position)
        ],
    }
    return hashlib.sha256(_canonical(material).encode("utf-8")).hexdigest()


def live_digests(session: Session, batch: int = 500) -> Iterator[tuple[str, str | None]]:
    """(verification id, digest of its live rows) for every stored verification; None without a decision."""
    last = ""
    while True:
        rows = (
            session.execute(
                select(Verification)
                .options(selectinload(Verification.checks), selectinload(Verification.decision))
                .where(Verification.id > last)
                .order_by(Verification.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield row.id, None if row.decision is None else rows_digest(row.decision, list(row.checks))
        last = rows[-1].id
        session.expunge_all()
