"""The case page's view model: every score with its meaning and the threshold's operating point, checks
grouped as a reviewer works, the graph neighbourhood in words, and who may do what on a case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openidv.console.case_view import actions, check_line, graph_neighbourhood, sections
from openidv.decision.policy import load_policy
from openidv.results import CheckResult, Meaning, Status
from openidv.services.review_cases import CaseDetail, CaseSummary, MediaInfo
from openidv.store.review_tables import AWAITING_CONFIRMATION, CLAIMED, ESCALATED, OPEN

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _case(state: str, assignee: str | None = None, proposed_by: str | None = None) -> CaseDetail:
    summary = CaseSummary(
        id="c1",
        verification_id="v1",
        state=state,
        escalated=state == ESCALATED,
        reason_codes=("FACE_MISMATCH",),
        automated_outcome="review",
        assignee=assignee,
        opened_at=NOW,
        due_at=NOW + timedelta(hours=24),
        sla="ok",
        age=timedelta(hours=1),
        final_outcome=None,
        decided_at=None,
    )
    media = [
        MediaInfo("m1", 0, "selfie_face", "Face in the selfie", "image/jpeg", {}, 10),
        MediaInfo("m2", 1, "document_annotated", "Document", "image/jpeg", {}, 10),
        MediaInfo("m3", 2, "selfie", "Selfie", "image/jpeg", {}, 10),
    ]
    return CaseDetail(
        summary=summary,
        opened_by="policy",
        opened_reason=None,
        claimed_at=None,
        decision=None,
        decision_reason=None,
        decided_by=None,
        proposed_by=proposed_by,
        proposed_outcome="approve" if proposed_by else None,
        proposed_reason=None,
        proposed_at=None,
        confirmed_by=None,
        version=1,
        media=media,
    )


def test_a_face_score_reads_with_its_meaning_and_the_published_operating_point() -> None:
    policy = load_policy()
    result = CheckResult(
        check="face_match", version="1", status=Status.OK, score=0.70, meaning=Meaning.SIMILARITY
    )
    line = check_line(policy, result)
    assert line.meaning_text.startswith("higher means more alike")
    (threshold,) = line.thresholds
    assert threshold.holds and threshold.op == "<"  # 0.70 < 0.725: a mismatch by the policy's rule
    assert threshold.text == "match: 0.725 (for fmr=1e-4; published)"


def test_checks_and_images_are_grouped_as_a_reviewer_works() -> None:
    detail = _case(OPEN)
    assert [s.key for s in sections(detail, load_policy())] == ["faces", "document"]
    faces, document = sections(detail, load_policy())
    assert [m.kind for m in faces.media] == ["selfie_face"] and [m.kind for m in document.media] == [
        "document_annotated"
    ]


def test_the_graph_neighbourhood_in_words() -> None:
    details = {
        "ring": {"size": 3, "shared": [{"kind": "document"}, {"kind": "phone"}]},
        "links": [
            {"account_id": "6c9bb7b8-1a7d", "hops": 1, "shared": ["document:UTO:L898902C3"]},
            {"account_id": "a6a40369-54ff", "hops": 2, "shared": []},
        ],
    }
    assert graph_neighbourhood(details) == [
        ("ring", "3 accounts sharing document, phone"),
        ("account 6c9bb7b8", "1 hop, shares document:UTO:L898902C3"),
        ("account a6a40369", "2 hops, shares a linked account"),
    ]
    assert graph_neighbourhood({}) == []


@pytest.mark.parametrize(
    ("state", "assignee", "proposer", "who", "role", "expected"),
    [
        (OPEN, None, None, "console:ana", "analyst", (True, False, False, False)),
        (CLAIMED, "console:ana", None, "console:ana", "analyst", (False, True, True, False)),
        (CLAIMED, "console:ben", None, "console:ana", "analyst", (False, False, False, False)),
        (CLAIMED, "console:ben", None, "console:sue", "supervisor", (True, False, False, False)),
        (ESCALATED, None, None, "console:ana", "analyst", (False, False, False, False)),
        (ESCALATED, None, None, "console:sue", "supervisor", (True, False, False, False)),
        (
            AWAITING_CONFIRMATION,
            None,
            "console:sue",
            "console:sue",
            "supervisor",
            (False, False, False, False),
        ),
        (
            AWAITING_CONFIRMATION,
            None,
            "console:sue",
            "console:sam",
            "supervisor",
            (False, False, False, True),
        ),
        (AWAITING_CONFIRMATION, None, "console:sue", "console:ana", "analyst", (False, False, False, False)),
    ],
)
def test_who_may_do_what(
    state: str, assignee: str | None, proposer: str | None, who: str, role: str, expected: tuple[bool, ...]
) -> None:
    a = actions(_case(state, assignee, proposer), who, role)
    assert (a.claim, a.release, a.decide, a.confirm) == expected
    if not any(expected) and state != OPEN:
        assert a.why_not, "the page says why nothing can be done"
