"""SQL storage of the identity graph: add accounts with their identifier keys, list, erase, load in batches.

Storage only: which keys link accounts, how much and into which rings is
``openidv.services.identity_graph``'s business. Adds are idempotent (adding an account again with the same
keys changes nothing; with more keys adds only the new ones) and each call is one transaction, so a failure
leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openidv.crypto import KeyRing
from openidv.errors import InvalidInput
from openidv.store.graph_tables import (
    ACCOUNT_LENGTH,
    KEY_LENGTH,
    GraphAccount,
    GraphIdentifierValue,
    GraphLink,
    create_graph_tables,
)
from openidv.store.sealed import open_json, seal_json
from openidv.tenancy import DEFAULT_TENANT

__all__ = ["AccountRecord", "GraphRepository", "StoredAccount", "create_graph_tables", "validate_key"]

#: accounts per statement: keeps ``IN`` lists well under SQLite's bound-parameter limit
_CHUNK = 500


def validate_key(key: str) -> str:
    """An identifier key ``kind:value``: a lowercase kind, a non-empty value, at most 300 characters."""
    if not isinstance(key, str) or len(key) > KEY_LENGTH:
        raise InvalidInput(f"identifier {str(key)[:40]!r}: a string of at most {KEY_LENGTH} characters")
    kind, sep, value = key.partition(":")
    if (
        not sep
        or not kind
        or not value.strip()
        or not kind.replace("_", "").isalnum()
        or kind != kind.lower()
    ):
        raise InvalidInput(f"identifier {key[:40]!r}: expected 'kind:value', e.g. 'phone:+14155550100'")
    return key


def _validate_account(account_id: str) -> str:
    if not isinstance(account_id, str) or not account_id.strip() or len(account_id) > ACCOUNT_LENGTH:
        raise InvalidInput(f"account_id: a non-empty string of at most {ACCOUNT_LENGTH} characters")
    return account_id


@dataclass(frozen=True)
class AccountRecord:
    """One account to add: its id, when it was created and the (normalised) identifier keys it used."""

    account_id: str
    keys: tuple[str, ...]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    verification_id: str | None = None
    #: derived facts for the ring models (JSON-able, no personal data in clear)
    facts: Mapping[str, Any] | None = None
    #: key -> its clear normalised value, kept sealed when the keys are pseudonyms
    values: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _validate_account(self.account_id)
        for key in self.keys:
            validate_key(key)
        if self.created_at.tzinfo is None:
            raise InvalidInput("created_at: a timezone-aware time")
        if self.verification_id is not None and len(self.verification_id) > 36:
            raise InvalidInput("verification_id: at most 36 characters")


@dataclass(frozen=True)
class StoredAccount:
    """An account as stored: when it was created (the first add wins) and its keys."""

    account_id: str
    created_at: datetime
    keys: tuple[str, ...]
    verification_id: str | None = None
    facts: Mapping[str, Any] | None = None


def _value_aad(tenant: str, key: str) -> bytes:
    return f"graph_identifier_values\x00{tenant}\x00{key}".encode()


class GraphRepository:
    """Graph accounts and links of every tenant on one database.

    With a ``keyring``, the clear values that records carry (``AccountRecord.values``) are stored sealed
    and ``reveal`` opens them; without one, values are not stored."""

    def __init__(self, engine: Engine, keyring: KeyRing | Callable[[], KeyRing] | None = None) -> None:
        self.engine = engine
        self._keyring = keyring

    @property
    def keyring(self) -> KeyRing | None:
        """The key ring, read on first use (a deployment that never seals a value never needs the key)."""
        if self._keyring is not None and not isinstance(self._keyring, KeyRing):
            self._keyring = self._keyring()
        return self._keyring

    def add(self, record: AccountRecord, tenant: str = DEFAULT_TENANT) -> tuple[bool, tuple[str, ...]]:
        """Add one account and its keys; returns whether the account is new and the keys newly linked."""
        return self.add_many([record], tenant)[record.account_id]

    def add_many(
        self,
        records: Sequence[AccountRecord],
        tenant: str = DEFAULT_TENANT,
        *,
        session: Session | None = None,
    ) -> dict[str, tuple[bool, tuple[str, ...]]]:
        """Add accounts in one transaction; per account id: whether it is new and its newly linked keys.

        Records of the same account are merged (the first one's time and verification are kept). Rows a
        concurrent writer added first are skipped, not an error. With ``session``, the rows are written in
        that session's transaction (a verification's), which the caller commits."""
        merged: dict[str, AccountRecord] = {}
        for record in records:
            old = merged.get(record.account_id)
            keys = (
                tuple(dict.fromkeys((*old.keys, *record.keys))) if old else tuple(dict.fromkeys(record.keys))
            )
            first = old or record
            values = {**(record.values or {}), **((old.values or {}) if old else {})}
            merged[record.account_id] = AccountRecord(
                record.account_id,
                keys,
                first.created_at,
                first.verification_id,
                first.facts if first.facts is not None else record.facts,
                values,
            )
        scope: AbstractContextManager[Session] = (
            _transaction(self.engine) if session is None else nullcontext(session)
        )
        with scope as active:
            return self._add(active, list(merged.values()), tenant)

    def _add(
        self, session: Session, records: list[AccountRecord], tenant: str
    ) -> dict[str, tuple[bool, tuple[str, ...]]]:
        """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (SQLite and PostgreSQL): the rows that come back
        are the new ones, with no read first (which, on a table without planner statistics yet, made
        PostgreSQL scan the table for every batch) and no race with a concurrent writer."""
        out: dict[str, tuple[bool, tuple[str, ...]]] = {}
        now = datetime.now(UTC)
        for start in range(0, len(records), _CHUNK):
            chunk = records[start : start + _CHUNK]
            accounts = [
                {
                    "tenant_id": tenant,
                    "account_id": r.account_id,
                    "created_at": r.created_at,
                    "verification_id": r.verification_id,
                    "facts": dict(r.facts) if r.facts is not None else None,
                }
                for r in chunk
            ]
            new_accounts = set(
                _insert_new(session, GraphAccount.__table__, accounts, ("account_id",))  # type: ignore[arg-type]
            )
            links = [
                {"tenant_id": tenant, "account_id": r.account_id, "key": k, "created_at": now}
                for r in chunk
                for k in r.keys
            ]
            fresh: dict[str, list[str]] = {}
            for account_id, key in _insert_new(
                session,
                GraphLink.__table__,  # type: ignore[arg-type]
                links,
                ("account_id", "key"),
            ):
                fresh.setdefault(account_id, []).append(key)
            for r in chunk:
                got = set(fresh.get(r.account_id, ()))
                out[r.account_id] = (
                    (r.account_id,) in new_accounts,
                    tuple(k for k in r.keys if k in got),
                )
            self._store_values(session, chunk, tenant)
        return out

    def _store_values(self, session: Session, records: Sequence[AccountRecord], tenant: str) -> None:
        """Seal the clear values of keys not yet stored (one row per tenant and key)."""
        if self.keyring is None:
            return
        values = {k: v for r in records for k, v in (r.values or {}).items() if k in r.keys}
        if not values:
            return
        known = set(
            session.scalars(
                select(GraphIdentifierValue.key).where(
                    GraphIdentifierValue.tenant_id == tenant, GraphIdentifierValue.key.in_(sorted(values))
                )
            )
        )
        rows = [
            {
                "tenant_id": tenant,
                "key": key,
                "value_sealed": seal_json(self.keyring, value, _value_aad(tenant, key)),
            }
            for key, value in sorted(values.items())
            if key not in known
        ]
        _insert_new(session, GraphIdentifierValue.__table__, rows, ("key",))  # type: ignore[arg-type]

    def reveal(self, keys: Sequence[str], tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """The clear values of ``keys`` that are stored (needs the key ring; others are left out)."""
        if self.keyring is None or not keys:
            return {}
        out: dict[str, str] = {}
        with Session(self.engine) as session:
            for start in range(0, len(keys), _CHUNK):
                chunk = sorted(set(keys[start : start + _CHUNK]))
                for key, blob in session.execute(
                    select(GraphIdentifierValue.key, GraphIdentifierValue.value_sealed).where(
                        GraphIdentifierValue.tenant_id == tenant, GraphIdentifierValue.key.in_(chunk)
                    )
                ):
                    out[str(key)] = str(open_json(self.keyring, blob, _value_aad(tenant, str(key))))
        return out

    def get(self, account_id: str, tenant: str = DEFAULT_TENANT) -> StoredAccount | None:
        with Session(self.engine) as session:
            row = session.get(GraphAccount, (tenant, account_id))
            if row is None:
                return None
            keys = session.scalars(
                select(GraphLink.key)
                .where(GraphLink.tenant_id == tenant, GraphLink.account_id == account_id)
                .order_by(GraphLink.key)
            )
            return StoredAccount(row.account_id, row.created_at, tuple(keys), row.verification_id, row.facts)

    def accounts(
        self, tenant: str = DEFAULT_TENANT, *, limit: int = 100, after: str | None = None
    ) -> list[str]:
        """Account ids of the tenant in id order, ``limit`` at a time after ``after`` (keyset paging)."""
        query = select(GraphAccount.account_id).where(GraphAccount.tenant_id == tenant)
        if after is not None:
            query = query.where(GraphAccount.account_id > after)
        with Session(self.engine) as session:
            return list(session.scalars(query.order_by(GraphAccount.account_id).limit(limit)))

    def count(self, tenant: str = DEFAULT_TENANT) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).where(GraphAccount.tenant_id == tenant)) or 0)

    def accounts_with(self, key: str, tenant: str = DEFAULT_TENANT) -> list[str]:
        """Accounts of the tenant that used ``key``."""
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(GraphLink.account_id)
                    .where(GraphLink.tenant_id == tenant, GraphLink.key == key)
                    .order_by(GraphLink.account_id)
                )
            )

    def erase(self, account_id: str, tenant: str = DEFAULT_TENANT) -> tuple[str, ...] | None:
        """Delete an account and its links in one transaction; returns the keys it had (None: no account)."""
        with Session(self.engine) as session, session.begin():
            if session.get(GraphAccount, (tenant, account_id)) is None:
                return None
            keys = tuple(
                session.scalars(
                    select(GraphLink.key).where(
                        GraphLink.tenant_id == tenant, GraphLink.account_id == account_id
                    )
                )
            )
            # explicit, not only the foreign key's cascade: other SQLite connections may not enforce it
            session.execute(
                delete(GraphLink).where(GraphLink.tenant_id == tenant, GraphLink.account_id == account_id)
            )
            session.execute(
                delete(GraphAccount).where(
                    GraphAccount.tenant_id == tenant, GraphAccount.account_id == account_id
                )
            )
            # a value nobody holds any more goes too: erasure leaves no clear identifier behind
            still_held = set(
                session.scalars(
                    select(GraphLink.key).where(GraphLink.tenant_id == tenant, GraphLink.key.in_(keys))
                )
            )
            orphans = [k for k in keys if k not in still_held]
            for start in range(0, len(orphans), _CHUNK):
                session.execute(
                    delete(GraphIdentifierValue).where(
                        GraphIdentifierValue.tenant_id == tenant,
                        GraphIdentifierValue.key.in_(orphans[start : start + _CHUNK]),
                    )
                )
            return keys

    def expired(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, account) of up to ``limit`` accounts of any tenant added before ``before`` (retention)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(GraphAccount.tenant_id, GraphAccount.account_id)
                .where(GraphAccount.created_at < before)
                .order_by(GraphAccount.created_at, GraphAccount.tenant_id, GraphAccount.account_id)
                .limit(limit)
            )
            return [(str(t), str(a)) for t, a in rows]

    def count_expired(self, before: datetime) -> int:
        with Session(self.engine) as session:
            query = select(func.count()).select_from(GraphAccount).where(GraphAccount.created_at < before)
            return int(session.scalar(query) or 0)

    def load(self, tenant: str = DEFAULT_TENANT, *, batch: int = 10_000) -> Iterator[list[StoredAccount]]:
        """Every account of the tenant with its keys, ``batch`` accounts at a time, in account id order
        (keyset paging, so memory stays bounded and a huge tenant never needs one giant query)."""
        after: str | None = None
        while True:
            with Session(self.engine) as session:
                query = select(
                    GraphAccount.account_id,
                    GraphAccount.created_at,
                    GraphAccount.verification_id,
                    GraphAccount.facts,
                ).where(GraphAccount.tenant_id == tenant)
                if after is not None:
                    query = query.where(GraphAccount.account_id > after)
                rows = list(session.execute(query.order_by(GraphAccount.account_id).limit(batch)))
                if not rows:
                    return
                first, last = str(rows[0][0]), str(rows[-1][0])
                keys: dict[str, list[str]] = {}
                for account_id, key in session.execute(
                    select(GraphLink.account_id, GraphLink.key)
                    .where(
                        GraphLink.tenant_id == tenant,
                        GraphLink.account_id >= first,
                        GraphLink.account_id <= last,
                    )
                    .order_by(GraphLink.account_id, GraphLink.key)
                ):
                    keys.setdefault(str(account_id), []).append(str(key))
            yield [
                StoredAccount(str(a), created, tuple(keys.get(str(a), ())), verification, facts)
                for a, created, verification, facts in rows
            ]
            after = last


@contextmanager
def _transaction(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session, session.begin():
        yield session


def _insert_new(
    session: Session, table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> list[tuple[str, ...]]:
    """Insert ``rows``, skipping those whose primary key exists; returns ``returning`` of those inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql_insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - openidv runs on SQLite and PostgreSQL
        raise NotImplementedError(f"graph store on {dialect}")
    result = session.execute(statement.returning(*(table.c[name] for name in returning)), rows)
    return [tuple(str(v) for v in row) for row in result]
