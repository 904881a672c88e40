"""Review-console accounts (issue 16): ``console_users``, ``console_sessions``, ``console_sign_in_failures``.

A user belongs to one tenant and has one role; its password is kept only as an scrypt hash that carries its
own salt and parameters (``openidv.services.console_accounts``). A session row is keyed by the SHA-256 of the
cookie's token, so the database never holds a token that signs anyone in. Failure rows count wrong passwords
per name and per client address, for the sign-in throttle. No applicant data lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime
from openidv.store.models import AuditEntry


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    #: analyst | supervisor | admin
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    #: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_console_users_tenant_name"),)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    #: sha256 (hex) of the cookie's token
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False
    )
    #: the synchronizer token forms and ``X-CSRF-Token`` must carry (useless without the session cookie)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: the absolute end of the session, whatever its activity
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: client address and a short user-agent summary, for the user's own review
    client: Mapped[str] = mapped_column(String(200), nullable=False, default="")

    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)


class ConsoleSignInFailure(Base):
    __tablename__ = "console_sign_in_failures"

    #: ``name:<tenant>/<name>`` or ``client:<address>``
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


#: for ``Base.metadata.create_all(engine, tables=list(CONSOLE_TABLES))`` in tests
CONSOLE_TABLES: tuple[Table, ...] = tuple(
    cast(Table, t.__table__) for t in (ConsoleUser, ConsoleSession, ConsoleSignInFailure, AuditEntry)
)
