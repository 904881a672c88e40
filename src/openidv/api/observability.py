"""Prometheus metrics (one registry per app) and the access log, as plain ASGI middleware.

Under ``openidv serve --workers N`` each worker is its own process with its own counters, and a scrape
reaches one of them. The serve command therefore sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory per
master) before the workers start: every worker then writes its counts to memory-mapped files there, and
``/metrics``, whichever worker answers, sums all of them (``prometheus_client``'s multiprocess mode).
Database-backed gauges (queue depth) are read at scrape time by the answering worker, as before.

Labels are bounded: the route *template* (``/v1/verifications/{verification_id}``, never the raw path, so no
id reaches a label; an unmatched path is ``unmatched``), the method (``OTHER`` beyond the standard ones),
the status, a check's name and status, a decision's outcome and reason code. Nothing about an applicant
is ever a label.

Metrics (``GET /metrics``, Prometheus text format):

- ``openidv_http_requests_total{route,method,status}``
- ``openidv_http_request_duration_seconds{route,method}`` (histogram)
- ``openidv_check_duration_seconds{check}`` (histogram) and ``openidv_check_results_total{check,status}``
- ``openidv_decisions_total{outcome}`` and ``openidv_decision_reasons_total{reason_code}``
- ``openidv_jobs_enqueued_total`` (async verifications queued), ``openidv_jobs_total{result}`` (jobs finished
  by a worker: completed, failed, retried, lease_lost), ``openidv_queue_depth{status}`` (jobs by status, read
  from the database at scrape time), ``openidv_webhook_deliveries_total{result}`` (delivered, retry, dead;
  on the worker's own port), ``openidv_webhook_events{status}`` (pending, delivered, dead: the outbox, read
  from the database at scrape time, so the API shows webhook failures too)
- ``openidv_rate_limited_total`` (429s) and ``openidv_rate_limit_errors_total`` (Redis unreachable while
  counting: the request is let through)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from openidv.errors import REQUEST_ID
from openidv.verification import VerificationRecord

Scope = dict[str, Any]
Message = dict[str, Any]
access_log = logging.getLogger("openidv.access")
#: set by ``openidv serve --workers N`` (or by the operator) before any worker imports prometheus_client
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)

_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CHECK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's metrics, in a registry of its own (two apps in one process never share counts)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: collectors read at scrape time by the answering process (not summed across workers)
        self._live: list[Any] = []
        r = self.registry
        self.requests = Counter(
            "openidv_http_requests", "HTTP requests served", ("route", "method", "status"), registry=r
        )
        self.request_seconds = Histogram(
            "openidv_http_request_duration_seconds",
            "HTTP request latency by route template",
            ("route", "method"),
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.check_seconds = Histogram(
            "openidv_check_duration_seconds",
            "Latency of each check in a verification",
            ("check",),
            buckets=_CHECK_BUCKETS,
            registry=r,
        )
        self.check_results = Counter(
            "openidv_check_results", "Check results by check and status", ("check", "status"), registry=r
        )
        self.decisions = Counter("openidv_decisions", "Decisions by outcome", ("outcome",), registry=r)
        self.decision_reasons = Counter(
            "openidv_decision_reasons", "Reason codes of decisions", ("reason_code",), registry=r
        )
        self.rate_limited = Counter("openidv_rate_limited", "Requests refused with 429", registry=r)
        self.rate_limit_errors = Counter(
            "openidv_rate_limit_errors",
            "Rate-limit lookups that failed (Redis unreachable); the request was let through",
            registry=r,
        )
        self.jobs_enqueued = Counter("openidv_jobs_enqueued", "Async verifications queued", registry=r)
        self.jobs = Counter(
            "openidv_jobs", "Async jobs finished by a worker, by result", ("result",), registry=r
        )
        self.webhook_deliveries = Counter(
            "openidv_webhook_deliveries",
            "Webhook delivery attempts by result (delivered, retry, dead)",
            ("result",),
            registry=r,
        )

    def watch_queue(self, depth: Callable[[], dict[str, int]]) -> None:
        """Report ``depth()`` (jobs by status) as ``openidv_queue_depth`` whenever metrics are scraped."""
        self._watch(_ReadAtScrape("openidv_queue_depth", "Async jobs by status", depth))

    def watch_outbox(self, counts: Callable[[], dict[str, int]]) -> None:
        """Report ``counts()`` (webhook events by status) as ``openidv_webhook_events``: ``dead`` are
        events that exhausted their retries, ``pending`` those still to send (failures being retried)."""
        self._watch(_ReadAtScrape("openidv_webhook_events", "Webhook events by delivery status", counts))

    def _watch(self, collector: _ReadAtScrape) -> None:
        self.registry.register(collector)
        self._live.append(collector)

    def observe_verification(self, record: VerificationRecord) -> None:
        """Count a new (not replayed) verification: its checks, its outcome, its reason codes."""
        for check in record.checks:
            self.check_seconds.labels(check.check).observe(check.latency_ms / 1000)
            self.check_results.labels(check.check, check.status.value).inc()
        self.decisions.labels(record.decision.outcome.value).inc()
        for code in record.decision.reason_codes:
            self.decision_reasons.labels(code).inc()

    def render(self) -> bytes:
        """This app's metrics; in multiprocess mode, every worker's counts summed, plus the live gauges."""
        directory = os.environ.get(MULTIPROC_ENV)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        for collector in self._live:
            registry.register(collector)
        return generate_latest(registry)


class _ReadAtScrape:
    """A gauge by status that asks the database at scrape time (nothing cached)."""

    def __init__(self, name: str, help_text: str, read: Callable[[], dict[str, int]]) -> None:
        self.name = name
        self.help_text = help_text
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.help_text, labels=["status"])
        try:
            counts = self.read()
        except Exception:  # the database is down: report nothing rather than fail the scrape
            log.warning("%s unavailable", self.name, exc_info=True)
            counts = {}
        for status, n in sorted(counts.items()):
            family.add_metric([status], n)
        yield family

    def describe(self) -> list[GaugeMetricFamily]:
        return []


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(scope: Scope) -> str:
    """The request's method, or ``OTHER``: a client may send any token as a method, and each distinct label
    value is a new time series."""
    method = str(scope.get("method", "")).upper()
    return method if method in _METHODS else "OTHER"


def route_template(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return str(path) if path else "unmatched"


class ObservabilityMiddleware:
    """Times every request, counts it by route template, and writes one access line (with the request id,
    which ``RequestGuard``, outside this middleware, has set)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = method_label(scope)
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.request_seconds.labels(route, method).observe(elapsed)
            access_log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "request_id": REQUEST_ID.get(),
                    "method": method,
                    "route": route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                },
            )
