"""Webhook endpoints of each tenant and the transactional outbox of events to deliver to them.

``enqueue`` writes one outbox row per endpoint of the tenant inside the caller's transaction (the one that
stores the verification), so an event exists exactly when its verification does: a crash between commit
and send loses nothing, the dispatcher finds the row and sends it. Claiming due rows is a lease like the
job queue's (``SKIP LOCKED`` on PostgreSQL), so several dispatchers never send one row at the same time.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from openidv.crypto import BiometricCipher
from openidv.errors import InvalidInput, NotFound
from openidv.store import audit
from openidv.store.queue_tables import DEAD, DELIVERED, PENDING, OutboxEvent, WebhookEndpoint
from openidv.store.repository import Store
from openidv.webhooks import ALLOW_PRIVATE_ENV, literal_host_refused, new_secret

MAX_URL = 2048
MAX_ENDPOINTS_PER_TENANT = 20


@dataclass(frozen=True)
class EndpointInfo:
    id: str
    tenant_id: str
    url: str
    created_at: datetime

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class Delivery:
    """One claimed outbox row, with what is needed to send it."""

    id: str
    event_id: str
    type: str
    url: str
    secret: str = field(repr=False)  # never in a repr or a log line
    body: bytes
    attempt: int


def validate_url(url: str, *, allow_private: bool = False) -> str:
    """An absolute http(s) URL with a host, no credentials, no spaces or control characters, and (unless
    ``allow_private``) not an address of this machine or a private network
    (``webhooks.literal_host_refused``)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidInput(f"url: give an http(s) URL of at most {MAX_URL} characters")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        raise InvalidInput("url: must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise InvalidInput(f"url: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url: must be an absolute http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidInput("url: must not contain credentials; the signature authenticates openidv")
    refused = None if allow_private else literal_host_refused(parts.hostname)
    if refused:
        raise InvalidInput(
            f"url: {refused}; webhooks go to public addresses only ({ALLOW_PRIVATE_ENV}=1 allows others)"
        )
    return url


def _aad(endpoint_id: str) -> bytes:
    return f"openidv-webhook-secret:{endpoint_id}".encode()


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookStore:
    def __init__(self, store: Store, cipher: BiometricCipher, *, allow_private: bool = False) -> None:
        """``allow_private`` lets endpoints point at loopback or private addresses
        (``OPENIDV_WEBHOOK_ALLOW_PRIVATE``)."""
        self.store = store
        self.cipher = cipher
        self.allow_private = allow_private

    # ------------------------------------------------------------------ endpoints

    def add_endpoint(self, tenant_id: str, url: str, *, actor: str = "system") -> tuple[EndpointInfo, str]:
        """Register ``url`` for the tenant; returns it and its signing secret (shown once)."""
        validate_url(url, allow_private=self.allow_private)
        secret = new_secret()
        endpoint_id = str(uuid.uuid4())
        row = WebhookEndpoint(
            id=endpoint_id,
            tenant_id=tenant_id,
            url=url,
            secret=self.cipher.encrypt(secret.encode("utf-8"), _aad(endpoint_id)),
            created_at=_now(),
        )
        with self.store.transaction() as session:
            count = session.execute(
                select(func.count())
                .select_from(WebhookEndpoint)
                .where(WebhookEndpoint.tenant_id == tenant_id)
            ).scalar_one()
            if count >= MAX_ENDPOINTS_PER_TENANT:
                raise InvalidInput(f"a tenant has at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints")
            session.add(row)
            session.flush()
            audit.append(
                session,
                actor=actor,
                action="webhook.added",
                subject=endpoint_id,
                payload={"tenant": tenant_id, "url": url},
            )
        return _info(row), secret

    def list_endpoints(self, tenant_id: str) -> list[EndpointInfo]:
        with self.store.transaction() as session:
            rows = session.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.tenant_id == tenant_id)
                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            ).scalars()
            return [_info(r) for r in rows]

    def remove_endpoint(self, tenant_id: str, endpoint_id: str, *, actor: str = "system") -> None:
        """Delete the tenant's endpoint and its undelivered events; another tenant's id is ``NotFound``."""
        with self.store.transaction() as session:
            gone = session.execute(
                delete(WebhookEndpoint).where(
                    WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id
                )
            )
            if gone.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound(f"webhook endpoint {endpoint_id} not found")
            session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.endpoint_id == endpoint_id, OutboxEvent.status == PENDING
                )
            )
            audit.append(
                session,
                actor=actor,
                action="webhook.removed",
                subject=endpoint_id,
                payload={"tenant": tenant_id},
            )

    # ------------------------------------------------------------------ the outbox

    def enqueue(self, session: Session, tenant_id: str, event_type: str, data: dict[str, Any]) -> str | None:
        """Queue one event for every endpoint of the tenant in ``session``'s transaction; returns the event
        id (None when the tenant has no endpoint). ``data`` must hold no personal data."""
        endpoints = session.execute(
            select(WebhookEndpoint.id).where(WebhookEndpoint.tenant_id == tenant_id)
        ).scalars()
        ids = list(endpoints)
        if not ids:
            return None
        event_id = str(uuid.uuid4())
        now = _now()
        body = json.dumps(
            {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data},
            separators=(",", ":"),
            sort_keys=True,
        )
        for endpoint_id in ids:
            session.add(
                OutboxEvent(
                    id=str(uuid.uuid4()),
                    event_id=event_id,
                    endpoint_id=endpoint_id,
                    tenant_id=tenant_id,
                    type=event_type,
                    body=body,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return event_id

    def claim_due(self, lease_s: float, limit: int = 10) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries (counting the attempt now, so a dispatcher that dies
        mid-send still uses one up)."""
        with self.store.transaction() as session:
            now = _now()
            rows = session.execute(
                select(OutboxEvent, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == OutboxEvent.endpoint_id)
                .where(OutboxEvent.status == PENDING, OutboxEvent.next_attempt_at <= now)
                .order_by(OutboxEvent.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxEvent)
            ).all()
            deliveries = []
            for event, endpoint in rows:
                claimed = session.execute(
                    update(OutboxEvent)
                    .where(
                        OutboxEvent.id == event.id,
                        OutboxEvent.status == PENDING,
                        OutboxEvent.attempts == event.attempts,
                    )
                    .values(attempts=event.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                secret = self.cipher.decrypt(endpoint.secret, _aad(endpoint.id)).decode("utf-8")
                deliveries.append(
                    Delivery(
                        id=event.id,
                        event_id=event.event_id,
                        type=event.type,
                        url=endpoint.url,
                        secret=secret,
                        body=event.body.encode("utf-8"),
                        attempt=event.attempts + 1,
                    )
                )
            return deliveries

    def mark_delivered(self, delivery: Delivery) -> None:
        with self.store.transaction() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == delivery.id, OutboxEvent.attempts == delivery.attempt)
                .values(status=DELIVERED, delivered_at=_now(), last_error=None)
            )

    def mark_failed(self, delivery: Delivery, error: str, retry_in_s: float | None) -> None:
        """Schedule another attempt after ``retry_in_s``, or (None) give up: the event is dead."""
        values: dict[str, Any] = {"last_error": error[:500]}
        if retry_in_s is None:
            values["status"] = DEAD
        else:
            values["next_attempt_at"] = _now() + timedelta(seconds=retry_in_s)
        with self.store.transaction() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == delivery.id, OutboxEvent.attempts == delivery.attempt)
                .values(**values)
            )

    def redeliver(self, tenant_id: str, event_id: str) -> int:
        """Send the tenant's dead deliveries of ``event_id`` again, with a fresh attempt count (after the
        receiver is fixed); returns how many; none is ``NotFound``."""
        with self.store.transaction() as session:
            done = session.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.tenant_id == tenant_id,
                    OutboxEvent.event_id == event_id,
                    OutboxEvent.status == DEAD,
                )
                .values(status=PENDING, attempts=0, next_attempt_at=_now())
            )
            count = int(done.rowcount)  # type: ignore[attr-defined]
        if count == 0:
            raise NotFound(f"no dead delivery of event {event_id} for tenant {tenant_id}")
        return count

    def counts(self) -> dict[str, int]:
        """Outbox rows by status (pending, delivered, dead)."""
        return outbox_counts(self.store)

    def events(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's outbox rows (newest first), for operators and tests: no secrets, no bodies."""
        with self.store.transaction() as session:
            rows = session.execute(
                select(OutboxEvent)
                .where(OutboxEvent.tenant_id == tenant_id)
                .order_by(OutboxEvent.created_at.desc())
            ).scalars()
            return [
                {
                    "event_id": r.event_id,
                    "endpoint_id": r.endpoint_id,
                    "type": r.type,
                    "status": r.status,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                }
                for r in rows
            ]


def _info(row: WebhookEndpoint) -> EndpointInfo:
    return EndpointInfo(row.id, row.tenant_id, row.url, row.created_at)


def outbox_counts(store: Store) -> dict[str, int]:
    """Webhook events by status (pending, delivered, dead) over every tenant; needs no key, for metrics."""
    with store.transaction() as session:
        rows = session.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all()
    counts = {s: 0 for s in (PENDING, DELIVERED, DEAD)}
    counts.update({str(s): int(n) for s, n in rows})
    return counts


def purge_settled_events(store: Store, before: datetime, *, dry_run: bool = False) -> int:
    """Delivered and dead webhook events created before ``before``: counted, and deleted unless ``dry_run``
    (pending ones are kept whatever their age: they are still owed to a receiver)."""
    settled = (OutboxEvent.status.in_((DELIVERED, DEAD)), OutboxEvent.created_at < before)
    with store.transaction() as session:
        if dry_run:
            query = select(func.count()).select_from(OutboxEvent).where(*settled)
            return int(session.execute(query).scalar_one())
        return int(session.execute(delete(OutboxEvent).where(*settled)).rowcount or 0)  # type: ignore[attr-defined]
