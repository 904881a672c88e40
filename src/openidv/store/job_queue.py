"""The job queue of async verifications, in the store's own database.

Claiming is a lease: a claimed job is ``running`` with ``available_at = now + lease``. On PostgreSQL the
candidate row is picked with ``SELECT ... FOR UPDATE SKIP LOCKED`` (workers never wait on each other's
rows); on SQLite writers are serialised by ``BEGIN IMMEDIATE`` (``openidv.store.db``). On both, the claim
itself is a conditional UPDATE (compare-and-set on status, worker and ``available_at``), so two workers
can never both own a job. A worker that dies (SIGKILL) stops renewing nothing: its lease runs out and the
job is claimed again; after ``max_attempts`` claims it is ``failed``.

Finishing a job is also conditional (``complete``/``give_up`` inside the caller's transaction): a worker
whose lease was taken over cannot store a second verification, its transaction rolls back.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from openidv.crypto import BiometricCipher
from openidv.errors import OpenIDVError
from openidv.store.queue_tables import COMPLETED, FAILED, QUEUED, RUNNING, Job
from openidv.store.repository import Store, same_request

DEFAULT_MAX_ATTEMPTS = 3

#: called inside the transaction that fails a job for good: (session, job id, tenant, reason)
OnFailed = Callable[[Session, str, str, str], None]


class LeaseLost(OpenIDVError):
    """The job is no longer this worker's (its lease ran out and another worker claimed it)."""


@dataclass(frozen=True)
class JobStatus:
    id: str
    tenant_id: str
    status: str
    created_at: datetime
    attempts: int
    error: str | None
    request_hash: str


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    tenant_id: str
    api_key_id: str | None
    request_hash: str
    attempt: int
    max_attempts: int
    worker: str
    #: decrypted, packed (``openidv.store.job_evidence``); personal data, so never in a repr or a log line
    evidence: bytes = field(repr=False)


def worker_name() -> str:
    """Unique per worker thread run: host, pid and a random suffix."""
    return f"{socket.gethostname()[:60]}:{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aad(job_id: str) -> bytes:
    return f"openidv-job-evidence:{job_id}".encode()


class JobQueue:
    """Enqueue, claim and finish async verifications; evidence is AES-GCM encrypted at rest."""

    def __init__(self, store: Store, cipher: BiometricCipher, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.store = store
        self.cipher = cipher
        self.max_attempts = max_attempts

    # ------------------------------------------------------------------ the API side

    def enqueue(
        self,
        evidence: bytes,
        *,
        tenant_id: str,
        request_hash: str,
        api_key_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[JobStatus, bool]:
        """Queue a job; returns its status and True, or, for a repeated ``idempotency_key`` with the same
        body, the earlier job and False (another body under the key is a ``Conflict``)."""
        if idempotency_key is not None:
            earlier = self.find_idempotent(api_key_id, idempotency_key, request_hash)
            if earlier is not None:
                return earlier, False
        job_id = str(uuid.uuid4())
        now = _now()
        row = Job(
            id=job_id,
            tenant_id=tenant_id,
            api_key_id=api_key_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            status=QUEUED,
            attempts=0,
            max_attempts=self.max_attempts,
            created_at=now,
            updated_at=now,
            available_at=now,
            evidence=self.cipher.encrypt(evidence, _aad(job_id)),
        )
        try:
            with self.store.transaction() as session:
                session.add(row)
        except IntegrityError:  # lost a race with the same key
            if idempotency_key is None:
                raise
            earlier = self.find_idempotent(api_key_id, idempotency_key, request_hash)
            if earlier is None:
                raise
            return earlier, False
        return _status(row), True

    def find_idempotent(
        self, api_key_id: str | None, idempotency_key: str, request_hash: str
    ) -> JobStatus | None:
        with self.store.transaction() as session:
            row = session.execute(
                select(Job).where(Job.api_key_id == api_key_id, Job.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
            if row is None:
                return None
            same_request(row.request_hash, request_hash)
            return _status(row)

    def status(self, job_id: str, tenant_id: str) -> JobStatus | None:
        """The tenant's job, or None (another tenant's job is not found either)."""
        with self.store.transaction() as session:
            row = session.execute(
                select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id)
            ).scalar_one_or_none()
            return None if row is None else _status(row)

    def depth(self) -> dict[str, int]:
        return queue_depth(self.store)

    # ------------------------------------------------------------------ the worker side

    def claim(self, worker: str, lease_s: float, on_failed: OnFailed | None = None) -> ClaimedJob | None:
        """Lease the oldest available job to ``worker``, or None when none is available. A job whose
        leases have all run out (``max_attempts`` claims) is failed here, in the claim's transaction."""
        for _ in range(8):  # a few exhausted jobs may be failed on the way to a runnable one
            with self.store.transaction() as session:
                now = _now()
                candidate = session.execute(
                    select(Job.id, Job.status, Job.available_at, Job.attempts, Job.max_attempts)
                    .where(Job.status.in_((QUEUED, RUNNING)), Job.available_at <= now)
                    .order_by(Job.available_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if candidate is None:
                    return None
                job_id, status, available_at, attempts, max_attempts = candidate
                guard = (Job.id == job_id, Job.status == status, Job.available_at == available_at)
                if attempts >= max_attempts:
                    reason = f"the job's lease ran out {attempts} times (worker lost mid-job)"
                    done = session.execute(
                        update(Job)
                        .where(*guard)
                        .values(status=FAILED, evidence=None, worker=None, error=reason, updated_at=now)
                    )
                    if done.rowcount == 1 and on_failed is not None:  # type: ignore[attr-defined]
                        tenant = session.execute(select(Job.tenant_id).where(Job.id == job_id)).scalar_one()
                        on_failed(session, job_id, tenant, reason)
                    continue
                claimed = session.execute(
                    update(Job)
                    .where(*guard)
                    .values(
                        status=RUNNING,
                        attempts=attempts + 1,
                        worker=worker,
                        available_at=now + timedelta(seconds=lease_s),
                        updated_at=now,
                    )
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # someone else took it between our look and our update
                row = session.execute(
                    select(Job.tenant_id, Job.api_key_id, Job.request_hash, Job.evidence).where(
                        Job.id == job_id
                    )
                ).one()
                if row.evidence is None:  # cannot happen for a running job; refuse rather than guess
                    raise LeaseLost(f"job {job_id} has no evidence")
                return ClaimedJob(
                    id=job_id,
                    tenant_id=row.tenant_id,
                    api_key_id=row.api_key_id,
                    request_hash=row.request_hash,
                    attempt=attempts + 1,
                    max_attempts=max_attempts,
                    worker=worker,
                    evidence=self.cipher.decrypt(row.evidence, _aad(job_id)),
                )
        return None

    def complete(self, session: Session, job: ClaimedJob) -> None:
        """Mark the job completed and erase its evidence, in the transaction that stores its verification;
        ``LeaseLost`` (rolling it all back) when the job is no longer this worker's."""
        self._finish(session, job, status=COMPLETED, error=None)

    def give_up(self, session: Session, job: ClaimedJob, reason: str) -> None:
        """Mark the job failed for good and erase its evidence (``LeaseLost`` as for ``complete``)."""
        self._finish(session, job, status=FAILED, error=reason[:500])

    def renew(self, job: ClaimedJob, lease_s: float) -> bool:
        """Extend this worker's lease (a heartbeat while the job runs); False when it is no longer ours."""
        with self.store.transaction() as session:
            now = _now()
            done = session.execute(
                update(Job)
                .where(*_owned(job))
                .values(available_at=now + timedelta(seconds=lease_s), updated_at=now)
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def retry_later(self, job: ClaimedJob, reason: str, delay_s: float) -> bool:
        """Put the job back for another attempt after ``delay_s``; False when it was no longer ours."""
        with self.store.transaction() as session:
            now = _now()
            done = session.execute(
                update(Job)
                .where(*_owned(job))
                .values(
                    status=QUEUED,
                    worker=None,
                    error=reason[:500],
                    available_at=now + timedelta(seconds=delay_s),
                    updated_at=now,
                )
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def _finish(self, session: Session, job: ClaimedJob, *, status: str, error: str | None) -> None:
        done = session.execute(
            update(Job)
            .where(*_owned(job))
            .values(status=status, evidence=None, worker=None, error=error, updated_at=_now())
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"job {job.id} is no longer leased to {job.worker}")


def queue_depth(store: Store) -> dict[str, int]:
    """Jobs by status (queued, running, completed, failed); needs no key, for metrics."""
    with store.transaction() as session:
        rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = {s: 0 for s in (QUEUED, RUNNING, COMPLETED, FAILED)}
    counts.update({str(s): int(n) for s, n in rows})
    return counts


def purge_finished_jobs(store: Store, before: datetime, *, dry_run: bool = False) -> int:
    """Completed and failed jobs last touched before ``before`` (their evidence is already gone; what is left
    is the status row and its Idempotency-Key): counted, and deleted unless ``dry_run``."""
    finished = (Job.status.in_((COMPLETED, FAILED)), Job.updated_at < before)
    with store.transaction() as session:
        if dry_run:
            return int(session.execute(select(func.count()).select_from(Job).where(*finished)).scalar_one())
        return int(session.execute(delete(Job).where(*finished)).rowcount or 0)  # type: ignore[attr-defined]


def _owned(job: ClaimedJob) -> tuple[ColumnElement[bool], ...]:
    return (Job.id == job.id, Job.status == RUNNING, Job.worker == job.worker, Job.attempts == job.attempt)


def _status(row: Job) -> JobStatus:
    return JobStatus(
        id=row.id,
        tenant_id=row.tenant_id,
        status=row.status,
        created_at=row.created_at,
        attempts=row.attempts,
        error=row.error,
        request_hash=row.request_hash,
    )
