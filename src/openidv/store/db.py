"""Engine and session factory; SQLite by default, PostgreSQL via ``OPENIDV_DATABASE_URL``."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    """Declarative base for every openidv table (Alembic's target metadata)."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, make the parent directory, create the file readable by its owner only
    (0600), enable WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            create_private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily; take the write lock at BEGIN so the audit
            # chain's read-last-hash-then-append is serialised across connections.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # deleted rows are overwritten with zeros, so erased personal data does not linger in free pages
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def create_private_file(path: Path) -> None:
    """Create ``path`` (and missing parents, 0700) as an empty file of mode 0600 before anyone writes to it;
    an existing file readable by group or others is tightened to 0600. The database holds personal data
    (decisions, biometric templates); SQLite gives its ``-wal`` and ``-shm`` files the database's mode.

    An existing file is never opened here: closing any descriptor of a SQLite file drops every POSIX lock
    this process holds on it, which would break connections already open on it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, mode & 0o700)
            except OSError as exc:  # not ours to change: say so rather than fail to start
                log.warning(
                    "%s is readable by group or others (mode %o) and cannot be tightened: %s",
                    path,
                    mode,
                    exc.strerror,
                )
    else:
        os.close(fd)


def make_session_factory(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Any]:
    """``info`` lands in every session's ``Session.info`` (the store's sessions carry their audit log)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("store only timezone-aware datetimes")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
