"""``GET /readyz``: is this instance ready to verify? The database answers ``SELECT 1``, Redis (when
configured) answers ``PING``, and every registered model file is present with its pinned sha256 (the policy's
checks were built with them when the app started). 200 with one entry per component; otherwise a 503
problem+json naming the failing components. A component's error is given by its type only (a driver's
message may quote a URL with its password); the full error goes to the server log. The components are asked
concurrently, and one that does not answer within ``TIMEOUT_S`` (a database or Redis behind a dropped
route) is reported as ``Timeout`` instead of holding the probe."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from openidv import models
from openidv.store.repository import Store

log = logging.getLogger(__name__)

Component = dict[str, Any]
#: seconds all components together may take before the slow ones are reported as ``Timeout``
TIMEOUT_S = 5.0


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
        return {
            "status": "disabled",
            "detail": "OPENIDV_REDIS_URL is not set: rate limits are off, and device velocity and reputation "
            "are counted in this process's memory only (per instance, lost on restart)",
        }
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


def readiness(store: Store, redis_client: Any, timeout_s: float | None = None) -> dict[str, Component]:
    timeout = TIMEOUT_S if timeout_s is None else timeout_s
    checks: dict[str, Callable[[], Component]] = {
        "database": lambda: check_database(store),
        "redis": lambda: check_redis(redis_client),
        "models": check_models,
    }
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="openidv-readyz")
    try:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        deadline = time.monotonic() + timeout
        components: dict[str, Component] = {}
        for name, future in futures.items():
            try:
                components[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                log.warning("readiness: %s did not answer within %g s", name, timeout)
                components[name] = {
                    "status": "error",
                    "error": "Timeout",
                    "detail": f"no answer in {timeout:g} s",
                }
        return components
    finally:
        pool.shutdown(wait=False)  # a hung check ends on its own (driver timeouts); the probe does not wait
