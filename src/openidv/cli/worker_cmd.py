"""``openidv worker`` (run async verifications and send their webhooks) and ``openidv webhooks``.

The worker builds the same services and ``Verifier`` as ``openidv serve`` (one per process, shared by its
threads), runs ``--concurrency`` job threads and one webhook dispatcher thread, and stops cleanly on
SIGTERM or SIGINT (a job in progress finishes first; one killed with SIGKILL is retried by another worker
once its lease runs out).
"""

from __future__ import annotations

import logging
import logging.config
import os
import signal
import threading
from datetime import timedelta
from typing import Annotated, Any

import typer

from openidv.cli.common import fail, friendly_errors, print_json
from openidv.cli.main_cmds import open_store
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

log = logging.getLogger(__name__)
webhooks_app = typer.Typer(
    help="Register, list and remove a tenant's webhook endpoints (signed events of async verifications).",
    no_args_is_help=True,
)
#: fault injection for tests and drills: seconds a worker sleeps after claiming each job
PAUSE_ENV = "OPENIDV_WORKER_PAUSE_AFTER_CLAIM_S"


@friendly_errors
def worker_command(
    concurrency: Annotated[int, typer.Option(help="Job threads in this process.", min=1, max=64)] = 1,
    lease_s: Annotated[
        float,
        typer.Option(help="Seconds a claimed job stays hidden; a dead worker's job is retried after it."),
    ] = 60.0,
    poll_s: Annotated[float, typer.Option(help="Seconds between looks at an empty queue.")] = 1.0,
    retry_s: Annotated[float, typer.Option(help="Delay before retrying a job that raised.")] = 5.0,
    burst: Annotated[
        bool, typer.Option("--burst", help="Run until the queue and due webhooks are empty, then exit.")
    ] = False,
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on 127.0.0.1:PORT (0: off).", min=0, max=65535)
    ] = 0,
    webhook_max_attempts: Annotated[int, typer.Option(help="Attempts before an event is dead.")] = 10,
    webhook_backoff_s: Annotated[float, typer.Option(help="Base of the exponential retry delay.")] = 30.0,
    webhook_backoff_cap_s: Annotated[float, typer.Option(help="Longest retry delay.")] = 3600.0,
    webhook_timeout_s: Annotated[float, typer.Option(help="Timeout of one delivery.")] = 10.0,
    webhook_lease_s: Annotated[
        float,
        typer.Option(
            help="How long claimed deliveries are hidden from other dispatchers; a dispatcher that dies "
            "mid-batch delays the rest by this much. Keep it above --webhook-timeout-s."
        ),
    ] = 60.0,
) -> None:
    """Run async verifications from the queue and deliver their webhooks."""
    from openidv.api.logs import log_config
    from openidv.api.observability import Metrics
    from openidv.services.async_jobs import AsyncWorker, WorkerOptions
    from openidv.services.webhook_dispatch import DispatchOptions, WebhookDispatcher

    settings = Settings.from_env()
    logging.config.dictConfig(log_config(settings.log_format, settings.log_level))
    for name, value in (
        ("--lease-s", lease_s),
        ("--poll-s", poll_s),
        ("--webhook-timeout-s", webhook_timeout_s),
        ("--webhook-lease-s", webhook_lease_s),
    ):
        if not value > 0:
            fail(f"{name} must be above 0")
    if webhook_max_attempts < 1 or webhook_backoff_s < 0 or webhook_backoff_cap_s < 0 or retry_s < 0:
        fail("--webhook-max-attempts must be 1 or more; delays must be 0 or more")
    pause = _pause_after_claim()
    store = open_store()
    verifier, queue, webhooks = _build(settings, store)
    metrics = Metrics()
    from openidv.store.job_queue import queue_depth

    metrics.watch_queue(lambda: queue_depth(store))
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    options = WorkerOptions(lease_s=lease_s, retry_s=retry_s, poll_s=poll_s, pause_after_claim_s=pause)
    workers = [
        AsyncWorker(
            verifier,
            queue,
            webhooks,
            options,
            on_job=lambda r: metrics.jobs.labels(r).inc(),
            on_verification=metrics.observe_verification,
        )
        for _ in range(concurrency)
    ]
    dispatcher = WebhookDispatcher(
        webhooks,
        DispatchOptions(
            max_attempts=webhook_max_attempts,
            backoff_base_s=webhook_backoff_s,
            backoff_cap_s=webhook_backoff_cap_s,
            timeout_s=webhook_timeout_s,
            lease_s=webhook_lease_s,
            poll_s=poll_s,
            allow_private=settings.webhook_allow_private,
        ),
        on_delivery=lambda r: metrics.webhook_deliveries.labels(r).inc(),
    )
    try:
        if burst:
            ran = _burst(workers, dispatcher)
            typer.echo(f"ran {ran} job(s); queue: {queue.depth()}; webhooks: {webhooks.counts()}")
        else:
            _serve(workers, dispatcher)
    finally:
        dispatcher.close()
        store.engine.dispose()


def _pause_after_claim() -> float:
    text = os.environ.get(PAUSE_ENV, "").strip()
    if not text:
        return 0.0
    try:
        return max(0.0, float(text))
    except ValueError:
        fail(f"{PAUSE_ENV} must be a number of seconds, not {text!r}")


def _build(settings: Settings, store: Store) -> tuple[Any, Any, Any]:
    """The verifier, queue and webhook store of this deployment, built once like ``create_app`` does."""
    from openidv.crypto import load_cipher
    from openidv.decision.policy import load_policy
    from openidv.services import Services, Verifier
    from openidv.store.job_queue import JobQueue
    from openidv.store.webhook_store import WebhookStore

    policy = load_policy(settings.policy_path)
    cipher = load_cipher(settings)
    verifier = Verifier(
        policy,
        Services.open(settings, store, policy),
        store,
        review_sla=timedelta(hours=settings.review_sla_hours),
        hold_rejected=timedelta(days=settings.review_hold_rejected_days),
    )
    return (
        verifier,
        JobQueue(store, cipher),
        WebhookStore(store, cipher, allow_private=settings.webhook_allow_private),
    )


def _burst(workers: list[Any], dispatcher: Any) -> int:
    threads_ran: list[int] = []

    def drain(worker: Any) -> None:
        threads_ran.append(worker.drain())

    threads = [
        threading.Thread(target=drain, args=(w,), name=f"openidv-job-{i}") for i, w in enumerate(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while dispatcher.run_once():
        pass
    return sum(threads_ran)


def _serve(workers: list[Any], dispatcher: Any) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: finishing jobs in progress, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [
        threading.Thread(target=w.run_forever, args=(stop,), name=f"openidv-job-{i}")
        for i, w in enumerate(workers)
    ]
    threads.append(threading.Thread(target=dispatcher.run_forever, args=(stop,), name="openidv-webhooks"))
    for t in threads:
        t.start()
    log.info("worker started: %d job thread(s) and a webhook dispatcher", len(workers))
    while not stop.wait(0.5):
        pass
    for t in threads:
        t.join()


def _webhook_store() -> Any:
    from openidv.crypto import load_cipher
    from openidv.store.webhook_store import WebhookStore

    settings = Settings.from_env()
    return WebhookStore(open_store(), load_cipher(settings), allow_private=settings.webhook_allow_private)


Tenant = Annotated[str, typer.Option("--tenant", help="The tenant that owns the endpoint.")]


@webhooks_app.command("add")
@friendly_errors
def webhooks_add(
    url: Annotated[str, typer.Argument(help="An http(s) URL that receives events.")],
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Register an endpoint; prints its signing secret once (it cannot be shown again)."""
    validate_tenant(tenant)
    info, secret = _webhook_store().add_endpoint(tenant, url, actor="cli")
    typer.echo(f"added webhook {info.id} for tenant {tenant}: {info.url}")
    typer.echo(f"signing secret (shown once, keep it with the receiver): {secret}")


@webhooks_app.command("list")
@friendly_errors
def webhooks_list(
    tenant: Tenant = DEFAULT_TENANT, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the tenant's endpoints (never their secrets)."""
    validate_tenant(tenant)
    endpoints = [e.to_api() for e in _webhook_store().list_endpoints(tenant)]
    if as_json:
        print_json(endpoints)
        return
    for e in endpoints:
        typer.echo(f"{e['id']}  {e['url']}  {e['created_at']}")


@webhooks_app.command("remove")
@friendly_errors
def webhooks_remove(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id (from `openidv webhooks list`).")],
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Remove an endpoint and its undelivered events."""
    validate_tenant(tenant)
    _webhook_store().remove_endpoint(tenant, endpoint_id, actor="cli")
    typer.echo(f"removed webhook {endpoint_id}")


@webhooks_app.command("events")
@friendly_errors
def webhooks_events(tenant: Tenant = DEFAULT_TENANT) -> None:
    """The tenant's webhook events and their delivery state (pending, delivered, dead), newest first."""
    validate_tenant(tenant)
    print_json(_webhook_store().events(tenant))


@webhooks_app.command("redeliver")
@friendly_errors
def webhooks_redeliver(
    event_id: Annotated[str, typer.Argument(help="A dead event's id (from `openidv webhooks events`).")],
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Send a dead event again (after its receiver is fixed); a running worker delivers it."""
    validate_tenant(tenant)
    n = _webhook_store().redeliver(tenant, event_id)
    typer.echo(f"queued {n} delivery(ies) of event {event_id} again")
