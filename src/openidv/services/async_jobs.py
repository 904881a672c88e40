"""The async worker: claim a job, run the same ``Verifier`` as the API, store the verification, mark the job
done and queue its webhook events, all in one transaction.

A job that raises (a bug, the database gone) is put back with a delay and retried; after its last attempt
it is failed, with a ``verification.failed`` event. A worker that dies mid-job is covered by the job's
lease (``openidv.store.job_queue``). Nothing here knows threads or processes: ``openidv worker`` runs
``run_forever`` in as many threads as asked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from openidv.services.verifier import Verifier
from openidv.store.job_evidence import unpack_evidence
from openidv.store.job_queue import ClaimedJob, JobQueue, LeaseLost, worker_name
from openidv.store.queue_tables import COMPLETED, FAILED
from openidv.store.webhook_store import WebhookStore
from openidv.verification import VerificationRecord

log = logging.getLogger(__name__)

COMPLETED_EVENT = "verification.completed"
FAILED_EVENT = "verification.failed"


@dataclass
class WorkerOptions:
    lease_s: float = 60.0
    #: delay before retrying a job that raised
    retry_s: float = 5.0
    poll_s: float = 1.0
    #: fault-injection for tests and drills: sleep this long after claiming a job, before running it
    pause_after_claim_s: float = 0.0


@dataclass
class AsyncWorker:
    verifier: Verifier
    queue: JobQueue
    webhooks: WebhookStore
    options: WorkerOptions = field(default_factory=WorkerOptions)
    #: called with each finished job's result: ``completed``, ``failed``, ``retried`` or ``lease_lost``
    on_job: Callable[[str], None] | None = None
    #: called with each verification the worker stored (for metrics: checks, outcomes, reason codes)
    on_verification: Callable[[VerificationRecord], None] | None = None
    name: str = field(default_factory=worker_name)

    def run_once(self) -> bool:
        """Claim and run one job; False when no job was available."""
        job = self.queue.claim(self.name, self.options.lease_s, on_failed=self._failed_event)
        if job is None:
            return False
        log.info("claimed job %s (attempt %d)", job.id, job.attempt)
        if self.options.pause_after_claim_s > 0:
            time.sleep(self.options.pause_after_claim_s)
        self._count(self.run_job(job))
        return True

    def drain(self) -> int:
        """Run jobs until none is available; returns how many ran."""
        n = 0
        while self.run_once():
            n += 1
        return n

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.run_once():
                    stop.wait(self.options.poll_s)
            except Exception:  # the database went away: wait and try again, never die
                log.exception("worker %s: claiming a job failed", self.name)
                stop.wait(self.options.poll_s)

    def run_job(self, job: ClaimedJob) -> str:
        """Run a claimed job to its end; returns completed, failed, retried or lease_lost. While it runs, a
        heartbeat renews the lease every third of it, so a slow verification is not taken over; a worker
        that dies stops renewing, and its lease runs out."""
        done = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(job, done), name=f"lease-{job.id[:8]}")
        heartbeat.daemon = True
        heartbeat.start()
        try:
            return self._run(job)
        finally:
            done.set()
            heartbeat.join()

    def _heartbeat(self, job: ClaimedJob, done: threading.Event) -> None:
        while not done.wait(self.options.lease_s / 3):
            try:
                if not self.queue.renew(job, self.options.lease_s):
                    return  # taken over: the conditional complete will refuse our result
            except Exception:  # the database is briefly away: try again at the next beat
                log.warning("job %s: renewing the lease failed", job.id, exc_info=True)

    def _run(self, job: ClaimedJob) -> str:
        try:
            evidence = unpack_evidence(job.evidence)
            record = self.verifier.verify(
                evidence,
                request_hash=job.request_hash,
                api_key_id=job.api_key_id,
                # the key that asked, as for a synchronous verification; the worker only runs it
                actor=f"api_key:{job.api_key_id}" if job.api_key_id else f"worker:{self.name}",
                record_id=job.id,
                then=lambda session, record: self._completed(session, job, record),
            )
            if self.on_verification is not None:
                self.on_verification(record)
            return COMPLETED
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; its result was not stored", job.id)
            return "lease_lost"
        except Exception as exc:
            reason = f"{type(exc).__name__} while verifying"
            log.exception("job %s attempt %d failed", job.id, job.attempt)
            return self._after_error(job, reason)

    def _after_error(self, job: ClaimedJob, reason: str) -> str:
        if job.attempt < job.max_attempts:
            return "retried" if self.queue.retry_later(job, reason, self.options.retry_s) else "lease_lost"
        try:
            with self.queue.store.transaction() as session:
                self.queue.give_up(session, job, reason)
                self._failed_event(session, job.id, job.tenant_id, reason)
        except LeaseLost:
            return "lease_lost"
        return FAILED

    def _completed(self, session: Session, job: ClaimedJob, record: VerificationRecord) -> None:
        self.queue.complete(session, job)
        self.webhooks.enqueue(
            session,
            job.tenant_id,
            COMPLETED_EVENT,
            {
                "id": record.id,
                "status": COMPLETED,
                "decision": record.decision.outcome.value,
                "reason_codes": list(record.decision.reason_codes),
            },
        )

    def _failed_event(self, session: Session, job_id: str, tenant_id: str, reason: str) -> None:
        self.webhooks.enqueue(
            session,
            tenant_id,
            FAILED_EVENT,
            {"id": job_id, "status": FAILED, "decision": None, "reason_codes": [], "error": reason},
        )

    def _count(self, result: str) -> None:
        if self.on_job is not None:
            self.on_job(result)
