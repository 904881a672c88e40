"""Review-console accounts: users with a role, password sign-in with a throttle, and server-side sessions.

- **Passwords** are hashed with scrypt (stdlib ``hashlib.scrypt``), a random 16-byte salt per hash, and the
  parameters written beside the hash (``scrypt$n$r$p$salt$hash``), so they can be raised later without
  breaking old hashes; checks compare in constant time. An unknown or disabled name is checked against a
  dummy hash, so neither the answer nor its timing tells which names exist.
- **Sessions**: the browser holds an opaque random token; the database holds its SHA-256 only. A session
  ends after ``idle_timeout_s`` without a request, after ``lifetime_s`` whatever happens, on sign-out, when
  its user is disabled, and when the user's password is set (every session of that user ends).
- **Throttle**: wrong passwords are counted per name and per client address. After ``throttle_after`` of
  them, sign-in for that name (or from that address) is refused without looking at the password, even a
  right one, for ``throttle_base_s`` doubling with every further failure up to ``throttle_max_s``. Success
  clears the name's counter; quiet periods longer than ``throttle_window_s`` forget old failures.

Every change, sign-in, failure and lockout is an audit entry (the actor is the user's name; never a
password). Refusals while locked are not written, so a locked-out attacker cannot flood the audit log.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openidv.errors import Conflict, InvalidInput, NotFound
from openidv.settings import Settings
from openidv.store import audit, console_store
from openidv.store.console_tables import ConsoleSession, ConsoleSignInFailure, ConsoleUser
from openidv.store.models import Tenant
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

#: from least to most trusted; a role may do what every role before it may
ROLES: tuple[str, ...] = ("analyst", "supervisor", "admin")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
#: scrypt cost: n=2**15, r=8 (32 MiB, about 0.1 s a check on one core)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
#: a session's ``last_seen_at`` is written at most this often (a write per page view buys nothing)
TOUCH_EVERY = timedelta(seconds=30)


def role_rank(role: str) -> int:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: one of {', '.join(ROLES)}")
    return ROLES.index(role)


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"name {name[:40]!r}: 1-100 letters, digits or . _ @ + -, starting with a letter or digit"
        )
    return name


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"the password is too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"the password is too long: at most {MAX_PASSWORD_CHARS} characters")
    return password


# ------------------------------------------------------------------------------------------ passwords


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * r * n * p + (1 << 20)
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$<salt>$<hash>`` (base64): the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``, compared in constant time; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """What an unknown name's password is checked against (made on first use: imports stay fast)."""
    return hash_password(secrets.token_urlsafe(16))


# ------------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class ConsolePolicy:
    idle_timeout_s: int = 30 * 60
    lifetime_s: int = 12 * 3600
    throttle_after: int = 5
    throttle_base_s: int = 30
    throttle_max_s: int = 15 * 60
    throttle_window_s: int = 15 * 60

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsolePolicy:
        return cls(
            idle_timeout_s=settings.console_idle_timeout_s,
            lifetime_s=settings.console_session_lifetime_s,
            throttle_after=settings.console_throttle_after,
            throttle_base_s=settings.console_throttle_base_s,
            throttle_max_s=settings.console_throttle_max_s,
        )

    def lock_for(self, failures: int) -> timedelta | None:
        """How long sign-in is refused after ``failures`` wrong passwords (None: not yet)."""
        if failures < self.throttle_after:
            return None
        seconds = self.throttle_base_s * 2 ** min(failures - self.throttle_after, 20)
        return timedelta(seconds=min(seconds, self.throttle_max_s))


@dataclass(frozen=True)
class UserInfo:
    id: str
    tenant: str
    name: str
    role: str
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "password_changed_at": self.password_changed_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }


def _info(row: ConsoleUser) -> UserInfo:
    return UserInfo(
        row.id, row.tenant_id, row.name, row.role, row.created_at, row.password_changed_at, row.disabled_at
    )


@dataclass(frozen=True)
class ConsoleIdentity:
    """Who is signed in on this request: what every console page reads."""

    user_id: str
    name: str
    role: str
    tenant: str
    #: the session's synchronizer token: forms carry it as ``csrf_token``, scripts as ``X-CSRF-Token``
    csrf_token: str
    session_id: str

    def has_role(self, minimum: str) -> bool:
        return role_rank(self.role) >= role_rank(minimum)


@dataclass(frozen=True)
class SignedIn:
    token: str
    identity: ConsoleIdentity


@dataclass(frozen=True)
class SignInRefused:
    """Unknown name, wrong password or disabled user: one answer for all three."""


@dataclass(frozen=True)
class SignInThrottled:
    retry_after_s: int


SignInResult = SignedIn | SignInRefused | SignInThrottled


def session_id_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ service


class ConsoleAccounts:
    """Users, sign-in and sessions of the console, on one store. ``clock`` is injectable for tests."""

    def __init__(
        self,
        store: Store,
        policy: ConsolePolicy | None = None,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.policy = policy or ConsolePolicy()
        self.clock = clock

    # -------------------------------------------------------------------- users

    def create_user(
        self, name: str, role: str, password: str, *, tenant: str = DEFAULT_TENANT, actor: str = "cli"
    ) -> UserInfo:
        validate_tenant(tenant)
        validate_name(name)
        role_rank(role)
        validate_password(password)
        now = self.clock()
        row = ConsoleUser(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            name=name,
            role=role,
            password_hash=hash_password(password),
            created_at=now,
            password_changed_at=now,
        )
        try:
            with self.store.transaction() as session:
                if session.get(Tenant, tenant) is None:
                    raise NotFound(f"no tenant {tenant!r}; create it with `openidv tenants create {tenant}`")
                if console_store.user_by_name(session, tenant, name) is not None:
                    raise Conflict(f"a console user named {name!r} already exists in tenant {tenant!r}")
                session.add(row)
                session.flush()
                audit.append(
                    session,
                    actor=actor,
                    action="console.user_created",
                    subject=row.id,
                    payload={"tenant": tenant, "name": name, "role": role},
                )
        except IntegrityError:  # a concurrent create of the same name won the race
            raise Conflict(f"a console user named {name!r} already exists in tenant {tenant!r}") from None
        return _info(row)

    def list_users(self, tenant: str | None = None) -> list[UserInfo]:
        with Session(self.store.engine) as session:
            return [_info(r) for r in console_store.users(session, tenant)]

    def disable_user(self, name: str, *, tenant: str = DEFAULT_TENANT, actor: str = "cli") -> UserInfo:
        """Disable a user and end its sessions (idempotent)."""
        now = self.clock()
        with self.store.transaction() as session:
            row = self._user(session, tenant, name)
            if row.disabled_at is None:
                row.disabled_at = now
                ended = console_store.revoke_sessions_of(session, row.id, now)
                audit.append(
                    session,
                    actor=actor,
                    action="console.user_disabled",
                    subject=row.id,
                    payload={"tenant": tenant, "name": name, "sessions_ended": ended},
                )
            return _info(row)

    def set_password(
        self, name: str, password: str, *, tenant: str = DEFAULT_TENANT, actor: str = "cli"
    ) -> UserInfo:
        """Set a user's password; every session of the user ends (sign in again with the new one)."""
        validate_password(password)
        digest = hash_password(password)
        now = self.clock()
        with self.store.transaction() as session:
            row = self._user(session, tenant, name)
            row.password_hash = digest
            row.password_changed_at = now
            ended = console_store.revoke_sessions_of(session, row.id, now)
            console_store.clear_failure(session, _name_key(tenant, name))
            audit.append(
                session,
                actor=actor,
                action="console.password_set",
                subject=row.id,
                payload={"tenant": tenant, "name": name, "sessions_ended": ended},
            )
            return _info(row)

    @staticmethod
    def _user(session: Session, tenant: str, name: str) -> ConsoleUser:
        row = console_store.user_by_name(session, tenant, name)
        if row is None:
            raise NotFound(f"no console user named {name!r} in tenant {tenant!r}")
        return row

    # -------------------------------------------------------------------- sign-in

    def sign_in(
        self,
        name: str,
        password: str,
        *,
        tenant: str = DEFAULT_TENANT,
        client: str = "",
        user_agent: str = "",
    ) -> SignInResult:
        now = self.clock()
        keys = (_name_key(tenant, name), _client_key(client))
        with Session(self.store.engine) as session:
            wait = self._locked_for(session, keys, now)
            if wait is not None:
                return SignInThrottled(wait)
            user = console_store.user_by_name(session, tenant, name) if _NAME.fullmatch(name) else None
            stored = user.password_hash if user is not None else _dummy_hash()
            user_id = user.id if user is not None and user.disabled_at is None else None
        good = check_password(password, stored) and user_id is not None
        if not good:
            self._record_failure(keys, tenant=tenant, name=name, client=client, now=now)
            return SignInRefused()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.store.transaction() as session:
            row = session.get(ConsoleUser, user_id)
            assert row is not None
            console_store.clear_failure(session, keys[0])
            self.forget_stale(session, now)
            session.add(
                ConsoleSession(
                    id=session_id_of(token),
                    user_id=row.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.policy.lifetime_s),
                    last_seen_at=now,
                    client=_client_summary(client, user_agent),
                )
            )
            session.flush()
            audit.append(
                session,
                actor=row.name,
                action="console.signed_in",
                subject=row.id,
                payload={"tenant": tenant, "client": client},
            )
            identity = ConsoleIdentity(row.id, row.name, row.role, row.tenant_id, csrf, session_id_of(token))
        return SignedIn(token, identity)

    def _locked_for(self, session: Session, keys: tuple[str, ...], now: datetime) -> int | None:
        waits = [
            (_utc(row.locked_until) - now).total_seconds()
            for key in keys
            if (row := console_store.failure(session, key)) is not None and row.locked_until is not None
        ]
        longest = max((w for w in waits if w > 0), default=None)
        return None if longest is None else max(1, math.ceil(longest))

    def _record_failure(
        self, keys: tuple[str, ...], *, tenant: str, name: str, client: str, now: datetime
    ) -> None:
        for attempt in range(3):  # two first failures at once both insert a counter: the loser counts again
            try:
                self._count_failure(keys, tenant=tenant, name=name, client=client, now=now)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _count_failure(
        self, keys: tuple[str, ...], *, tenant: str, name: str, client: str, now: datetime
    ) -> None:
        window = timedelta(seconds=self.policy.throttle_window_s)
        actor = name[:100] or "(no name)"
        locked: list[tuple[str, int, int]] = []
        with self.store.transaction() as session:
            for key in keys:
                row = console_store.failure(session, key, for_update=True)
                if row is None:
                    row = ConsoleSignInFailure(key=key, count=0, first_at=now, last_at=now)
                    session.add(row)
                quiet = row.locked_until is None or _utc(row.locked_until) <= now
                if row.count and quiet and now - _utc(row.last_at) > window:
                    row.count, row.first_at = 0, now  # old failures are forgotten
                row.count += 1
                row.last_at = now
                lock = self.policy.lock_for(row.count)
                if lock is not None:
                    row.locked_until = now + lock
                    locked.append((key.partition(":")[0], row.count, int(lock.total_seconds())))
            session.flush()
            audit.append(
                session,
                actor=actor,
                action="console.sign_in_failed",
                subject=None,
                payload={"tenant": tenant, "client": client},
            )
            for kind, count, seconds in locked:
                audit.append(
                    session,
                    actor=actor,
                    action="console.sign_in_locked",
                    subject=None,
                    payload={
                        "tenant": tenant,
                        "client": client,
                        "by": kind,
                        "failures": count,
                        "seconds": seconds,
                    },
                )

    def forget_stale(self, session: Session, now: datetime) -> None:
        """Delete sessions that ended over a day ago and failure counters nobody needs any more."""
        day_ago = now - timedelta(days=1)
        console_store.delete_ended_sessions(session, day_ago)
        console_store.delete_quiet_failures(
            session, now - timedelta(seconds=self.policy.throttle_window_s), now
        )

    # -------------------------------------------------------------------- sessions

    def identify(self, token: str) -> ConsoleIdentity | None:
        """The identity behind a cookie's token, or None when the session is unknown, ended, idle for too
        long, past its lifetime, or its user is disabled. Refreshes the session's idle clock."""
        if not token or len(token) > 200:
            return None
        now = self.clock()
        sid = session_id_of(token)
        with Session(self.store.engine) as session:
            row = console_store.session_by_id(session, sid)
            if row is None or row.revoked_at is not None:
                return None
            user = console_store.user_by_id(session, row.user_id)
            idle = now - _utc(row.last_seen_at) > timedelta(seconds=self.policy.idle_timeout_s)
            if user is None or user.disabled_at is not None or idle or now >= _utc(row.expires_at):
                return None
            identity = ConsoleIdentity(user.id, user.name, user.role, user.tenant_id, row.csrf_token, sid)
            stale = now - _utc(row.last_seen_at) >= TOUCH_EVERY
        if stale:
            with self.store.transaction() as session:
                session.query(ConsoleSession).filter(ConsoleSession.id == sid).update({"last_seen_at": now})
        return identity

    def sign_out(self, identity: ConsoleIdentity) -> None:
        now = self.clock()
        with self.store.transaction() as session:
            row = console_store.session_by_id(session, identity.session_id)
            if row is None or row.revoked_at is not None:
                return
            row.revoked_at = now
            audit.append(
                session,
                actor=identity.name,
                action="console.signed_out",
                subject=identity.user_id,
                payload={"tenant": identity.tenant},
            )


def _name_key(tenant: str, name: str) -> str:
    return f"name:{tenant}/{name}"[:200]


def _client_key(client: str) -> str:
    return f"client:{client or 'unknown'}"[:200]


def _client_summary(client: str, user_agent: str) -> str:
    agent = " ".join(user_agent.split())[:120]
    return f"{client} {agent}".strip()[:200]
