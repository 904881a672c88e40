"""Storage of console users, sessions and sign-in failure counters, in the caller's transaction.

Storage only: hashing, expiry and throttling rules are ``openidv.services.console_accounts``'s business.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from openidv.store.console_tables import ConsoleSession, ConsoleSignInFailure, ConsoleUser


def user_by_name(session: Session, tenant: str, name: str) -> ConsoleUser | None:
    return session.scalars(
        select(ConsoleUser).where(ConsoleUser.tenant_id == tenant, ConsoleUser.name == name)
    ).one_or_none()


def user_by_id(session: Session, user_id: str) -> ConsoleUser | None:
    return session.get(ConsoleUser, user_id)


def users(session: Session, tenant: str | None = None) -> list[ConsoleUser]:
    query = select(ConsoleUser).order_by(ConsoleUser.tenant_id, ConsoleUser.name)
    if tenant is not None:
        query = query.where(ConsoleUser.tenant_id == tenant)
    return list(session.scalars(query))


def session_by_id(session: Session, session_id: str) -> ConsoleSession | None:
    return session.get(ConsoleSession, session_id)


def revoke_sessions_of(session: Session, user_id: str, at: datetime) -> int:
    """End every live session of one user; returns how many were live."""
    done = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def failure(session: Session, key: str, *, for_update: bool = False) -> ConsoleSignInFailure | None:
    query = select(ConsoleSignInFailure).where(ConsoleSignInFailure.key == key)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def clear_failure(session: Session, key: str) -> None:
    row = session.get(ConsoleSignInFailure, key)
    if row is not None:
        session.delete(row)


def delete_ended_sessions(session: Session, before: datetime) -> int:
    """Sessions revoked or past their lifetime before ``before``: nothing reads them again."""
    done = session.execute(
        delete(ConsoleSession).where(
            or_(ConsoleSession.expires_at < before, ConsoleSession.revoked_at < before)
        )
    )
    return int(getattr(done, "rowcount", 0) or 0)


def delete_quiet_failures(session: Session, quiet_since: datetime, now: datetime) -> int:
    """Failure counters untouched since ``quiet_since`` and not locked at ``now`` (they reset anyway)."""
    done = session.execute(
        delete(ConsoleSignInFailure).where(
            ConsoleSignInFailure.last_at < quiet_since,
            or_(ConsoleSignInFailure.locked_until.is_(None), ConsoleSignInFailure.locked_until < now),
        )
    )
    return int(getattr(done, "rowcount", 0) or 0)
