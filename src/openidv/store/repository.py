"""The store: tenants, API keys, verifications, decisions and the audit log behind one small interface.

Every verification belongs to a tenant, and ``get_verification`` answers only within the caller's tenant:
another tenant's verification is "not found", like an id that never existed.

A verification, its check results, its decision and its audit entry are written in one transaction, so a
failure anywhere leaves nothing half-written.

Personal fields (the evidence summary, every check's details) are sealed with the deployment's key ring
(``openidv.store.sealed``) on write and opened on read, so callers see plain records. The ring is loaded on
first use: from ``OPENIDV_ENCRYPTION_KEY`` / the key file like biometric templates; on the embedded SQLite
default a missing key file is created (mode 0600), elsewhere a missing key is a ``ConfigurationError``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from openidv.crypto import KeyRing, load_keyring
from openidv.errors import Conflict, InvalidInput, NotFound
from openidv.results import CheckResult, Decision
from openidv.settings import Settings
from openidv.store import audit
from openidv.store.audit_checkpoints import Checkpoint
from openidv.store.audit_rows import rows_digest
from openidv.store.audit_verify import ChainReport, verify_chain
from openidv.store.db import make_engine, make_session_factory
from openidv.store.migrate import upgrade
from openidv.store.models import ApiKey, CheckResultRow, DecisionRow, Tenant, Verification
from openidv.store.sealed import check_result_aad, open_json, seal_json, verification_aad
from openidv.tenancy import DEFAULT_TENANT, SCOPES, validate_tenant
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
    tenant_id: str = DEFAULT_TENANT
    scopes: tuple[str, ...] = SCOPES
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at


def same_request(stored_hash: str, request_hash: str) -> None:
    """An Idempotency-Key names one request: the same key with another body is a ``Conflict``."""
    if stored_hash != request_hash:
        raise Conflict("Idempotency-Key was already used with a different request body; use a new key")


class KeyExpired(Exception):
    """``authenticate`` found the key, but it expired (the API answers 401 saying so)."""


class Store:
    """``keyring`` seals personal fields (by default loaded on first use, see the module docstring);
    ``audit_log`` says where the audit key and checkpoints come from (default: the environment's settings,
    read on the first audited write); every session of the store carries it, so ``audit.append`` MACs with it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        migrate: bool = True,
        keyring: KeyRing | Callable[[], KeyRing] | None = None,
        settings: Settings | None = None,
        audit_log: audit.AuditLog | None = None,
    ):
        self.engine = engine
        self.audit = audit_log or audit.AuditLog()
        self._sessions = make_session_factory(engine, info=audit.session_info(self.audit))
        self._keyring = keyring if isinstance(keyring, KeyRing) else None
        self._load_keyring: Callable[[], KeyRing] = (
            keyring
            if callable(keyring) and not isinstance(keyring, KeyRing)
            else lambda: load_keyring(settings, demo=engine.dialect.name == "sqlite")
        )
        if migrate:
            upgrade(engine)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        migrate: bool = True,
        keyring: KeyRing | Callable[[], KeyRing] | None = None,
        settings: Settings | None = None,
        audit_log: audit.AuditLog | None = None,
    ) -> Store:
        return cls(make_engine(url), migrate=migrate, keyring=keyring, settings=settings, audit_log=audit_log)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, keyring: KeyRing | Callable[[], KeyRing] | None = None
    ) -> Store:
        """The deployment's store: its database, key ring and audit log all from ``settings`` (each read on
        first use), so an app or command given explicit settings never mixes them with the environment's."""
        return cls.from_url(
            settings.resolved_database_url(),
            keyring=keyring,
            settings=settings,
            audit_log=audit.AuditLog.from_settings(settings),
        )

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = self._load_keyring()
        return self._keyring

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
        tenant_id: str = DEFAULT_TENANT,
        in_transaction: Callable[[Session], None] | None = None,
        subject_id: str | None = None,
    ) -> VerificationRecord:
        """Write everything about one verification atomically; returns the stored record.

        ``in_transaction`` writes what follows the decision (capture fingerprints, enrolments) in the same
        transaction, so they exist exactly when the verification does. With an idempotency key, a concurrent
        duplicate resolves to the first stored verification (same body; marked ``replayed``, nothing of this
        one is kept) or a ``Conflict`` (other body). ``subject_id`` is the applicant's id in the caller's
        system (``openidv subjects export|erase`` find verifications by it).
        """
        ring = self.keyring
        try:
            with self.transaction() as session:
                row = Verification(
                    id=record.id,
                    created_at=record.created_at,
                    api_key_id=api_key_id,
                    tenant_id=tenant_id,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    evidence_summary={},
                    evidence_sealed=seal_json(ring, evidence_summary, verification_aad(record.id)),
                    subject_id=subject_id,
                    latency_ms=record.latency_ms,
                )
                row.checks = [_check_row(ring, record.id, i, r) for i, r in enumerate(record.checks)]
                row.decision = _decision_row(record.decision)
                session.add(row)
                session.flush()
                audit.append(
                    session,
                    actor=actor,
                    action="verification.created",
                    subject=record.id,
                    payload={
                        "tenant": tenant_id,
                        "decision": record.decision.outcome.value,
                        "reason_codes": list(record.decision.reason_codes),
                        "policy_version": record.decision.policy_version,
                        "request_hash": request_hash,
                        "checks": {
                            c.check: {"status": c.status.value, "score": c.score} for c in record.checks
                        },
                        # the stored decision and check rows, which `openidv audit verify` recomputes
                        "rows": rows_digest(row.decision, list(row.checks)),
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
            same_request(row.request_hash, request_hash)
            return record_of(row, self.keyring).model_copy(update={"replayed": True})

    def get_verification(self, verification_id: str, tenant_id: str = DEFAULT_TENANT) -> VerificationRecord:
        """The tenant's verification; another tenant's id is ``NotFound``, like one that never existed."""
        with self._sessions() as session:
            row = session.execute(
                _with_children(select(Verification)).where(
                    Verification.id == verification_id, Verification.tenant_id == tenant_id
                )
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(f"verification {verification_id} not found")
            return record_of(row, self.keyring)

    def ping(self) -> None:
        """A cheap round trip to the database, for health checks."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    # ------------------------------------------------------------------ tenants

    def create_tenant(self, name: str) -> str:
        """Create a tenant (its name is its id); a ``Conflict`` when it exists."""
        validate_tenant(name)
        with self.transaction() as session:
            if session.get(Tenant, name) is not None:
                raise Conflict(f"tenant {name!r} already exists")
            session.add(Tenant(id=name, created_at=datetime.now(UTC)))
            session.flush()
            audit.append(session, actor="cli", action="tenant.created", subject=name, payload={})
        return name

    def list_tenants(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))

    # ------------------------------------------------------------------ API keys

    def create_api_key(
        self,
        name: str,
        *,
        tenant: str = DEFAULT_TENANT,
        scopes: tuple[str, ...] = SCOPES,
        expires_in: timedelta | None = None,
    ) -> tuple[ApiKeyInfo, str]:
        """Create a key of ``tenant`` (which must exist) with ``scopes``, expiring after ``expires_in``
        (never when None); returns its info and the plaintext key, which is never stored."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise InvalidInput(f"scopes: give one or more of {', '.join(SCOPES)} (not {unknown or 'none'})")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            prefix=key[:12],
            key_hash=hash_api_key(key),
            created_at=now,
            tenant_id=tenant,
            scopes=",".join(s for s in SCOPES if s in scopes),
            expires_at=now + expires_in if expires_in is not None else None,
        )
        with self.transaction() as session:
            if session.get(Tenant, tenant) is None:
                raise NotFound(f"no tenant {tenant!r}; create it with `openidv tenants create {tenant}`")
            session.add(row)
            session.flush()
            audit.append(
                session,
                actor="cli",
                action="api_key.created",
                subject=row.id,
                payload={
                    "name": name,
                    "tenant": tenant,
                    "scopes": row.scopes,
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                },
            )
        return _key_info(row), key

    def expire_api_key(self, key_id_or_prefix: str, after: timedelta) -> ApiKeyInfo:
        """Let a key expire ``after`` from now (sooner only), e.g. once its replacement is deployed."""
        with self.transaction() as session:
            row = _one_key(session, key_id_or_prefix)
            at = datetime.now(UTC) + after
            if row.expires_at is None or at < row.expires_at:
                row.expires_at = at
                audit.append(
                    session,
                    actor="cli",
                    action="api_key.expiry_set",
                    subject=row.id,
                    payload={"expires_at": at.isoformat()},
                )
            return _key_info(row)

    def list_api_keys(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        """Every key, or the keys of one tenant."""
        query = select(ApiKey).order_by(ApiKey.created_at)
        if tenant is not None:
            query = query.where(ApiKey.tenant_id == tenant)
        with self._sessions() as session:
            rows = session.execute(query).scalars().all()
            return [_key_info(r) for r in rows]

    def revoke_api_key(self, key_id_or_prefix: str) -> ApiKeyInfo:
        with self.transaction() as session:
            row = _one_key(session, key_id_or_prefix)
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                audit.append(session, actor="cli", action="api_key.revoked", subject=row.id, payload={})
            return _key_info(row)

    def authenticate(self, key: str) -> ApiKeyInfo | None:
        """The key's info; None when it is unknown or revoked; ``KeyExpired`` when it has expired."""
        with self._sessions() as session:
            row = session.execute(
                select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            info = _key_info(row)
            if info.expired():
                raise KeyExpired(f"the API key expired at {info.expires_at.isoformat()}")  # type: ignore[union-attr]
            return info

    # ------------------------------------------------------------------ audit

    def verify_audit_chain(self, expect_head: str | None = None) -> ChainReport:
        with self._sessions() as session:
            return verify_chain(session, self.audit, expect_head=expect_head)

    def checkpoint_audit(self) -> Checkpoint | None:
        """Write a signed checkpoint of the audit log's head now (None when the log is empty)."""
        with self._sessions() as session:
            return audit.checkpoint(session, self.audit)

    def append_audit(self, action: str, *, actor: str = "cli", payload: dict[str, Any] | None = None) -> None:
        """Append an operator's entry (``audit.sealed``, ``audit.key_installed``); on a legacy log the first
        keyed append seals the legacy entries, after a key rotation it records the rotation."""
        with self.transaction() as session:
            audit.append(session, actor=actor, action=action, subject=None, payload=payload or {})


def _with_children(stmt: Any) -> Any:
    return stmt.options(selectinload(Verification.checks), selectinload(Verification.decision))


def _check_row(ring: KeyRing, verification_id: str, position: int, r: CheckResult) -> CheckResultRow:
    details = r.model_dump(mode="json")["details"]
    return CheckResultRow(
        position=position,
        check=r.check,
        version=r.version,
        status=r.status.value,
        score=r.score,
        meaning=r.meaning.value,
        reason_codes=list(r.reason_codes),
        details={},
        details_sealed=seal_json(ring, details, check_result_aad(verification_id, position)),
        latency_ms=r.latency_ms,
    )


def _decision_row(d: Decision) -> DecisionRow:
    return DecisionRow(
        outcome=d.outcome.value,
        reason_codes=list(d.reason_codes),
        policy_version=d.policy_version,
        fired_rules=[f.model_dump(mode="json") for f in d.fired_rules],
    )


def evidence_of(row: Verification, ring: KeyRing) -> dict[str, Any]:
    """The row's evidence summary, opened (a row from before sealing keeps it in plain JSON)."""
    if row.evidence_sealed is None:
        return dict(row.evidence_summary or {})
    value: dict[str, Any] = open_json(ring, row.evidence_sealed, verification_aad(row.id))
    return value


def details_of(row: CheckResultRow, ring: KeyRing) -> dict[str, Any]:
    """The check result's details, opened (plain JSON for a row from before sealing)."""
    if row.details_sealed is None:
        return dict(row.details or {})
    value: dict[str, Any] = open_json(
        ring, row.details_sealed, check_result_aad(row.verification_id, row.position)
    )
    return value


def record_of(row: Verification, ring: KeyRing) -> VerificationRecord:
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
                details=details_of(c, ring),
                latency_ms=c.latency_ms,
            )
            for c in row.checks
        ),
        latency_ms=row.latency_ms,
    )


def _one_key(session: Session, key_id_or_prefix: str) -> ApiKey:
    rows = (
        session.execute(
            select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))
        )
        .scalars()
        .all()
    )
    if not rows:
        raise NotFound(f"no API key with id or prefix {key_id_or_prefix!r}")
    if len(rows) > 1:
        raise Conflict(f"{key_id_or_prefix!r} matches several keys; use the key id")
    return rows[0]


def _key_info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        row.id,
        row.name,
        row.prefix,
        row.created_at,
        row.revoked_at,
        row.tenant_id,
        tuple(s for s in row.scopes.split(",") if s),
        row.expires_at,
    )
