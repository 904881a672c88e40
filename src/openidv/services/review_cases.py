"""Human review (issue 16): the case queue and its rules, for the API, the console and the CLI.

Every verification the policy sends to ``review`` opens a case in the transaction that stores it
(``policy_case_step``, used by ``Verifier``); a supervisor can open one for any verification
(``open_case``). A case is worked by one reviewer at a time:

    open --claim--> claimed --decide approve|reject--> decided
      ^               |  \\--decide escalate--> escalated --claim (supervisor)--> claimed ...
      +---release-----+   \\--decide approve, automated outcome reject--> awaiting_confirmation
                                      --confirm (another supervisor) accept--> decided (approve)
                                      --confirm refuse--> decided (reject stands)

Rules: claiming needs any reviewer role (``analyst``, ``supervisor``, ``admin``); an escalated case only a
supervisor or admin may claim; a case claimed by someone else is a ``Conflict`` unless a supervisor takes
it over. Deciding needs the claim and a non-empty reason. Approving a verification the policy rejected is
an override: it waits for a supervisor who is not its proposer (four eyes; ``PermissionDenied`` for the
proposer and for analysts). Every action writes a case event and an audit-log entry in one transaction.

A decided case sets the verification's final outcome (``final_outcome``); the automated decision is never
changed. ``Reviewer`` is who acts: the console builds it from its signed-in user, the API from the key's
scopes and the reviewer id the calling tool names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openidv.errors import Conflict, InvalidInput, PermissionDenied
from openidv.evidence import Evidence
from openidv.results import Outcome
from openidv.services.review_media import review_media
from openidv.store import case_store
from openidv.store.case_store import QueueFilter, StoredMedia, reason_digest
from openidv.store.repository import Store, record_of
from openidv.store.review_tables import (
    AWAITING_CONFIRMATION,
    CLAIMED,
    DECIDED,
    ESCALATED,
    OPEN,
    POLICY,
    STATES,
    CaseEvent,
    CaseMedia,
    ReviewCase,
)
from openidv.store.webhook_store import WebhookStore
from openidv.verification import VerificationRecord

log = logging.getLogger(__name__)

ANALYST, SUPERVISOR, ADMIN = "analyst", "supervisor", "admin"
ROLES = (ANALYST, SUPERVISOR, ADMIN)
DECISIONS = ("approve", "reject", "escalate")
#: webhook event sent when a case's decision sets a verification's final outcome
REVIEWED_EVENT = "verification.reviewed"
MAX_REASON = 2000
DEFAULT_SLA = timedelta(hours=24)
#: how long a rejected verification's images are held for a contest (``OPENIDV_REVIEW_HOLD_REJECTED_DAYS``)
DEFAULT_HOLD_REJECTED = timedelta(days=30)
DEFAULT_DUE_SOON = timedelta(hours=4)


@dataclass(frozen=True)
class Reviewer:
    """Who acts on a case: ``id`` is stable per person (four eyes compares ids), ``role`` one of ``ROLES``;
    ``via`` says how they reached us (``api_key:<id>``, ``console``) and goes into the audit entry."""

    id: str
    role: str = ANALYST
    via: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip() or len(self.id) > 100:
            raise InvalidInput("reviewer: an id of 1-100 characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in self.id):
            raise InvalidInput("reviewer: printable characters only")
        if self.role not in ROLES:
            raise InvalidInput(f"reviewer role: one of {', '.join(ROLES)}")

    @property
    def is_supervisor(self) -> bool:
        return self.role in (SUPERVISOR, ADMIN)


@dataclass(frozen=True)
class CaseSummary:
    """One row of the queue."""

    id: str
    verification_id: str
    state: str
    escalated: bool
    reason_codes: tuple[str, ...]
    automated_outcome: str
    assignee: str | None
    opened_at: datetime
    due_at: datetime
    #: breached, due_soon or ok while the case is active; met or missed once decided
    sla: str
    age: timedelta
    final_outcome: str | None
    decided_at: datetime | None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verification_id": self.verification_id,
            "state": self.state,
            "escalated": self.escalated,
            "reason_codes": list(self.reason_codes),
            "automated_outcome": self.automated_outcome,
            "assignee": self.assignee,
            "opened_at": self.opened_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "sla": self.sla,
            "age_s": round(self.age.total_seconds(), 3),
            "final_outcome": self.final_outcome,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class CaseEventInfo:
    at: datetime
    actor: str
    action: str
    payload: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class MediaInfo:
    """An image of the case, without its bytes (``ReviewCases.media`` serves them)."""

    id: str
    position: int
    kind: str
    title: str
    content_type: str
    notes: dict[str, Any]
    size: int

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "position": self.position,
            "kind": self.kind,
            "title": self.title,
            "content_type": self.content_type,
            "notes": self.notes,
            "size": self.size,
        }


@dataclass(frozen=True)
class CaseDetail:
    """Everything a reviewer reads: the case, its trail, its images, and the verification with every
    check's score, meaning and details (the decision's fired rules name the thresholds compared)."""

    summary: CaseSummary
    opened_by: str
    opened_reason: str | None
    claimed_at: datetime | None
    decision: str | None
    decision_reason: str | None
    decided_by: str | None
    proposed_by: str | None
    proposed_outcome: str | None
    proposed_reason: str | None
    proposed_at: datetime | None
    confirmed_by: str | None
    version: int
    events: list[CaseEventInfo] = field(default_factory=list)
    media: list[MediaInfo] = field(default_factory=list)
    verification: VerificationRecord | None = None

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def state(self) -> str:
        return self.summary.state

    def to_api(self) -> dict[str, Any]:
        return {
            **self.summary.to_api(),
            "opened_by": self.opened_by,
            "opened_reason": self.opened_reason,
            "claimed_at": _iso(self.claimed_at),
            "decision": self.decision,
            "decision_reason": self.decision_reason,
            "decided_by": self.decided_by,
            "pending_override": None
            if self.proposed_by is None or self.summary.state != AWAITING_CONFIRMATION
            else {
                "proposed_by": self.proposed_by,
                "outcome": self.proposed_outcome,
                "reason": self.proposed_reason,
                "proposed_at": _iso(self.proposed_at),
            },
            "confirmed_by": self.confirmed_by,
            "version": self.version,
            "events": [e.to_api() for e in self.events],
            "media": [m.to_api() for m in self.media],
            "verification": self.verification.to_api() if self.verification else None,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def review_block(case: ReviewCase | None) -> dict[str, Any] | None:
    """What a verification's API answer shows of its case (None without one)."""
    if case is None:
        return None
    return {
        "case_id": case.id,
        "state": case.state,
        "final_outcome": case.final_outcome,
        "decided_at": _iso(case.decided_at),
        "decided_by": case.decided_by,
    }


def verification_review(store: Store, tenant: str, verification_id: str, automated: str) -> dict[str, Any]:
    """``review`` (the case's block, or None) and ``final_outcome`` (the human decision once the case is
    decided, else the automated ``decision``) of one verification's API answer."""
    with store.transaction() as session:
        case = case_store.case_of_verification(session, tenant, verification_id)
        final = case.final_outcome if case is not None and case.final_outcome else automated
        return {"review": review_block(case), "final_outcome": final}


def policy_case_step(
    store: Store,
    record: VerificationRecord,
    evidence: Evidence,
    *,
    sla: timedelta = DEFAULT_SLA,
    hold_rejected: timedelta = DEFAULT_HOLD_REJECTED,
) -> Callable[[Session], None] | None:
    """The in-transaction step that opens the case of a verification the policy sent to review, or, for a
    rejection, holds its images for ``hold_rejected`` so a contest can be reviewed with them (a
    supervisor's ``open_case`` moves them into the case); None for an approval (or a rejection with no
    hold). Images are made now, outside the transaction; a failure to make them opens the case without
    images rather than failing the verification."""
    outcome = record.decision.outcome
    holding = outcome == Outcome.REJECT and hold_rejected > timedelta(0)
    if outcome != Outcome.REVIEW and not holding:
        return None
    try:
        media = review_media(evidence, record.checks)
    except Exception:  # one failure never sinks a verification: the case opens, without its images
        log.exception("verification %s: making the review images failed", record.id)
        media = []
    tenant = evidence.tenant_id
    if holding:
        if not media:
            return None

        def hold(session: Session) -> None:
            until = datetime.now(UTC) + hold_rejected
            case_store.hold_media(
                session,
                store.keyring,
                tenant=tenant,
                verification_id=record.id,
                media=media,
                held_until=until,
            )

        return hold

    def open_case(session: Session) -> None:
        now = datetime.now(UTC)
        case_store.add_case(
            session,
            store.keyring,
            tenant=tenant,
            verification_id=record.id,
            opened_by=POLICY,
            opened_reason=None,
            reason_codes=record.decision.reason_codes,
            automated_outcome=record.decision.outcome.value,
            opened_at=now,
            due_at=now + sla,
            media=media,
        )

    return open_case


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("reason: say why, in a few words")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters")
    return text


class ReviewCases:
    """The review queue of one store, confined to the tenant each call names; another tenant's case is
    ``NotFound``. ``sla`` is the clock of cases a supervisor opens (policy cases get the verifier's);
    ``due_soon`` is the window in which an active case counts as due soon. ``webhooks`` (optional) queues
    ``verification.reviewed`` when a decision sets a final outcome."""

    def __init__(
        self,
        store: Store,
        *,
        sla: timedelta = DEFAULT_SLA,
        due_soon: timedelta = DEFAULT_DUE_SOON,
        webhooks: WebhookStore | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.sla = sla
        self.due_soon = due_soon
        self.webhooks = webhooks
        self.clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------------------------ reading

    def list_cases(
        self,
        tenant: str,
        *,
        state: str | None = None,
        reason_code: str | None = None,
        assignee: str | None = None,
        min_age: timedelta | None = None,
        sla: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CasePage:
        """One page of the tenant's cases, most urgent (earliest due) first; ``state`` is one of ``STATES``
        or ``active`` (every state but decided)."""
        if state is not None and state not in (*STATES, "active"):
            raise InvalidInput(f"state: one of {', '.join(STATES)} or active")
        if sla is not None and sla not in case_store.SLA_FILTERS:
            raise InvalidInput(f"sla: one of {', '.join(case_store.SLA_FILTERS)}")
        if reason_code is not None and not (
            reason_code
            and len(reason_code) <= 64
            and all(c.isupper() or c.isdigit() or c == "_" for c in reason_code)
        ):
            raise InvalidInput("reason_code: a reason code such as FACE_MISMATCH")
        if min_age is not None and min_age < timedelta(0):
            raise InvalidInput("min_age: not negative")
        if not 1 <= limit <= case_store.MAX_LIMIT:
            raise InvalidInput(f"limit: between 1 and {case_store.MAX_LIMIT}")
        now = self.clock()
        filters = QueueFilter(state, reason_code, assignee, min_age, sla)
        with self.store.transaction() as session:
            rows, next_cursor = case_store.queue_page(
                session, tenant, filters, now=now, due_soon=self.due_soon, limit=limit, cursor=cursor
            )
            return CasePage([self._summary(r, now) for r in rows], next_cursor)

    def get_case(self, tenant: str, case_id: str) -> CaseDetail:
        with self.store.transaction() as session:
            case = case_store.load_case(session, tenant, case_id)
            return self._detail(session, case, self.clock())

    def case_of_verification(self, tenant: str, verification_id: str) -> CaseDetail | None:
        with self.store.transaction() as session:
            case = case_store.case_of_verification(session, tenant, verification_id)
            return None if case is None else self._detail(session, case, self.clock())

    def media(self, tenant: str, case_id: str, media_id: str) -> StoredMedia:
        """One image of the case, unsealed (the fields of ``ReviewMedia``)."""
        with self.store.transaction() as session:
            return case_store.open_media(session, self.store.keyring, tenant, case_id, media_id)

    # ------------------------------------------------------------------------------------ acting

    def open_case(self, tenant: str, verification_id: str, actor: Reviewer, reason: str) -> CaseDetail:
        """A supervisor opens a case for any of the tenant's verifications (one case per verification)."""
        if not actor.is_supervisor:
            raise PermissionDenied("only a supervisor or admin may open a case")
        text = _reason(reason)
        now = self.clock()
        with self.store.transaction() as session:
            row = case_store.verification_row(session, tenant, verification_id)
            if case_store.case_of_verification(session, tenant, verification_id) is not None:
                raise Conflict(f"verification {verification_id} already has a case")
            # a contested rejection: the images held for it move into the case
            held = case_store.take_held_media(session, self.store.keyring, tenant, verification_id, now=now)
            case = case_store.add_case(
                session,
                self.store.keyring,
                tenant=tenant,
                verification_id=verification_id,
                opened_by=actor.id,
                opened_reason=text,
                reason_codes=list(row.decision.reason_codes),
                automated_outcome=row.decision.outcome,
                opened_at=now,
                due_at=now + self.sla,
                media=held,
                audit_extra={"via": actor.via},
            )
            case_id = case.id
        return self.get_case(tenant, case_id)

    def claim(self, tenant: str, case_id: str, actor: Reviewer) -> CaseDetail:
        """Take the case to work on it; claiming one's own claim again changes nothing."""

        def act(session: Session, case: ReviewCase, now: datetime) -> None:
            if case.state in (DECIDED, AWAITING_CONFIRMATION):
                raise Conflict(f"case {case.id} is {case.state}; there is nothing to claim")
            if case.state == CLAIMED:
                if case.assignee == actor.id:
                    return
                if not actor.is_supervisor:
                    raise Conflict(
                        f"case {case.id} is claimed by {case.assignee}; they must release it, or a "
                        "supervisor take it over"
                    )
            if case.escalated and not actor.is_supervisor:
                raise PermissionDenied(f"case {case.id} is escalated: only a supervisor may claim it")
            previous = case.assignee if case.state == CLAIMED else None
            case.state, case.assignee, case.claimed_at = CLAIMED, actor.id, now
            action = "taken_over" if previous else "claimed"
            extra = {"from": previous} if previous else {}
            self._record(session, case, actor, action, now, extra, extra)

        return self._act(tenant, case_id, act)

    def release(self, tenant: str, case_id: str, actor: Reviewer) -> CaseDetail:
        """Give the claim back (the holder, or a supervisor); the case returns to the queue it came from."""

        def act(session: Session, case: ReviewCase, now: datetime) -> None:
            if case.state != CLAIMED:
                raise Conflict(f"case {case.id} is {case.state}, not claimed")
            if case.assignee != actor.id and not actor.is_supervisor:
                raise Conflict(f"case {case.id} is claimed by {case.assignee}, not by you")
            previous = case.assignee
            case.state = ESCALATED if case.escalated else OPEN
            case.assignee, case.claimed_at = None, None
            extra = {"from": previous}
            self._record(session, case, actor, "released", now, extra, extra)

        return self._act(tenant, case_id, act)

    def decide(self, tenant: str, case_id: str, actor: Reviewer, outcome: str, reason: str) -> CaseDetail:
        """Approve, reject or escalate the case the actor holds, saying why."""
        if outcome not in DECISIONS:
            raise InvalidInput(f"outcome: one of {', '.join(DECISIONS)}")
        text = _reason(reason)

        def act(session: Session, case: ReviewCase, now: datetime) -> None:
            if case.state != CLAIMED or case.assignee != actor.id:
                raise Conflict(f"claim case {case.id} before deciding it (it is {case.state})")
            if case.escalated and not actor.is_supervisor:
                raise PermissionDenied(f"case {case.id} is escalated: only a supervisor may decide it")
            hashed = {"reason_hash": reason_digest(self.store.keyring, text)}
            if outcome == "escalate":
                if case.escalated:
                    raise Conflict(f"case {case.id} is already escalated; approve or reject it")
                case.state, case.escalated, case.assignee, case.claimed_at = ESCALATED, True, None, None
                self._record(session, case, actor, "escalated", now, {"reason": text}, hashed)
            elif outcome == "approve" and case.automated_outcome == Outcome.REJECT.value:
                case.state, case.assignee = AWAITING_CONFIRMATION, None
                case.proposed_by, case.proposed_outcome = actor.id, outcome
                case.proposed_reason, case.proposed_at = text, now
                payload = {"outcome": outcome, "reason": text}
                self._record(
                    session, case, actor, "override_proposed", now, payload, {"outcome": outcome, **hashed}
                )
            else:
                self._close(session, case, outcome, text, actor.id, now)
                payload = {"outcome": outcome, "reason": text}
                self._record(session, case, actor, "decided", now, payload, self._closed(case, hashed))

        return self._act(tenant, case_id, act)

    def confirm(self, tenant: str, case_id: str, actor: Reviewer, accept: bool, reason: str) -> CaseDetail:
        """A second supervisor accepts or refuses a pending override (four eyes: never its proposer).
        Accepted: the proposed outcome becomes final. Refused: the automated rejection stands."""
        if not actor.is_supervisor:
            raise PermissionDenied("only a supervisor or admin may confirm an override")
        text = _reason(reason)

        def act(session: Session, case: ReviewCase, now: datetime) -> None:
            if case.state != AWAITING_CONFIRMATION:
                raise Conflict(f"case {case.id} is {case.state}; no override awaits confirmation")
            if case.proposed_by == actor.id:
                raise PermissionDenied("four eyes: nobody confirms their own override")
            hashed = {"reason_hash": reason_digest(self.store.keyring, text)}
            payload = {"accept": accept, "reason": text}
            if accept:
                assert case.proposed_outcome is not None and case.proposed_by is not None
                self._close(
                    session, case, case.proposed_outcome, case.proposed_reason or text, case.proposed_by, now
                )
                case.confirmed_by = actor.id
                action = "override_confirmed"
            else:
                self._close(session, case, case.automated_outcome, text, actor.id, now)
                action = "override_refused"
            self._record(session, case, actor, action, now, payload, self._closed(case, hashed))

        return self._act(tenant, case_id, act)

    # ------------------------------------------------------------------------------------ helpers

    def _act(
        self, tenant: str, case_id: str, act: Callable[[Session, ReviewCase, datetime], None]
    ) -> CaseDetail:
        from sqlalchemy.orm.exc import StaleDataError

        now = self.clock()
        try:
            with self.store.transaction() as session:
                case = case_store.load_case(session, tenant, case_id, lock=True)
                act(session, case, now)
                if session.is_modified(case):
                    case.updated_at = now
                session.flush()
        except StaleDataError:
            raise Conflict(f"case {case_id} was changed by someone else meanwhile; reload it") from None
        return self.get_case(tenant, case_id)

    def _record(
        self,
        session: Session,
        case: ReviewCase,
        actor: Reviewer,
        action: str,
        now: datetime,
        payload: dict[str, Any],
        audit_payload: dict[str, Any],
    ) -> None:
        case_store.record(
            session,
            case,
            actor=actor.id,
            action=action,
            at=now,
            payload=payload,
            audit_payload={"role": actor.role, "via": actor.via, **audit_payload},
        )

    def _close(
        self, session: Session, case: ReviewCase, outcome: str, reason: str, by: str, now: datetime
    ) -> None:
        case.state, case.assignee = DECIDED, None
        case.decision, case.decision_reason, case.decided_by, case.decided_at = outcome, reason, by, now
        case.final_outcome = outcome
        if self.webhooks is not None:
            self.webhooks.enqueue(
                session,
                case.tenant_id,
                REVIEWED_EVENT,
                {
                    "id": case.verification_id,
                    "case_id": case.id,
                    "decision": case.automated_outcome,
                    "final_outcome": outcome,
                },
            )

    @staticmethod
    def _closed(case: ReviewCase, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "outcome": case.decision,
            "final_outcome": case.final_outcome,
            "automated_outcome": case.automated_outcome,
            "decided_by": case.decided_by,
            **extra,
        }

    def _summary(self, case: ReviewCase, now: datetime) -> CaseSummary:
        if case.state == DECIDED and case.decided_at is not None:
            sla = "met" if case.decided_at <= case.due_at else "missed"
            age = case.decided_at - case.opened_at
        else:
            age = now - case.opened_at
            sla = (
                "breached" if now > case.due_at else "due_soon" if case.due_at - now < self.due_soon else "ok"
            )
        return CaseSummary(
            id=case.id,
            verification_id=case.verification_id,
            state=case.state,
            escalated=case.escalated,
            reason_codes=tuple(case.reason_codes or ()),
            automated_outcome=case.automated_outcome,
            assignee=case.assignee,
            opened_at=case.opened_at,
            due_at=case.due_at,
            sla=sla,
            age=age,
            final_outcome=case.final_outcome,
            decided_at=case.decided_at,
        )

    def _detail(self, session: Session, case: ReviewCase, now: datetime) -> CaseDetail:
        verification = case_store.verification_row(session, case.tenant_id, case.verification_id)
        return CaseDetail(
            summary=self._summary(case, now),
            opened_by=case.opened_by,
            opened_reason=case.opened_reason,
            claimed_at=case.claimed_at,
            decision=case.decision,
            decision_reason=case.decision_reason,
            decided_by=case.decided_by,
            proposed_by=case.proposed_by,
            proposed_outcome=case.proposed_outcome,
            proposed_reason=case.proposed_reason,
            proposed_at=case.proposed_at,
            confirmed_by=case.confirmed_by,
            version=case.version,
            events=[_event(e) for e in case_store.events_of(session, case.id)],
            media=[_media(m) for m in case_store.media_of(session, case.id)],
            verification=record_of(verification, self.store.keyring),
        )


def _event(e: CaseEvent) -> CaseEventInfo:
    return CaseEventInfo(e.at, e.actor, e.action, dict(e.payload or {}))


def _media(m: CaseMedia) -> MediaInfo:
    return MediaInfo(m.id, m.position, m.kind, m.title, m.content_type, dict(m.notes or {}), m.size)
