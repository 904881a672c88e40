"""Human review cases (issue 16) through the service, on SQLite and PostgreSQL, with real verifications.

Covers: a case opens with the verification (sync and async) only for ``review``; its images are sealed;
claims, escalation, decisions; four eyes on overrides of a rejection; the audit log and its chain; the
final outcome beside the automated one; tenant isolation; the queue's filters, SLA and pages; erasure and
retention.
"""

from __future__ import annotations

import csv
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from openidv.cli import app
from openidv.crypto import load_cipher
from openidv.errors import ConfigurationError, Conflict, InvalidInput, NotFound, PermissionDenied
from openidv.evidence import Evidence
from openidv.imageio import as_image
from openidv.services import Services, Verifier
from openidv.services.async_jobs import AsyncWorker, WorkerOptions
from openidv.services.review_cases import ReviewCases, Reviewer, verification_review
from openidv.services.review_media import review_media
from openidv.services.subjects import SubjectService
from openidv.settings import Settings
from openidv.store.job_evidence import pack_evidence
from openidv.store.job_queue import JobQueue
from openidv.store.models import AuditEntry
from openidv.store.repository import Store
from openidv.store.review_tables import CaseEvent, CaseMedia, HeldMedia, ReviewCase
from openidv.store.webhook_store import WebhookStore
from tests.review_helpers import (
    APPROVE,
    REJECT,
    REVIEW,
    TD3,
    metadata_check,  # noqa: F401  (fixture)
    review_policy,
    selfie_pixels,
    verifier_for,
    verify,
)

pytestmark = pytest.mark.usefixtures("metadata_check")

ALICE = Reviewer("alice", "analyst")
BOB = Reviewer("bob", "analyst")
SUE = Reviewer("sue", "supervisor")
SAM = Reviewer("sam", "supervisor")


def _actions(store: Store, case_id: str) -> list[str]:
    with store.transaction() as session:
        return list(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject == case_id).order_by(AuditEntry.seq)
            )
        )


def _review_case(store: Store, cases: ReviewCases, **kw: object) -> str:
    record = verify(verifier_for(store), REVIEW, **kw)  # type: ignore[arg-type]
    detail = cases.case_of_verification(str(kw.get("tenant", "default")), record.id)
    assert detail is not None
    return detail.id


def test_review_opens_a_case_with_sealed_images_approve_and_reject_do_not(store: Store) -> None:
    verifier = verifier_for(store)
    approved, rejected = verify(verifier, APPROVE), verify(verifier, REJECT)
    reviewed = verify(verifier, REVIEW)
    assert (approved.decision.outcome, rejected.decision.outcome, reviewed.decision.outcome) == (
        "approve",
        "reject",
        "review",
    )
    cases = ReviewCases(store)
    page = cases.list_cases("default")
    assert [c.verification_id for c in page.items] == [reviewed.id]
    item = page.items[0]
    assert item.state == "open" and "FACE_MISMATCH" in item.reason_codes
    assert item.automated_outcome == "review" and item.assignee is None and item.sla == "ok"
    assert item.due_at - item.opened_at == timedelta(hours=24)
    detail = cases.get_case("default", item.id)
    assert [m.kind for m in detail.media] == ["selfie"]
    assert detail.verification is not None and detail.verification.id == reviewed.id
    scores = {c.check: c.score for c in detail.verification.checks}
    assert scores["test_metadata_score"] == REVIEW
    image = cases.media("default", item.id, detail.media[0].id)
    made = review_media(Evidence(selfie=as_image(selfie_pixels())), reviewed.checks)[0]
    assert (image.data, image.content_type, image.kind) == (made.data, made.content_type, "selfie")
    with store.transaction() as session:  # at rest the image is sealed: its bytes are not in the row
        sealed = bytes(session.scalar(select(CaseMedia.data_sealed)) or b"")
    assert sealed and made.data not in sealed and made.data[:16] not in sealed
    assert _actions(store, item.id) == ["case.opened"]
    with pytest.raises(NotFound):
        cases.media("default", item.id, "nope")


def test_the_async_worker_opens_the_case_in_its_transaction(store: Store, tmp_path: Path) -> None:
    cipher = load_cipher(Settings(data_dir=tmp_path))
    queue, webhooks = JobQueue(store, cipher), WebhookStore(store, cipher)
    evidence = Evidence(metadata={"score": REVIEW}, mrz_text=TD3, selfie=as_image(selfie_pixels()))
    status, _ = queue.enqueue(pack_evidence(evidence), tenant_id="default", request_hash="a" * 64)
    worker = AsyncWorker(verifier_for(store), queue, webhooks, WorkerOptions(lease_s=60, retry_s=0))
    assert worker.drain() == 1
    detail = ReviewCases(store).case_of_verification("default", status.id)
    assert detail is not None and detail.state == "open" and [m.kind for m in detail.media] == ["selfie"]


def test_claim_release_takeover_and_their_conflicts(store: Store) -> None:
    cases = ReviewCases(store)
    case_id = _review_case(store, cases)
    assert cases.claim("default", case_id, ALICE).summary.assignee == "alice"
    assert cases.claim("default", case_id, ALICE).summary.assignee == "alice"  # again: no change
    with pytest.raises(Conflict, match="claimed by alice"):
        cases.claim("default", case_id, BOB)
    with pytest.raises(Conflict, match="not by you"):
        cases.release("default", case_id, BOB)
    taken = cases.claim("default", case_id, SUE)  # a supervisor takes it over
    assert taken.summary.assignee == "sue" and taken.events[-1].payload == {"from": "alice"}
    released = cases.release("default", case_id, SUE)
    assert released.state == "open" and released.summary.assignee is None
    assert _actions(store, case_id) == ["case.opened", "case.claimed", "case.taken_over", "case.released"]


def test_decide_needs_the_claim_and_a_reason_and_sets_the_final_outcome(store: Store) -> None:
    cases = ReviewCases(store)
    case_id = _review_case(store, cases)
    with pytest.raises(Conflict, match="claim"):
        cases.decide("default", case_id, ALICE, "approve", "fine")
    cases.claim("default", case_id, ALICE)
    with pytest.raises(InvalidInput, match="reason"):
        cases.decide("default", case_id, ALICE, "approve", "   ")
    with pytest.raises(InvalidInput, match="outcome"):
        cases.decide("default", case_id, ALICE, "maybe", "fine")
    with pytest.raises(Conflict):
        cases.decide("default", case_id, BOB, "approve", "not mine")
    decided = cases.decide("default", case_id, ALICE, "reject", "selfie is a screen")
    assert decided.state == "decided" and decided.decision == "reject" and decided.decided_by == "alice"
    assert decided.summary.final_outcome == "reject" and decided.summary.sla == "met"
    assert decided.decision_reason == "selfie is a screen"
    verification_id = decided.summary.verification_id
    assert store.get_verification(verification_id).decision.outcome == "review"  # automated unchanged
    shown = verification_review(store, "default", verification_id, "review")
    assert shown["final_outcome"] == "reject" and shown["review"]["case_id"] == case_id
    with pytest.raises(Conflict):
        cases.claim("default", case_id, BOB)
    # the audit entry proves the reason without holding its text
    with store.transaction() as session:
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "case.decided", AuditEntry.subject == case_id)
        ).scalar_one()
        payload = dict(entry.payload)
    assert payload["final_outcome"] == "reject" and payload["automated_outcome"] == "review"
    assert "selfie is a screen" not in str(payload) and len(payload["reason_hash"]) == 64
    assert store.verify_audit_chain().ok


def test_escalated_cases_are_for_supervisors(store: Store) -> None:
    cases = ReviewCases(store)
    case_id = _review_case(store, cases)
    cases.claim("default", case_id, ALICE)
    escalated = cases.decide("default", case_id, ALICE, "escalate", "document looks edited")
    assert escalated.state == "escalated" and escalated.summary.escalated
    assert escalated.summary.assignee is None and escalated.summary.final_outcome is None
    with pytest.raises(PermissionDenied, match="supervisor"):
        cases.claim("default", case_id, BOB)
    cases.claim("default", case_id, SUE)
    with pytest.raises(Conflict, match="already escalated"):
        cases.decide("default", case_id, SUE, "escalate", "again")
    assert cases.release("default", case_id, SUE).state == "escalated"  # back to the supervisors' queue
    cases.claim("default", case_id, SUE)
    assert cases.decide("default", case_id, SUE, "approve", "checked the issuer").summary.final_outcome == (
        "approve"
    )


def test_supervisor_opens_a_case_and_overriding_a_reject_needs_four_eyes(store: Store) -> None:
    cases = ReviewCases(store)
    rejected = verify(verifier_for(store), REJECT)
    assert cases.list_cases("default").items == []
    with pytest.raises(PermissionDenied):
        cases.open_case("default", rejected.id, ALICE, "customer complaint")
    with pytest.raises(InvalidInput):
        cases.open_case("default", rejected.id, SUE, "")
    with pytest.raises(NotFound):
        cases.open_case("default", "no-such-verification", SUE, "complaint")
    opened = cases.open_case("default", rejected.id, SUE, "customer complaint")
    assert opened.opened_by == "sue" and opened.summary.automated_outcome == "reject"
    assert "DECLARED_NAME_MISMATCH" in opened.summary.reason_codes
    with pytest.raises(Conflict, match="already has a case"):
        cases.open_case("default", rejected.id, SAM, "again")
    cases.claim("default", opened.id, SUE)
    pending = cases.decide("default", opened.id, SUE, "approve", "name is a transliteration")
    assert pending.state == "awaiting_confirmation" and pending.summary.final_outcome is None
    assert pending.to_api()["pending_override"]["proposed_by"] == "sue"
    with pytest.raises(PermissionDenied, match="supervisor"):
        cases.confirm("default", opened.id, ALICE, True, "agree")
    with pytest.raises(PermissionDenied, match="own override"):
        cases.confirm("default", opened.id, SUE, True, "agree with myself")
    confirmed = cases.confirm("default", opened.id, SAM, True, "agree: transliteration")
    assert confirmed.state == "decided" and confirmed.summary.final_outcome == "approve"
    assert confirmed.decided_by == "sue" and confirmed.confirmed_by == "sam"
    assert store.get_verification(rejected.id).decision.outcome == "reject"
    with pytest.raises(Conflict):
        cases.confirm("default", opened.id, SAM, True, "twice")
    assert _actions(store, opened.id) == [
        "case.opened",
        "case.claimed",
        "case.override_proposed",
        "case.override_confirmed",
    ]
    assert store.verify_audit_chain().ok


def test_a_refused_override_leaves_the_rejection_standing(store: Store) -> None:
    cases = ReviewCases(store)
    rejected = verify(verifier_for(store), REJECT)
    case_id = cases.open_case("default", rejected.id, SUE, "complaint").id
    cases.claim("default", case_id, ALICE)
    cases.decide("default", case_id, ALICE, "approve", "looks like them")  # an analyst proposes
    refused = cases.confirm("default", case_id, SUE, False, "document number differs")
    assert refused.state == "decided" and refused.summary.final_outcome == "reject"
    assert refused.decided_by == "sue" and refused.confirmed_by is None


def test_another_tenants_case_is_not_found(store: Store) -> None:
    store.create_tenant("acme")
    cases = ReviewCases(store)
    theirs = _review_case(store, cases, tenant="acme")
    assert cases.list_cases("default").items == []
    assert [c.id for c in cases.list_cases("acme").items] == [theirs]
    for act in (
        lambda: cases.get_case("default", theirs),
        lambda: cases.claim("default", theirs, SUE),
        lambda: cases.decide("default", theirs, SUE, "approve", "x"),
    ):
        with pytest.raises(NotFound):
            act()
    record = verify(verifier_for(store), REJECT, tenant="acme")
    with pytest.raises(NotFound):
        cases.open_case("default", record.id, SUE, "not ours")


def test_queue_filters_sla_and_pages(store: Store) -> None:
    now = [datetime.now(UTC)]
    cases = ReviewCases(store, clock=lambda: now[0])
    ids = [_review_case(store, cases) for _ in range(3)]
    cases.claim("default", ids[0], ALICE)
    assert [c.id for c in cases.list_cases("default", state="claimed").items] == [ids[0]]
    assert [c.id for c in cases.list_cases("default", assignee="alice").items] == [ids[0]]
    assert len(cases.list_cases("default", state="active").items) == 3
    assert len(cases.list_cases("default", reason_code="FACE_MISMATCH").items) == 3
    assert cases.list_cases("default", reason_code="FACE_DUPLICATE_IDENTITY").items == []
    assert cases.list_cases("default", min_age=timedelta(hours=1)).items == []
    assert len(cases.list_cases("default", sla="ok").items) == 3
    now[0] += timedelta(hours=21)  # within the last four hours of the 24 h SLA
    assert len(cases.list_cases("default", sla="due_soon").items) == 3
    assert len(cases.list_cases("default", min_age=timedelta(hours=1)).items) == 3
    now[0] += timedelta(hours=4)
    breached = cases.list_cases("default", sla="breached").items
    assert len(breached) == 3 and all(c.sla == "breached" for c in breached)
    first = cases.list_cases("default", limit=2)
    assert len(first.items) == 2 and first.next_cursor
    rest = cases.list_cases("default", limit=2, cursor=first.next_cursor)
    assert rest.next_cursor is None
    assert sorted(c.id for c in first.items + rest.items) == sorted(ids)
    for bad in ({"state": "nope"}, {"sla": "late"}, {"cursor": "garbage"}, {"limit": 0}):
        with pytest.raises(InvalidInput):
            cases.list_cases("default", **bad)  # type: ignore[arg-type]


def test_erasure_removes_the_subjects_cases_and_keeps_the_chain(store: Store) -> None:
    cases = ReviewCases(store)
    case_id = _review_case(store, cases, subject_id="cust-7")
    other = _review_case(store, cases, subject_id="cust-8")
    cases.claim("default", case_id, ALICE)
    cases.decide("default", case_id, ALICE, "approve", "Anna Eriksson in person")
    exported = SubjectService(store, None).export("cust-7")["review_cases"]
    assert [(c["case_id"], c["final_outcome"], c["images"]) for c in exported] == [
        (case_id, "approve", ["selfie"])
    ]
    assert "alice" not in str(exported)
    SubjectService(store, None).erase("cust-7", actor="test")
    with pytest.raises(NotFound):
        cases.get_case("default", case_id)
    with store.transaction() as session:
        assert session.scalar(select(ReviewCase.id).where(ReviewCase.id == case_id)) is None
        assert list(session.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case_id))) == []
        assert list(session.scalars(select(CaseMedia.id).where(CaseMedia.case_id == case_id))) == []
        texts = [str(p) for p in session.scalars(select(AuditEntry.payload))]
    assert not any("Anna Eriksson" in t for t in texts)
    assert cases.get_case("default", other).media  # the other subject's case is untouched
    assert store.verify_audit_chain().ok


def test_retention_drops_images_of_long_decided_cases_only(store: Store) -> None:
    cases = ReviewCases(store)
    decided, pending = _review_case(store, cases), _review_case(store, cases)
    cases.claim("default", decided, ALICE)
    cases.decide("default", decided, ALICE, "approve", "fine")
    service = SubjectService(store, None)
    settings = Settings(retention_case_media_days=90)
    assert service.purge(settings, now=datetime.now(UTC) + timedelta(days=30)).case_media == 0
    later = datetime.now(UTC) + timedelta(days=91)
    assert service.purge(settings, dry_run=True, now=later).case_media == 1
    assert service.purge(settings, now=later).case_media == 1
    kept = cases.get_case("default", decided)
    assert kept.media == [] and kept.summary.final_outcome == "approve"  # the case and decision stay
    assert len(cases.get_case("default", pending).media) == 1
    assert store.verify_audit_chain().ok


def test_decided_cases_export_as_labels_that_eval_run_reads(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = ReviewCases(store)
    verifier = verifier_for(store)
    decided = {}
    for i, (score, outcome) in enumerate(
        [(0.35, "reject"), (0.4, "reject"), (0.6, "approve"), (0.65, "approve")]
    ):
        record = verify(verifier, score, subject_id=f"cust-{i}")
        detail = cases.case_of_verification("default", record.id)
        assert detail is not None
        cases.claim("default", detail.id, ALICE)
        cases.decide("default", detail.id, ALICE, outcome, f"Anna Eriksson said {outcome}")
        decided[detail.id] = outcome
    _review_case(store, cases)  # still open: not exported
    monkeypatch.setenv("OPENIDV_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    listed = runner.invoke(app, ["cases", "list", "--state", "open", "--json"])
    assert listed.exit_code == 0, listed.output
    open_id = json.loads(listed.output)["items"][0]["id"]
    assert open_id not in decided and len(json.loads(listed.output)["items"]) == 1
    table = runner.invoke(app, ["cases", "list", "--state", "decided"])
    assert table.exit_code == 0 and all(case_id in table.output for case_id in decided)
    assert runner.invoke(app, ["cases", "list", "--sla", "late"]).exit_code == 2
    out = tmp_path / "labels"
    exported = runner.invoke(app, ["cases", "export", "--out", str(out), "--json"])
    assert exported.exit_code == 0, exported.output
    manifest = (out / "manifest.csv").read_text()
    for secret in ("alice", "Anna", "ERIKSSON", "cust-", "L898902C3"):
        assert secret not in manifest
    rows = list(csv.DictReader(line for line in manifest.splitlines() if not line.startswith("#")))
    assert {r["id"]: r["label"] for r in rows} == {
        case_id: "fraud" if outcome == "reject" else "legit" for case_id, outcome in decided.items()
    }
    assert {r["country"] for r in rows} == {"UTO"} and {r["document_type"] for r in rows} == {"passport"}
    assert sorted(p.name for p in (out / "scores").iterdir()) == ["mrz.csv", "test_metadata_score.csv"]
    report_dir = tmp_path / "report"
    ran = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--manifest",
            str(out / "manifest.csv"),
            "--scores",
            str(out / "scores" / "test_metadata_score.csv"),
            "--out",
            str(report_dir),
        ],
    )
    assert ran.exit_code == 0, ran.output
    report = json.loads((report_dir / "report.json").read_text())
    assert report["task"] == "classification"
    assert report["counts"]["rows"] == 4 and report["counts"]["ok"] == 4
    # no decided case yet in another tenant: a clear error, exit 2
    store.create_tenant("empty")
    nothing = runner.invoke(app, ["cases", "export", "--out", str(tmp_path / "none"), "--tenant", "empty"])
    assert nothing.exit_code == 2 and "no decided review case" in nothing.output


def test_two_reviewers_claiming_at_once_one_wins(store: Store) -> None:
    cases = ReviewCases(store)
    case_id = _review_case(store, cases)
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def claim(reviewer: Reviewer) -> None:
        start.wait()
        try:
            cases.claim("default", case_id, reviewer)
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=claim, args=(Reviewer(f"r{i}"),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "won"]
    assert _actions(store, case_id).count("case.claimed") == 1


def test_a_sealed_image_copied_onto_another_case_fails_to_open(store: Store) -> None:
    cases = ReviewCases(store)
    first, second = _review_case(store, cases), _review_case(store, cases)
    with store.transaction() as session:
        a = session.execute(select(CaseMedia).where(CaseMedia.case_id == first)).scalar_one()
        b = session.execute(select(CaseMedia).where(CaseMedia.case_id == second)).scalar_one()
        a.data_sealed, b.data_sealed = b.data_sealed, a.data_sealed
        ids = a.id, b.id
    for case_id, media_id in zip((first, second), ids, strict=True):
        with pytest.raises(ConfigurationError, match="moved"):
            cases.media("default", case_id, media_id)


def _held(store: Store) -> list[HeldMedia]:
    with store.transaction() as session:
        return list(session.scalars(select(HeldMedia).order_by(HeldMedia.verification_id)))


def test_a_contested_rejection_is_reviewed_with_the_images_held_for_it(store: Store) -> None:
    cases = ReviewCases(store)
    rejected = verify(verifier_for(store), REJECT)
    assert cases.list_cases("default").items == []  # a rejection opens no case...
    (held,) = _held(store)  # ...but its images are held, sealed, for a contest
    assert held.verification_id == rejected.id and held.kind == "selfie"
    (selfie,) = review_media(Evidence(selfie=as_image(selfie_pixels())), [])
    assert selfie.data not in bytes(held.data_sealed) and selfie.data[:64] not in bytes(held.data_sealed)
    opened = cases.open_case("default", rejected.id, SUE, "the applicant contests the rejection")
    assert [m.kind for m in opened.media] == ["selfie"]
    image = cases.media("default", opened.id, opened.media[0].id)
    assert image.data == selfie.data  # the very image, now sealed to the case
    assert _held(store) == []  # moved, not copied
    assert store.verify_audit_chain().ok


def test_held_images_end_with_their_hold_and_with_their_subject(store: Store) -> None:
    verifier = Verifier(review_policy(), Services(), store, hold_rejected=timedelta(days=30))
    first = verify(verifier, REJECT, subject_id="cust-1")
    second = verify(verifier, REJECT, subject_id="cust-2")
    third = verify(verifier, REJECT, subject_id="cust-3")
    SubjectService(store, None).erase("cust-1", actor="test")
    assert {h.verification_id for h in _held(store)} == {second.id, third.id}
    # past the hold, a case opened for a contest gets no image, even before the purge ran
    late = ReviewCases(store, clock=lambda: datetime.now(UTC) + timedelta(days=31))
    assert late.open_case("default", third.id, SUE, "contest after the hold").media == []
    service, settings = SubjectService(store, None), Settings()
    assert service.purge(settings, now=datetime.now(UTC) + timedelta(days=29)).case_media == 0
    later = datetime.now(UTC) + timedelta(days=31)
    assert service.purge(settings, dry_run=True, now=later).case_media == 1
    assert service.purge(settings, now=later).case_media == 1
    assert _held(store) == [] and first.id and store.verify_audit_chain().ok


def test_no_image_is_held_when_the_hold_is_zero(store: Store) -> None:
    verify(Verifier(review_policy(), Services(), store, hold_rejected=timedelta(0)), REJECT)
    verify(verifier_for(store), APPROVE)  # an approval never holds anything
    assert _held(store) == []
