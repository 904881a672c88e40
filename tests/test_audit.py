"""The keyed audit chain (issue 12), on SQLite and PostgreSQL: edits of decisions and checks, truncation,
forgery without the key, erasure, gallery and liveness entries, key rotation, legacy logs, concurrency."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import secrets
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from openidv.api.liveness_schemas import FramesRequest
from openidv.crypto import BiometricCipher
from openidv.decision.policy import load_policy
from openidv.services.captures import SqlCaptureIndex
from openidv.services.liveness import LivenessConfig, LivenessService
from openidv.settings import Settings
from openidv.store import audit
from openidv.store.audit_checkpoints import Checkpoint, CheckpointFile
from openidv.store.audit_keys import AuditKey
from openidv.store.db import make_engine
from openidv.store.gallery_repository import GalleryRepository
from openidv.store.models import AuditEntry, Verification
from openidv.store.repository import Store
from tests.liveness_helpers import ScriptedObserver, frames_payload, no_embedder, scripted_track
from tests.test_store import make_record


def save(store: Store, n: int = 1) -> list[str]:
    ids = []
    for _ in range(n):
        record = make_record()
        store.save_verification(record, request_hash="h" * 64, evidence_summary={})
        ids.append(record.id)
    return ids


def entries(store: Store) -> list[AuditEntry]:
    with store.transaction() as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        s.expunge_all()
    return rows


def sql(store: Store, statement: str, **params: object) -> None:
    with store.transaction() as s:
        s.execute(text(statement), params)


# ------------------------------------------------------------------------------------- decision rows


def test_an_intact_log_verifies_and_reports_what_it_covered(store: Store) -> None:
    save(store, 3)
    store.create_tenant("acme")
    report = store.verify_audit_chain()
    assert report.ok, report.problem
    assert report.entries == 4 and report.verifications_covered == 3
    assert report.checkpoints_checked == 4  # one per entry by default
    assert all(e.key_id == store.audit.keyring.current.key_id for e in entries(store))


def test_editing_a_decision_outcome_fails_naming_the_verification(store: Store) -> None:
    _, target, _ = save(store, 3)
    sql(store, "UPDATE decisions SET outcome = 'approve' WHERE verification_id = :v", v=target)
    report = store.verify_audit_chain()
    assert not report.ok
    assert target in (report.problem or "") and "decision or check rows" in (report.problem or "")


def test_editing_a_check_score_or_reason_codes_fails(store: Store) -> None:
    (target,) = save(store)
    sql(store, "UPDATE check_results SET score = 0.99 WHERE verification_id = :v", v=target)
    bad = store.verify_audit_chain()
    assert not bad.ok and target in (bad.problem or "")
    sql(store, "UPDATE check_results SET score = 0.75 WHERE verification_id = :v", v=target)
    assert store.verify_audit_chain().ok  # the digest is of the values, so restoring them restores trust
    sql(store, "UPDATE decisions SET policy_version = 'p0' WHERE verification_id = :v", v=target)
    assert not store.verify_audit_chain().ok


def test_check_details_are_outside_the_digest(store: Store) -> None:
    """Another component may encrypt (and re-encrypt) ``details``; that must not read as tampering."""
    (target,) = save(store)
    sql(store, "UPDATE check_results SET details = :d WHERE verification_id = :v", d='{"enc": "x"}', v=target)
    assert store.verify_audit_chain().ok


def test_a_verification_without_an_audit_entry_fails(store: Store) -> None:
    save(store)
    with store.transaction() as s:  # written around the store: no audit entry
        s.add(
            Verification(
                id="forged-verification",
                created_at=datetime.now(UTC),
                request_hash="x" * 64,
                evidence_summary={},
                latency_ms=1.0,
            )
        )
    report = store.verify_audit_chain()
    assert not report.ok and "forged-verification has no verification.created" in (report.problem or "")


def test_a_missing_verification_fails_unless_its_erasure_is_audited(store: Store) -> None:
    _, erased = save(store, 2)
    sql(store, "DELETE FROM verifications WHERE id = :v", v=erased)
    report = store.verify_audit_chain()
    assert not report.ok and erased in (report.problem or "") and "erasure" in (report.problem or "")
    with store.transaction() as s:  # what subject erasure and retention purge write
        audit.append(s, actor="cli", action="verification.erased", subject=erased, payload={"reason": "gdpr"})
    report = store.verify_audit_chain()
    assert report.ok, report.problem
    assert report.verifications_covered == 1 and report.verifications_erased == 1


# ------------------------------------------------------------------------------------- truncation


def test_deleting_the_newest_entries_is_caught_by_the_checkpoints(store: Store) -> None:
    save(store, 2)
    for name in ("t1", "t2", "t3"):
        store.create_tenant(name)  # entries no other row depends on
    newest = entries(store)[-2:]
    sql(store, "DELETE FROM audit_log WHERE seq >= :s", s=newest[0].seq)
    report = store.verify_audit_chain()
    assert not report.ok
    assert f"records entry {newest[0].seq}" in (report.problem or "")
    assert "newest entries were deleted" in (report.problem or "")


def test_without_automatic_checkpoints_only_the_entries_after_the_last_one_are_exposed(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, audit_checkpoint_every=0)
    store = Store(make_engine(database_url), audit_log=audit.AuditLog.from_settings(settings))
    try:
        for name in ("t1", "t2", "t3"):
            store.create_tenant(name)
        sql(store, "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        assert store.verify_audit_chain().ok  # the documented exposure: nothing recorded the head
        checkpoint = store.checkpoint_audit()
        assert checkpoint is not None and checkpoint.n == 2
        sql(store, "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        report = store.verify_audit_chain()
        assert not report.ok and "newest entries were deleted" in (report.problem or "")
    finally:
        store.engine.dispose()


def test_checkpoint_file_is_private_and_its_lines_are_signed(store: Store) -> None:
    save(store)
    path = store.audit.checkpoints.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    line = json.loads(path.read_text().splitlines()[-1])
    line["n"] += 1  # a forged checkpoint (e.g. to make a legitimate log look truncated)
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    report = store.verify_audit_chain()
    assert not report.ok and "signature does not verify" in (report.problem or "")


def test_a_checkpoint_of_another_log_fails(store: Store) -> None:
    save(store)
    other = Checkpoint("f" * 64, 1, 1, "e" * 64, "2026-01-01T00:00:00.000000Z", "")
    store.audit.checkpoints.append(other.signed(store.audit.keyring.current))
    report = store.verify_audit_chain()
    assert not report.ok and "another audit log" in (report.problem or "")


# ------------------------------------------------------------------------------------- forgery


def test_a_forger_without_the_key_cannot_rewrite_history(store: Store) -> None:
    """Edit a decision, then recompute every later MAC with a key of one's own: still caught."""
    (target,) = save(store)
    save(store, 2)
    sql(store, "UPDATE decisions SET outcome = 'approve' WHERE verification_id = :v", v=target)
    wrong = AuditKey(secrets.token_bytes(32))
    rows = entries(store)
    forged: list[tuple[int, str, str, str]] = []  # seq, payload, prev, mac
    prev = audit.GENESIS_HASH
    for row in rows:
        payload = dict(row.payload)
        if row.subject == target:  # make the entry agree with the edited decision
            payload["decision"] = "approve"
        text_ = audit.canonical_json(payload)
        mac = audit.entry_mac(wrong, prev, row.n or 0, row.at, row.actor, row.action, row.subject, text_)
        forged.append((row.seq, text_, prev, mac))
        prev = mac
    with store.transaction() as s:
        # placeholders first, since prev_hash and hash are unique
        s.execute(text("UPDATE audit_log SET hash = 'h' || seq, prev_hash = 'p' || seq"))
        for seq, text_, prev, mac in forged:
            s.execute(
                text(
                    "UPDATE audit_log SET payload_text = :t, payload = :j, hash = :h, prev_hash = :p "
                    "WHERE seq = :s"
                ),
                {"t": text_, "j": text_, "h": mac, "p": prev, "s": seq},
            )
    report = store.verify_audit_chain()
    assert not report.ok and report.first_bad_seq == rows[0].seq
    assert "hash mismatch" in (report.problem or "")


def test_a_forger_cannot_pass_the_log_off_as_legacy_sha256(store: Store) -> None:
    """Rewrite the whole log as unkeyed SHA-256 entries (what the old chain was): caught with or without
    the checkpoint file."""
    save(store, 2)
    rows = entries(store)
    with store.transaction() as s:
        s.execute(text("UPDATE audit_log SET hash = 'h' || seq, prev_hash = 'p' || seq, key_id = NULL"))
        prev = audit.GENESIS_HASH
        for row in rows:
            h = audit.entry_hash(prev, row.at, row.actor, row.action, row.subject, row.payload_text)
            s.execute(
                text("UPDATE audit_log SET hash = :h, prev_hash = :p WHERE seq = :s"),
                {"h": h, "p": prev, "s": row.seq},
            )
            prev = h
    report = store.verify_audit_chain()
    assert not report.ok and "no keyed entry seals them" in (report.problem or "")
    store.append_audit("audit.sealed")  # an operator seals the rewritten log unawares
    report = store.verify_audit_chain()
    assert not report.ok and "another audit log" in (report.problem or "")  # the checkpoints still know


def test_an_entry_under_an_unknown_key_fails(store: Store) -> None:
    save(store)
    sql(store, "UPDATE audit_log SET key_id = 'deadbeefdeadbeef'")
    report = store.verify_audit_chain()
    assert not report.ok and "not in the key ring" in (report.problem or "")


# ------------------------------------------------------------------------------------- keys


def test_key_rotation_starts_a_new_segment_verified_with_the_retired_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = base64.b64encode(secrets.token_bytes(32)).decode()
    new = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("OPENIDV_AUDIT_KEY", old)
    first = Store(make_engine(database_url))
    save(first, 2)
    first.engine.dispose()

    monkeypatch.setenv("OPENIDV_AUDIT_KEY", new)
    monkeypatch.setenv("OPENIDV_AUDIT_RETIRED_KEYS", old)
    second = Store(make_engine(database_url))
    try:
        save(second)
        actions = [e.action for e in entries(second)]
        assert actions == ["verification.created"] * 2 + ["audit.key_rotated", "verification.created"]
        rotation = entries(second)[2].payload
        assert "previous_key_proof" in rotation and rotation["key_id"] == second.audit.keyring.current.key_id
        report = second.verify_audit_chain()
        assert report.ok, report.problem

        monkeypatch.delenv("OPENIDV_AUDIT_RETIRED_KEYS")
        without_old = Store(second.engine, migrate=False)
        report = without_old.verify_audit_chain()
        assert not report.ok and "not in the key ring" in (report.problem or "")
    finally:
        second.engine.dispose()


def test_legacy_entries_are_reported_until_sealed_then_protected(store: Store) -> None:
    with store.transaction() as s:  # what the unkeyed chain of earlier versions wrote
        prev = audit.GENESIS_HASH
        for i in range(3):
            at = datetime.now(UTC)
            h = audit.entry_hash(prev, at, "cli", "tenant.created", f"old{i}", "{}")
            s.add(
                AuditEntry(
                    at=at,
                    actor="cli",
                    action="tenant.created",
                    subject=f"old{i}",
                    payload={},
                    payload_text="{}",
                    prev_hash=prev,
                    hash=h,
                )
            )
            s.flush()
            prev = h
    report = store.verify_audit_chain()
    assert not report.ok and "3 legacy entries" in (report.problem or "")
    store.append_audit("audit.sealed")
    report = store.verify_audit_chain()
    assert report.ok, report.problem
    assert report.legacy_entries == 3 and [e.action for e in entries(store)][3:] == [
        "audit.legacy_sealed",
        "audit.sealed",
    ]
    sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE subject = 'old1'")
    assert not store.verify_audit_chain().ok


def test_a_store_without_an_audit_key_refuses_to_write(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openidv.errors import ConfigurationError

    monkeypatch.delenv("OPENIDV_AUDIT_KEY")
    store = Store(
        make_engine(database_url), audit_log=audit.AuditLog.from_settings(Settings(data_dir=tmp_path))
    )
    try:
        with pytest.raises(ConfigurationError, match="no audit key"):
            save(store)
        with store.transaction() as s:  # nothing half-written
            assert s.scalar(select(Verification.id)) is None
    finally:
        store.engine.dispose()


# ------------------------------------------------------------------------------------- galleries, liveness


def test_gallery_changes_are_audited_without_personal_data(store: Store, tmp_path: Path) -> None:
    repo = GalleryRepository(store.engine, tmp_path / "g", BiometricCipher(b"k" * 32), audit_log=store.audit)
    gallery = repo.create("customers", "test-backend", "model-1", 4, actor="api_key:k1")
    vector = np.ones(4, np.float32)
    face_a, _ = repo.insert(gallery, "alice@example.com", vector, {}, {}, actor="api_key:k1")
    face_b, _ = repo.insert(gallery, "bob@example.com", vector, {}, {}, actor="cli")
    repo.delete(gallery.id, face_a, actor="api_key:k1")
    repo.delete_subject(gallery.id, "bob@example.com", actor="cli")
    found = [(e.actor, e.action, e.subject, e.payload) for e in entries(store)]
    assert [f[1] for f in found] == [
        "gallery.created",
        "gallery.enrolled",
        "gallery.enrolled",
        "gallery.face_deleted",
        "gallery.subject_deleted",
    ]
    assert [f[0] for f in found] == ["api_key:k1", "api_key:k1", "cli", "api_key:k1", "cli"]
    assert all(f[2] == f"gallery:{gallery.id}" and f[3]["gallery"] == "customers" for f in found)
    assert found[1][3]["face_id"] == face_a and found[4][3]["face_ids"] == [face_b]
    assert found[2][3]["subject"] == found[4][3]["subject"]  # the same pseudonym for the same subject
    assert "@example.com" not in json.dumps(found)
    assert store.verify_audit_chain().ok


def test_a_gallery_change_and_its_entry_commit_together(store: Store, tmp_path: Path) -> None:
    class Broken(audit.AuditLog):
        def pseudonym(self, value: str) -> str:
            raise RuntimeError("audit failed")

    repo = GalleryRepository(
        store.engine, tmp_path / "g", BiometricCipher(b"k" * 32), audit_log=Broken(store.audit.settings)
    )
    gallery = repo.create("customers", "test-backend", "model-1", 4)
    with pytest.raises(RuntimeError):
        repo.insert(gallery, "alice", np.ones(4, np.float32), {}, {})
    assert repo.template_ids(gallery.id) == set()  # the enrolment rolled back with its entry


def test_liveness_sessions_are_audited(store: Store) -> None:
    now = [datetime.now(UTC)]
    service = LivenessService(
        store.engine,
        index=SqlCaptureIndex(store.engine),
        policy=load_policy(),
        observer=ScriptedObserver(scripted_track([("turn_left", 800.0)])),
        embedder=no_embedder,
        config=LivenessConfig(min_frames=10),
        clock=lambda: now[0],
        audit_log=store.audit,
    )
    session = service.create_session(api_key_id="k1", tenant="default")
    now[0] += timedelta(hours=1)
    frames = FramesRequest.model_validate(
        {"nonce": session.nonce, "frames": frames_payload(scripted_track([]))}
    )
    out = service.submit(session.id, frames.submitted_frames(), nonce=session.nonce)
    assert out.outcome == "expired"
    found = [(e.actor, e.action, e.subject, e.payload) for e in entries(store)]
    assert [f[:3] for f in found] == [
        ("api_key:k1", "liveness.session_created", session.id),
        ("api_key:k1", "liveness.session_completed", session.id),
    ]
    assert found[1][3] == {
        "tenant": "default",
        "status": "expired",
        "passed": False,
        "reason_codes": ["LIVENESS_SESSION_EXPIRED"],
    }
    assert session.nonce not in json.dumps(found)
    assert store.verify_audit_chain().ok


# ------------------------------------------------------------------------------------- concurrency


def test_concurrent_appends_keep_the_chain_and_checkpoints_valid(store: Store) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(6):
                if i % 2:
                    store.create_tenant(f"w{worker}-{i}")
                else:
                    save(store)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = store.verify_audit_chain()
    assert report.ok, report.problem
    assert report.entries == 36 and report.verifications_covered == 18
    assert report.checkpoints_checked == 36
    assert [e.n for e in entries(store)] == list(range(1, 37))


def _append_checkpoints(path: str, worker: int, count: int) -> None:
    key = AuditKey(b"p" * 32)
    checkpoints = CheckpointFile(Path(path))
    for i in range(count):
        cp = Checkpoint("c" * 64, worker * 1000 + i, i + 1, "m" * 64, "t", "")
        checkpoints.append(cp.signed(key))


def test_processes_appending_checkpoints_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit-checkpoints.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_checkpoints, args=(str(path), w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    lines = CheckpointFile(path).read()
    assert len(lines) == 800 and all(cp is not None for _, cp in lines)
    key = AuditKey(b"p" * 32)
    assert all(cp.sig == cp.signed(key).sig for _, cp in lines if cp is not None)


# ------------------------------------------------------------------------------------- CLI


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openidv", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_init_key_checkpoint_and_verify(tmp_path: Path) -> None:
    env = {**os.environ, "OPENIDV_DATA_DIR": str(tmp_path)}
    env.pop("OPENIDV_AUDIT_KEY", None)
    env.pop("OPENIDV_DATABASE_URL", None)
    no_key = _cli("audit", "verify", env=env)
    assert no_key.returncode == 2 and "no audit key" in no_key.stderr
    assert len(no_key.stderr.strip().splitlines()) == 1
    made = _cli("audit", "init-key", env=env)
    assert made.returncode == 0, made.stderr
    key_file = tmp_path / "keys" / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _cli("audit", "init-key", env=env).returncode == 2  # never replaced silently
    assert _cli("tenants", "create", "acme", env=env).returncode == 0
    assert _cli("audit", "checkpoint", env=env).returncode == 0
    ok = _cli("audit", "verify", env=env)
    assert ok.returncode == 0 and "intact: 1 entries" in ok.stdout and "2 checkpoints checked" in ok.stdout
    rotated = _cli("audit", "rotate-key", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert _cli("audit", "verify", env=env).returncode == 0
    with open(tmp_path / "audit-checkpoints.jsonl", "a") as f:
        f.write("not json\n")
    tampered = _cli("audit", "verify", env=env)
    assert tampered.returncode == 1 and "is not a checkpoint" in tampered.stderr


def test_the_api_records_the_calling_key_as_actor(api_client) -> None:  # type: ignore[no-untyped-def]
    client, store, headers = api_client
    key_id = store.list_api_keys()[0].id
    made = client.post("/v1/liveness/sessions", headers=headers)
    assert made.status_code == 201, made.text
    created = [e for e in entries(store) if e.action == "liveness.session_created"]
    assert [(e.actor, e.subject) for e in created] == [(f"api_key:{key_id}", made.json()["id"])]
    assert store.verify_audit_chain().ok
