"""Tables of async verifications and webhooks: the job queue, webhook endpoints and the webhook outbox.

They live in the same database as the verifications on purpose: a worker stores a verification, marks its
job done and queues the webhook events in one transaction, so there is no dual write between a database
and a broker to get wrong (docs/async.md has the measurements behind the choice).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime

#: job states, as the status endpoint reports them
QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
#: outbox states
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class Job(Base):
    """One async verification. Its id is the verification's id once it completes.

    A job is claimable while ``status`` is queued or running and ``available_at`` has passed: claiming sets
    running and ``available_at = now + lease``, so a worker that dies mid-job (SIGKILL) lets the lease run
    out and another worker claims it again. ``evidence`` is the applicant's evidence, AES-GCM encrypted with
    the biometric key; it is erased when the job finishes either way.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key", name="uq_jobs_idempotency"),
        Index("ix_jobs_status_available_at", "status", "available_at"),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: why the job failed (no personal data: an exception type and a short message of ours)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class WebhookEndpoint(Base):
    """A tenant's webhook receiver. The signing secret must be recoverable to sign, so it is stored
    encrypted with the biometric key (bound to the endpoint id), not hashed."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxEvent(Base):
    """One event for one endpoint (the transactional outbox): written with the verification, sent after.

    ``event_id`` is what receivers deduplicate on; a delivery that fails is retried at ``next_attempt_at``
    (exponential backoff, full jitter) until it is delivered or ``attempts`` reaches the limit (dead).
    """

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    #: the exact JSON body that is signed and sent
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
