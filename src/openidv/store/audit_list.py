"""Reading the audit log for people: the newest entries of one tenant, optionally of one subject.

Why filter in Python: the tenant lives in each entry's JSON payload (the log is one chain for the whole
deployment, ``openidv.store.audit``), and JSON operators differ between SQLite and PostgreSQL. Entries are
read newest first in bounded batches, so a page costs at most ``scan`` rows whatever the log's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openidv.store.models import AuditEntry


@dataclass(frozen=True)
class AuditLine:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    payload: dict[str, Any]


def recent_entries(
    session: Session,
    *,
    tenant: str | None,
    subject: str | None = None,
    action_prefix: str | None = None,
    limit: int = 100,
    scan: int = 5000,
    system: bool = False,
) -> list[AuditLine]:
    """Newest first: entries whose payload names ``tenant`` (every tenant when None), plus entries that
    name no tenant when ``system`` (key rotations, legacy seals: an administrator's business)."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if subject:
        stmt = stmt.where(AuditEntry.subject == subject)
    if action_prefix:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    out: list[AuditLine] = []
    for row in session.scalars(stmt.limit(scan)):
        payload = row.payload if isinstance(row.payload, dict) else {}
        owner = payload.get("tenant")
        if tenant is not None and owner != tenant and not (system and owner is None):
            continue
        out.append(AuditLine(row.seq, row.at, row.actor, row.action, row.subject, payload))
        if len(out) >= limit:
            break
    return out
