"""``GET /readyz``: is this instance ready to verify? The database answers ``SELECT 1``, Redis (when
configured) answers ``PING``, and every registered model file is present with its pinned sha256 (the policy's
checks were built with them when the app started). 200 with one entry per component; otherwise a 503
problem+json naming the failing components. A component's error is given by its type only (a driver's
message may quote a URL with its password); the full error goes to the server log."""

from __future__ import annotations

import logging
from typing import Any

from openidv import models
from openidv.store.repository import Store

log = logging.getLogger(__name__)

Component = dict[str, Any]


def _failed(component: str, exc: Exception) -> Component:
    log.warning("readiness: %s is not ready (%s)", component, type(exc).__name__, exc_info=exc)
    return {"status": "error", "error": type(exc).__name__}


def check_database(store: Store) -> Component:
    try:
        store.ping()
    except Exception as exc:
        return _failed("database", exc)
    return {"status": "ok"}


def check_redis(client: Any) -> Component:
    if client is None:
        return {"status": "disabled", "detail": "OPENIDV_REDIS_URL is not set: rate limits are off"}
    try:
        client.ping()
    except Exception as exc:
        return _failed("redis", exc)
    return {"status": "ok"}


def check_models() -> Component:
    ids = models.model_ids()
    bad: dict[str, str] = {}
    for model_id in ids:
        try:
            models.model_path(model_id)  # sha256 checked once per process, then cached
        except Exception as exc:
            log.warning("readiness: model %s is not usable: %s", model_id, exc)
            bad[model_id] = type(exc).__name__
    if bad:
        return {"status": "error", "failed": bad}
    return {"status": "ok", "models": ids}


def readiness(store: Store, redis_client: Any) -> dict[str, Component]:
    return {
        "database": check_database(store),
        "redis": check_redis(redis_client),
        "models": check_models(),
    }
