"""The store on SQLite and PostgreSQL: atomic writes, idempotency, API keys, the audit chain, migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

import openidv.store.all_tables  # noqa: F401
from openidv.errors import Conflict, NotFound
from openidv.results import CheckResult, Decision, FiredRule, Meaning, Outcome, Status
from openidv.store import audit
from openidv.store.db import Base
from openidv.store.models import AuditEntry, CheckResultRow, DecisionRow, Verification
from openidv.store.repository import Store
from openidv.verification import VerificationRecord


def make_record() -> VerificationRecord:
    return VerificationRecord(
        id=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        decision=Decision(
            outcome=Outcome.REJECT,
            reason_codes=("DOC_EXPIRED",),
            policy_version="p1",
            fired_rules=(
                FiredRule(rule="document-expired", outcome=Outcome.REJECT, reason_codes=("DOC_EXPIRED",)),
            ),
        ),
        checks=(
            CheckResult(
                check="mrz",
                version="1.0.0",
                status=Status.OK,
                score=0.75,
                meaning=Meaning.SIMILARITY,
                reason_codes=("DOC_EXPIRED",),
                details={"format": "TD3", "nested": {"a": [1, 2.5]}},
                latency_ms=1.25,
            ),
        ),
        latency_ms=2.5,
    )


def counts(store: Store) -> tuple[int, int, int, int]:
    with store.transaction() as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Verification, CheckResultRow, DecisionRow, AuditEntry)
        )


def test_round_trip(store: Store) -> None:
    record = make_record()
    store.save_verification(record, request_hash="h" * 64, evidence_summary={"fields": ["mrz_text"]})
    loaded = store.get_verification(record.id)
    assert loaded == record
    assert counts(store) == (1, 1, 1, 1)


def test_failure_leaves_nothing_half_written(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_append(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError):
        store.save_verification(make_record(), request_hash="h" * 64, evidence_summary={})
    assert counts(store) == (0, 0, 0, 0)


def test_unknown_verification_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_verification(str(uuid.uuid4()))


def test_idempotency_same_body_returns_first_and_other_body_conflicts(store: Store) -> None:
    key, _ = store.create_api_key("svc")
    first = make_record()
    store.save_verification(
        first, request_hash="a" * 64, evidence_summary={}, api_key_id=key.id, idempotency_key="k1"
    )
    # A racing duplicate (same key, same body) resolves to the stored one instead of failing.
    again = store.save_verification(
        make_record(), request_hash="a" * 64, evidence_summary={}, api_key_id=key.id, idempotency_key="k1"
    )
    assert again.id == first.id
    found = store.find_idempotent(key.id, "k1", "a" * 64)
    assert found is not None and found.id == first.id
    with pytest.raises(Conflict):
        store.find_idempotent(key.id, "k1", "b" * 64)
    assert counts(store)[0] == 1


def test_api_keys_hash_only_and_revoke(store: Store) -> None:
    info, key = store.create_api_key("partner")
    assert key.startswith("oidv_") and len(key) > 40
    assert store.authenticate(key) == info
    assert store.authenticate(key + "x") is None
    with store.transaction() as s:
        stored = s.execute(text("SELECT key_hash FROM api_keys")).scalar_one()
    assert key not in stored
    store.revoke_api_key(info.prefix)
    assert store.authenticate(key) is None
    with pytest.raises(NotFound):
        store.revoke_api_key("nope")


def test_audit_chain_detects_edit_delete_and_truncation(store: Store) -> None:
    for _ in range(4):
        store.save_verification(make_record(), request_hash="h" * 64, evidence_summary={})
    report = store.verify_audit_chain()
    assert report.ok and report.entries == 4

    with store.transaction() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    bad = store.verify_audit_chain()
    assert not bad.ok and bad.first_bad_seq == 2 and "hash mismatch" in (bad.problem or "")
    with store.transaction() as s:
        s.execute(text("UPDATE audit_log SET actor = 'system' WHERE seq = 2"))
    assert store.verify_audit_chain().ok

    with store.transaction() as s:
        payload = s.execute(text("SELECT payload_text FROM audit_log WHERE seq = 3")).scalar_one()
        s.execute(
            text("UPDATE audit_log SET payload = :p WHERE seq = 3"),
            {"p": payload.replace("reject", "approve")},
        )
    assert not store.verify_audit_chain().ok
    assert store.verify_audit_chain().first_bad_seq == 3


def test_audit_chain_detects_removed_entries(store: Store) -> None:
    for _ in range(3):
        store.save_verification(make_record(), request_hash="h" * 64, evidence_summary={})
    head = store.verify_audit_chain().head_hash
    with store.transaction() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    report = store.verify_audit_chain()
    assert not report.ok and "does not link" in (report.problem or "")
    with store.transaction() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    # Only the first entry is left: the chain is consistent, but the signed checkpoints written outside the
    # database (and a recorded head) expose the truncation.
    truncated = store.verify_audit_chain()
    assert not truncated.ok and "newest entries were deleted" in (truncated.problem or ""), truncated
    truncated = store.verify_audit_chain(expect_head=head)
    assert not truncated.ok and "deleted" in (truncated.problem or "")


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_migrate_is_idempotent(database_url: str) -> None:
    Store.from_url(database_url).engine.dispose()
    Store.from_url(database_url).engine.dispose()
