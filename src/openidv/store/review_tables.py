"""Human review (issue 16): ``review_cases``, their ``case_events`` and their ``case_media``.

A case belongs to one verification of one tenant (at most one case per verification). Its plain columns
say where it stands (state, assignee, SLA clock, decision); ``case_events`` is its trail (who did what,
with the reason they gave); ``case_media`` holds the images a reviewer looks at, sealed with the key ring
and bound to their row (``media_aad``), so an image copied onto another row fails to open. Free-text
reasons and images are the personal parts: subject erasure deletes the case with its verification,
retention drops the media of decided cases (``OPENIDV_RETENTION_CASE_MEDIA_DAYS``).

``version`` is SQLAlchemy's version counter: two reviewers changing a case at once cannot both win (the
loser's update matches no row and becomes a ``Conflict``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime

#: the states of a case (docs/review.md has the diagram)
OPEN = "open"
CLAIMED = "claimed"
ESCALATED = "escalated"
AWAITING_CONFIRMATION = "awaiting_confirmation"
DECIDED = "decided"
STATES = (OPEN, CLAIMED, ESCALATED, AWAITING_CONFIRMATION, DECIDED)
#: states a reviewer still has to act on
ACTIVE_STATES = (OPEN, CLAIMED, ESCALATED, AWAITING_CONFIRMATION)
#: who opened a case the policy sent to review
POLICY = "policy"


class ReviewCase(Base):
    __tablename__ = "review_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False)
    verification_id: Mapped[str] = mapped_column(ForeignKey("verifications.id"), nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    #: escalated once: only a supervisor may claim and decide it from then on
    escalated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: ``policy`` (the verification's decision was review) or the reviewer id of the supervisor who opened it
    opened_by: Mapped[str] = mapped_column(String(100), nullable=False)
    opened_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: the automated decision's reason codes, which sent the case to review
    reason_codes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    #: ``,CODE_A,CODE_B,``: filters by reason code with a LIKE on both backends
    reason_index: Mapped[str] = mapped_column(String(2000), nullable=False)
    automated_outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    assignee: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the human decision that closed the case: approve or reject
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: the verification's final outcome once the case is decided (None before)
    final_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: an override of a rejection waiting for a supervisor's confirmation (four eyes)
    proposed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    proposed_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    proposed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("tenant_id", "verification_id", name="uq_review_cases_verification"),
        Index("ix_review_cases_queue", "tenant_id", "state", "due_at"),
        Index("ix_review_cases_decided_at", "decided_at"),
    )


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    #: opened, claimed, released, taken_over, escalated, decided, override_proposed, override_confirmed,
    #: override_refused, media_purged
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_case_events_case", "case_id"),)


class CaseMedia(Base):
    __tablename__ = "case_media"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    #: the image, envelope-encrypted with the key ring, bound to this row (``media_aad``)
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_case_media_case", "case_id"),)


def media_aad(case_id: str, media_id: str) -> bytes:
    return f"openidv-case-media:{case_id}:{media_id}:data".encode()


class HeldMedia(Base):
    """The images of a rejected verification, held so a contest of the rejection can be reviewed with
    them: moved into ``case_media`` when a supervisor opens a case for the verification, deleted at
    ``held_until`` (``openidv purge``) or with the subject."""

    __tablename__ = "held_media"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False)
    verification_id: Mapped[str] = mapped_column(String(36), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    #: the image, envelope-encrypted with the key ring, bound to this row (``held_aad``)
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    held_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_held_media_verification", "verification_id"),
        Index("ix_held_media_held_until", "held_until"),
    )


def held_aad(verification_id: str, media_id: str) -> bytes:
    return f"openidv-held-media:{verification_id}:{media_id}:data".encode()
