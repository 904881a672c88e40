"""Rate limits per API key, counted in Redis (a fixed window that starts at a key's first request).

Each key may make ``limit`` requests per ``window_s`` seconds (``Settings.rate_limit`` and
``rate_limit_window_s``; ``rate_limit_overrides`` gives single keys their own limit, ``0`` meaning none).
The count and the window live in one Redis key per API key (``<prefix><key id>``), set with its expiry and
incremented in one MULTI, so every worker process shares the budget. Over the limit the request is refused
with a 429 problem+json and ``Retry-After`` (the seconds until the window ends).

Without ``OPENIDV_REDIS_URL`` there are no rate limits (``/readyz`` says so). When Redis cannot be reached
while counting, the request is let through (fail open: an outage of the limiter is not an outage of
verification), logged, and counted in ``openidv_rate_limit_errors_total``; ``/readyz`` reports Redis down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class RateLimitUnavailable(Exception):
    """Redis could not be asked."""


@dataclass(frozen=True)
class RateLimiter:
    client: Any  # redis.Redis
    limit: int
    window_s: int
    prefix: str = "openidv:ratelimit:"
    overrides: tuple[tuple[str, int], ...] = ()

    def limit_for(self, key_id: str) -> int:
        return dict(self.overrides).get(key_id, self.limit)

    def hit(self, key_id: str) -> int | None:
        """Count one request of ``key_id``; ``None`` when it is allowed, else the seconds to wait."""
        limit = self.limit_for(key_id)
        if limit <= 0:
            return None
        name = f"{self.prefix}{key_id}"
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=self.window_s, nx=True)
                pipe.incr(name)
                pipe.ttl(name)
                _, count, ttl = pipe.execute()
        except Exception as exc:
            raise RateLimitUnavailable(type(exc).__name__) from exc
        if int(count) <= limit:
            return None
        return max(1, int(ttl)) if int(ttl) > 0 else self.window_s


def enforce(request: Any, key_id: str) -> None:
    """Count the request against its key's budget (``app.state.rate_limiter``, ``None`` when off); over
    the budget, an ``HTTPException`` 429 with ``Retry-After``."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    metrics = getattr(request.app.state, "metrics", None)
    try:
        wait = limiter.hit(key_id)
    except RateLimitUnavailable as exc:
        log.warning("rate limit not counted: Redis unavailable (%s); request let through", exc)
        if metrics is not None:
            metrics.rate_limit_errors.inc()
        return
    if wait is None:
        return
    if metrics is not None:
        metrics.rate_limited.inc()
    raise HTTPException(
        429,
        f"this API key may make {limiter.limit_for(key_id)} requests per {limiter.window_s} s; "
        f"retry after {wait} s",
        {"Retry-After": str(wait)},
    )
