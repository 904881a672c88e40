"""The store: verifications, decisions, API keys and the audit log behind one small interface.

A verification, its check results, its decision and its audit entry are written in one transaction, so a
failure anywhere leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from openidv.errors import Conflict, NotFound
from openidv.results import CheckResult, Decision
from openidv.store import audit
from openidv.store.db import make_engine, make_session_factory
from openidv.store.migrate import upgrade
from openidv.store.models import ApiKey, CheckResultRow, DecisionRow, Verification
from openidv.verification import VerificationRecord

KEY_PREFIX = "oidv_"


def hash_api_key(key: str) -> str:
    """API keys are 256-bit random strings, so a plain SHA-256 is a safe one-way lookup hash."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class Store:
    def __init__(self, engine: Engine, *, migrate: bool = True):
        self.engine = engine
        self._sessions = make_session_factory(engine)
        if migrate:
            upgrade(engine)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> Store:
        return cls(make_engine(url), migrate=migrate)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ verifications

    def save_verification(
        self,
        record: VerificationRecord,
        *,
        request_hash: str,
        evidence_summary: dict[str, Any],
        api_key_id: str | None = None,
        idempotency_key: str | None = None,
        actor: str = "system",
        in_transaction: Callable[[Session], None] | None = None,
    ) -> VerificationRecord:
        """Write everything about one verification atomically; returns the stored record.

        ``in_transaction`` writes what follows the decision (capture fingerprints, enrolments) in the same
        transaction, so they exist exactly when the verification does. With an idempotency key, a concurrent
        duplicate resolves to the first stored verification (same body; marked ``replayed``, nothing of this
        one is kept) or a ``Conflict`` (other body).
        """
        try:
            with self.transaction() as session:
                row = Verification(
                    id=record.id,
                    created_at=record.created_at,
                    api_key_id=api_key_id,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    evidence_summary=evidence_summary,
                    latency_ms=record.latency_ms,
                )
                row.checks = [_check_row(i, r) for i, r in enumerate(record.checks)]
                row.decision = _decision_row(record.decision)
                session.add(row)
                session.flush()
                audit.append(
                    session,
                    actor=actor,
                    action="verification.created",
                    subject=record.id,
                    payload={
                        "decision": record.decision.outcome.value,
                        "reason_codes": list(record.decision.reason_codes),
                        "policy_version": record.decision.policy_version,
                        "request_hash": request_hash,
                        "checks": {
                            c.check: {"status": c.status.value, "score": c.score} for c in record.checks
                        },
                    },
                )
                if in_transaction is not None:
                    in_transaction(session)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self.find_idempotent(api_key_id, idempotency_key, request_hash)
            if existing is None:
                raise
            return existing
        return record

    def find_idempotent(
        self, api_key_id: str | None, idempotency_key: str, request_hash: str
    ) -> VerificationRecord | None:
        """The verification stored under this key, or None; a different body under the same key conflicts."""
        with self._sessions() as session:
            row = session.execute(
                _with_children(select(Verification)).where(
                    Verification.api_key_id == api_key_id, Verification.idempotency_key == idempotency_key
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            if row.request_hash != request_hash:
                raise Conflict(
                    "Idempotency-Key was already used with a different request body; use a new key"
                )
            return _record(row).model_copy(update={"replayed": True})

    def get_verification(self, verification_id: str) -> VerificationRecord:
        with self._sessions() as session:
            row = session.execute(
                _with_children(select(Verification)).where(Verification.id == verification_id)
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(f"verification {verification_id} not found")
            return _record(row)

    def ping(self) -> None:
        """A cheap round trip to the database, for health checks."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    # ------------------------------------------------------------------ API keys

    def create_api_key(self, name: str) -> tuple[ApiKeyInfo, str]:
        """Create a key; returns its info and the plaintext key, which is never stored."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiKey(
            id=str(uuid.uuid4()), name=name, prefix=key[:12], key_hash=hash_api_key(key), created_at=now
        )
        with self.transaction() as session:
            session.add(row)
            session.flush()
            audit.append(
                session, actor="cli", action="api_key.created", subject=row.id, payload={"name": name}
            )
        return _key_info(row), key

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self._sessions() as session:
            rows = session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars().all()
            return [_key_info(r) for r in rows]

    def revoke_api_key(self, key_id_or_prefix: str) -> ApiKeyInfo:
        with self.transaction() as session:
            rows = (
                session.execute(
                    select(ApiKey).where(
                        (ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                raise NotFound(f"no API key with id or prefix {key_id_or_prefix!r}")
            if len(rows) > 1:
                raise Conflict(f"{key_id_or_prefix!r} matches several keys; use the key id")
            row = rows[0]
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                audit.append(session, actor="cli", action="api_key.revoked", subject=row.id, payload={})
            return _key_info(row)

    def authenticate(self, key: str) -> ApiKeyInfo | None:
        with self._sessions() as session:
            row = session.execute(
                select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            return _key_info(row)

    # ------------------------------------------------------------------ audit

    def verify_audit_chain(self, expect_head: str | None = None) -> audit.ChainReport:
        with self._sessions() as session:
            return audit.verify_chain(session, expect_head=expect_head)


def _with_children(stmt: Any) -> Any:
    return stmt.options(selectinload(Verification.checks), selectinload(Verification.decision))


def _check_row(position: int, r: CheckResult) -> CheckResultRow:
    return CheckResultRow(
        position=position,
        check=r.check,
        version=r.version,
        status=r.status.value,
        score=r.score,
        meaning=r.meaning.value,
        reason_codes=list(r.reason_codes),
        details=r.model_dump(mode="json")["details"],
        latency_ms=r.latency_ms,
    )


def _decision_row(d: Decision) -> DecisionRow:
    return DecisionRow(
        outcome=d.outcome.value,
        reason_codes=list(d.reason_codes),
        policy_version=d.policy_version,
        fired_rules=[f.model_dump(mode="json") for f in d.fired_rules],
    )


def _record(row: Verification) -> VerificationRecord:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return VerificationRecord(
        id=row.id,
        created_at=created,
        decision=Decision(
            outcome=row.decision.outcome,
            reason_codes=tuple(row.decision.reason_codes),
            policy_version=row.decision.policy_version,
            fired_rules=tuple(row.decision.fired_rules),
        ),
        checks=tuple(
            CheckResult(
                check=c.check,
                version=c.version,
                status=c.status,
                score=c.score,
                meaning=c.meaning,
                reason_codes=tuple(c.reason_codes),
                details=c.details,
                latency_ms=c.latency_ms,
            )
            for c in row.checks
        ),
        latency_ms=row.latency_ms,
    )


def _key_info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at)
