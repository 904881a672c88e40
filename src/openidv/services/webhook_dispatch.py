"""Sends the webhook outbox: each due event is POSTed, signed, to its endpoint; failures are retried with
exponential backoff and full jitter until ``max_attempts``, then the event is dead.

Delivery is at-least-once: a receiver may see an event twice (a timeout after it answered, a dispatcher
killed between send and bookkeeping), so receivers deduplicate on ``Openidv-Event-Id``. Redirects are not
followed, and only a 2xx answer counts as delivered.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from openidv.store.webhook_store import Delivery, WebhookStore
from openidv.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, backoff_s, resolved_host_refused, sign

log = logging.getLogger(__name__)


@dataclass
class DispatchOptions:
    max_attempts: int = 10
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    timeout_s: float = 10.0
    #: deliver to loopback and private addresses too (``OPENIDV_WEBHOOK_ALLOW_PRIVATE``); off by default
    allow_private: bool = False
    #: how long a claimed delivery is hidden from other dispatchers while it is being sent
    lease_s: float = 60.0
    batch: int = 10
    poll_s: float = 1.0


@dataclass
class WebhookDispatcher:
    webhooks: WebhookStore
    options: DispatchOptions = field(default_factory=DispatchOptions)
    #: called per attempt with ``delivered``, ``retry`` or ``dead``
    on_delivery: Callable[[str], None] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=self.options.timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def run_once(self) -> int:
        """Send every due delivery (one batch); returns how many were attempted."""
        deliveries = self.webhooks.claim_due(self.options.lease_s, self.options.batch)
        for delivery in deliveries:
            self._count(self.send(delivery))
        return len(deliveries)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.run_once():
                    stop.wait(self.options.poll_s)
            except Exception:
                log.exception("webhook dispatch failed; retrying")
                stop.wait(self.options.poll_s)

    def send(self, delivery: Delivery) -> str:
        error = None if self.options.allow_private else _refused(delivery.url)
        if error is None:
            error = _post(self._client, delivery)
        if error is None:
            self.webhooks.mark_delivered(delivery)
            return "delivered"
        if delivery.attempt >= self.options.max_attempts:
            log.warning(
                "webhook event %s dead after %d attempts: %s", delivery.event_id, delivery.attempt, error
            )
            self.webhooks.mark_failed(delivery, error, None)
            return "dead"
        delay = backoff_s(delivery.attempt, self.options.backoff_base_s, self.options.backoff_cap_s, self.rng)
        self.webhooks.mark_failed(delivery, error, delay)
        return "retry"

    def _count(self, result: str) -> None:
        if self.on_delivery is not None:
            self.on_delivery(result)


def _refused(url: str) -> str | None:
    """Why ``url``'s host may not be posted to now (it resolves into a private network), or None.

    Checked at every attempt, because a name registered as public can later be pointed elsewhere; the
    client connects by name right after, so a name switched between the two lookups is not caught
    (docs/async.md, "Destinations")."""
    parts = urlsplit(url)
    reason = resolved_host_refused(
        parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    )
    return f"destination refused: {reason}" if reason else None


def _post(client: httpx.Client, delivery: Delivery) -> str | None:
    """POST the event; None when the receiver answered 2xx, else why not (no response body is kept)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "openidv-webhooks",
        SIGNATURE_HEADER: sign(delivery.secret, delivery.body),
        EVENT_ID_HEADER: delivery.event_id,
    }
    try:
        response = client.post(delivery.url, content=delivery.body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
