"""``Verifier``: one policy's pipeline with its services, and the store that keeps each verification.

The checks only judge; what follows a decision (a capture fingerprint for replay detection, later a gallery
enrolment) is written by the store in the transaction that stores the verification, and only when the
applicant is not rejected. A verification that fails, is rejected, or is never stored therefore leaves no
trace: the same selfie submitted again is not a replay of it.

A verification the policy sends to ``review`` opens its human review case (with the images a reviewer needs)
in that same transaction, on the synchronous and the async path alike (``openidv.services.review_cases``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from openidv.decision.policy import Policy, load_policy
from openidv.evidence import Evidence
from openidv.pipeline import Pipeline
from openidv.services.container import Services
from openidv.services.review_cases import DEFAULT_HOLD_REJECTED, DEFAULT_SLA, policy_case_step
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.verification import (
    VerificationRecord,
    VerificationRun,
    evidence_digest,
    evidence_summary,
    run_verification,
)


class Verifier:
    """Built once (checks load their models once), then ``verify`` any number of applicants."""

    def __init__(
        self,
        policy: Policy,
        services: Services,
        store: Store | None = None,
        *,
        timeout_s: float | None = None,
        review_sla: timedelta = DEFAULT_SLA,
        hold_rejected: timedelta = DEFAULT_HOLD_REJECTED,
    ) -> None:
        """``review_sla``: the SLA of the review cases it opens (``OPENIDV_REVIEW_SLA_HOURS``);
        ``hold_rejected``: how long a rejection's images are held for a contest
        (``OPENIDV_REVIEW_HOLD_REJECTED_DAYS``; zero holds nothing)."""
        self.policy = policy
        self.review_sla = review_sla
        self.hold_rejected = hold_rejected
        self.services = services
        self.store = store
        self.pipeline = Pipeline(policy, services=services.as_mapping(), timeout_s=timeout_s)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        policy: Policy | None = None,
        store: Store | None = None,
    ) -> Verifier:
        """The deployment's verifier: its database (default the embedded SQLite), policy and services."""
        settings = settings or Settings.from_env()
        store = store or Store.from_settings(settings)
        policy = policy or load_policy(settings.policy_path)
        return cls(
            policy,
            Services.open(settings, store, policy),
            store,
            review_sla=timedelta(hours=settings.review_sla_hours),
            hold_rejected=timedelta(days=settings.review_hold_rejected_days),
        )

    def verify(
        self,
        evidence: Evidence,
        *,
        save: bool = True,
        request_hash: str | None = None,
        api_key_id: str | None = None,
        idempotency_key: str | None = None,
        actor: str = "library",
        record_id: str | None = None,
        then: Callable[[Session, VerificationRecord], None] | None = None,
    ) -> VerificationRecord:
        """Decide on one applicant; with a store (and ``save``), store the decision, audit entry and
        follow-ups atomically and return the stored record (the earlier one for an idempotent replay).

        ``record_id`` fixes the verification's id (an async job's id); ``then`` writes more in the same
        transaction (an async worker marks its job done and queues webhook events there)."""
        run = run_verification(evidence, self.pipeline)
        if record_id is not None:
            run = replace(run, record=run.record.model_copy(update={"id": record_id}))
        if self.store is None or not save:
            return run.record
        steps = [
            self._follow_ups(run, evidence.tenant_id),
            policy_case_step(
                self.store, run.record, evidence, sla=self.review_sla, hold_rejected=self.hold_rejected
            ),
        ]
        in_transaction = _then(_all(steps), then, run.record)
        return self.store.save_verification(
            run.record,
            request_hash=request_hash or evidence_digest(evidence),
            evidence_summary=evidence_summary(evidence),
            api_key_id=api_key_id,
            idempotency_key=idempotency_key,
            actor=actor,
            tenant_id=evidence.tenant_id,
            subject_id=evidence.subject_id,
            in_transaction=in_transaction,
        )

    def _follow_ups(self, run: VerificationRun, tenant: str) -> Callable[[Session], None] | None:
        follow_ups = run.applicable_follow_ups()
        if not follow_ups:
            return None
        services = self.services.as_mapping()

        def apply(session: Session) -> None:
            for name, follow_up in follow_ups:
                service: Any = services[name]
                service.apply_follow_up(follow_up, reference=run.record.id, session=session, tenant=tenant)

        return apply


def _all(steps: list[Callable[[Session], None] | None]) -> Callable[[Session], None] | None:
    """The steps that exist, in order, as one in-transaction step (None when there is none)."""
    present = [s for s in steps if s is not None]
    if not present:
        return None

    def each(session: Session) -> None:
        for step in present:
            step(session)

    return each


def _then(
    first: Callable[[Session], None] | None,
    then: Callable[[Session, VerificationRecord], None] | None,
    record: VerificationRecord,
) -> Callable[[Session], None] | None:
    """``first`` then ``then``, as one in-transaction step."""
    if then is None:
        return first

    def both(session: Session) -> None:
        if first is not None:
            first(session)
        then(session, record)

    return both
