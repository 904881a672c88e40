"""Telemetry sessions of the browser collector: the token flow, the limits, and the way into a verification.

Why a per-session token: a browser cannot hold the server's API key. The server (with its API key, scope
``verifications:write``) creates a session; the answer carries a random token (256 bits, stored only as its
SHA-256) that the collector sends as ``Authorization: Bearer`` with each batch. The token can do exactly
one thing, append telemetry to that one session until it expires; it reads nothing back.

Rules of a batch (each refusal stores nothing): the session exists (404), the token is its own (401), it has
not expired (410) and no verification has used it yet (409); the body is the ``openidv.telemetry/1`` schema
(422 naming the field: unknown schema, negative, non-finite or unordered ``t``, non-finite coordinates), at
most ``MAX_EVENTS_PER_BATCH`` events; its first event is not earlier than the last stored one (422) and the
session holds at most ``MAX_EVENTS`` events in all (413). Device attributes: the last post that carries them
wins (``device_changes`` counts how often they changed). A verification that names the session reads the
whole telemetry, closes the session to further batches and links it to the verification's subject.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from openidv.errors import Conflict, InvalidInput, NotFound, OpenIDVError
from openidv.settings import Settings
from openidv.store import telemetry_store
from openidv.store.repository import Store
from openidv.store.telemetry_store import Batch
from openidv.store.telemetry_tables import TelemetrySession
from openidv.telemetry import MAX_EVENTS, MAX_EVENTS_PER_BATCH, Event, Telemetry
from openidv.tenancy import DEFAULT_TENANT

TOKEN_PREFIX = "oidvt_"
_EVENTS: TypeAdapter[tuple[Event, ...]] = TypeAdapter(tuple[Event, ...])


class TokenRefused(OpenIDVError):
    """The telemetry token is missing or is not this session's (HTTP 401)."""


class SessionExpired(OpenIDVError):
    """The session no longer accepts telemetry (HTTP 410)."""


class TooManyEvents(OpenIDVError):
    """The batch would take the session over its event limit (HTTP 413)."""


@dataclass(frozen=True)
class TelemetryConfig:
    session_ttl_s: int = 3600
    max_events: int = MAX_EVENTS
    max_events_per_batch: int = MAX_EVENTS_PER_BATCH


@dataclass(frozen=True)
class NewTelemetrySession:
    id: str
    token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Accepted:
    """What one accepted batch changed (the answer of ``POST /v1/sessions/{id}/telemetry``)."""

    session_id: str
    accepted_events: int
    total_events: int
    batches: int
    last_t: float | None
    device_stored: bool

    def to_api(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "accepted_events": self.accepted_events,
            "total_events": self.total_events,
            "batches": self.batches,
            "last_t": self.last_t,
            "device_stored": self.device_stored,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def status_of(row: TelemetrySession, now: datetime) -> str:
    """``open`` (accepting telemetry), ``used`` (a verification read it) or ``expired``."""
    if row.status == "used":
        return "used"
    return "expired" if now >= row.expires_at else "open"


class TelemetrySessions:
    """Telemetry sessions in one store (its database and key ring)."""

    def __init__(
        self,
        store: Store,
        config: TelemetryConfig | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.config = config or TelemetryConfig()
        self.clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> TelemetrySessions:
        return cls(store, TelemetryConfig(session_ttl_s=settings.telemetry_session_ttl_s))

    # ------------------------------------------------------------------ server side (API key)

    def create(self, *, tenant: str = DEFAULT_TENANT, api_key_id: str | None = None) -> NewTelemetrySession:
        now = self.clock()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = TelemetrySession(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            api_key_id=api_key_id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.session_ttl_s),
            status="open",
            n_events=0,
            n_batches=0,
            device_changes=0,
            updated_at=now,
        )
        actor = f"api_key:{api_key_id}" if api_key_id else "system"
        telemetry_store.add_session(self.store, row, actor=actor)
        return NewTelemetrySession(row.id, token, now, row.expires_at)

    def get(self, session_id: str, *, tenant: str = DEFAULT_TENANT) -> TelemetrySession:
        """The tenant's session; another tenant's is ``NotFound``, like one that never existed."""
        row = telemetry_store.get_session(self.store, session_id)
        if row is None or row.tenant_id != tenant:
            raise NotFound(f"telemetry session {session_id!r} does not exist")
        return row

    def status(self, session_id: str, *, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
        """Status and counts; never the events (the device attributes are summarised, not shown)."""
        row = self.get(session_id, tenant=tenant)
        return {
            "session_id": row.id,
            "status": status_of(row, self.clock()),
            "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
            "used_at": row.used_at.isoformat() if row.used_at else None,
            "source": row.source,
            "events": row.n_events,
            "batches": row.n_batches,
            "last_t": row.last_t,
            "device_stored": row.device_sealed is not None,
            "device_changes": row.device_changes,
            "viewport_width": row.viewport_width,
            "viewport_height": row.viewport_height,
        }

    def telemetry(
        self, session_id: str, *, tenant: str = DEFAULT_TENANT, subject_id: str | None = None
    ) -> Telemetry:
        """The session's telemetry for a verification; closes the session to further batches and links it
        to ``subject_id``. Unknown (or another tenant's) session: ``InvalidInput`` naming ``session_id``."""
        try:
            row = self.get(session_id, tenant=tenant)
        except NotFound:
            raise InvalidInput(
                f"session_id: telemetry session {session_id!r} does not exist in this tenant"
            ) from None
        device, batches = telemetry_store.read_session(self.store, row)
        head = {
            "source": row.source or "collector",
            "device": device,
            "viewport_width": row.viewport_width,
            "viewport_height": row.viewport_height,
        }
        # one JSON document from the stored arrays: pydantic's JSON parser is much faster than json.loads
        # followed by validating 200,000 dicts
        inner = b",".join(b[1:-1] for b in batches if len(b) > 2)
        document = json.dumps(head).encode()[:-1] + b',"events":[' + inner + b"]}"
        with paused_gc(len(batches)):
            telemetry = Telemetry.model_validate_json(document)
        telemetry_store.mark_used(self.store, row.id, now=self.clock(), subject_id=subject_id)
        return telemetry

    # ------------------------------------------------------------------ browser side (session token)

    def authorize(self, session_id: str, token: str | None) -> TelemetrySession:
        """The session the token opens for appending; raises the refusal the API maps to a status."""
        row = telemetry_store.get_session(self.store, session_id)
        if row is None:
            raise NotFound(f"telemetry session {session_id!r} does not exist")
        if not token or not hmac.compare_digest(row.token_hash, hash_token(token)):
            raise TokenRefused("send this session's telemetry token as `Authorization: Bearer <token>`")
        self._open(row)
        return row

    def _open(self, row: TelemetrySession) -> None:
        state = status_of(row, self.clock())
        if state == "used":
            raise Conflict("a verification already used this telemetry session; it takes no more events")
        if state == "expired":
            raise SessionExpired(f"the telemetry session expired at {row.expires_at.isoformat()}")

    def append(self, session_id: str, token: str | None, telemetry: Telemetry) -> Accepted:
        """Store one validated batch atomically (see the module docstring for the rules)."""
        self.authorize(session_id, token)
        n = len(telemetry.events)
        if n > self.config.max_events_per_batch:
            raise TooManyEvents(
                f"events: {n} events in one post; send at most {self.config.max_events_per_batch} per post"
            )
        device = telemetry.device.model_dump(mode="json", exclude_none=True) if telemetry.device else None
        events = telemetry.events
        batch = Batch(
            events_json=_EVENTS.dump_json(events, exclude_none=True),  # pydantic-core: no dicts in between
            n_events=n,
            first_t=events[0].t if events else None,
            last_t=events[-1].t if events else None,
            device=device,
            device_sha256=None if device is None else _digest(device),
            source=telemetry.source,
            viewport_width=telemetry.viewport_width,
            viewport_height=telemetry.viewport_height,
        )

        def check(row: TelemetrySession) -> None:
            self._open(row)  # again, under the lock: a verification may have closed it meanwhile
            if row.source is not None and row.source != telemetry.source:
                raise InvalidInput(f"source: this session's telemetry comes from {row.source!r}")
            if n and row.last_t is not None and telemetry.events[0].t < row.last_t:
                raise InvalidInput(
                    f"events[0].t: {telemetry.events[0].t} is before the last stored event ({row.last_t}); "
                    "batches must continue the session's clock in time order"
                )
            if row.n_events + n > self.config.max_events:
                raise TooManyEvents(
                    f"events: the session holds {row.n_events} events; {n} more would pass the limit of "
                    f"{self.config.max_events} per session"
                )

        row = telemetry_store.append_batch(self.store, session_id, batch, now=self.clock(), check=check)
        return Accepted(row.id, n, row.n_events, row.n_batches, row.last_t, row.device_sealed is not None)

    # ------------------------------------------------------------------ privacy

    def export_subject(self, subject_id: str, *, tenant: str = DEFAULT_TENANT) -> list[dict[str, Any]]:
        rows = telemetry_store.subject_sessions(self.store, tenant, subject_id)
        return [telemetry_store.export_session(self.store, row) for row in rows]

    def erase_subject(self, subject_id: str, *, tenant: str = DEFAULT_TENANT, actor: str = "system") -> int:
        ids = [r.id for r in telemetry_store.subject_sessions(self.store, tenant, subject_id)]
        return telemetry_store.erase_sessions(self.store, ids, reason="subject_erasure", actor=actor)

    def purge(self, before: datetime, *, dry_run: bool = False) -> int:
        ids = telemetry_store.expired_sessions(self.store, before)
        if dry_run:
            return len(ids)
        return telemetry_store.erase_sessions(self.store, ids, reason="retention", actor="purge")


@contextmanager
def paused_gc(weight: int) -> Iterator[None]:
    """Pause the cyclic garbage collector while pydantic builds many small objects (a session's events):
    none of them is garbage yet, and the collector's passes over them almost double the time of parsing
    200,000 events. Process-wide, so only for real work (``weight``: batches) and only briefly."""
    if weight < 2 or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
