"""Verify the audit log: every MAC and link, the key segments, the checkpoints and the verification rows.

``verify_chain`` reports the first problem found; see ``openidv.store.audit`` for what is written and
docs/audit.md for what each check proves.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openidv.store.audit import (
    CREATED,
    ERASED,
    GENESIS_HASH,
    ROTATED,
    SEALED,
    AuditLog,
    canonical_json,
    entry_hash,
    entry_mac,
    rotation_proof,
)
from openidv.store.audit_checkpoints import Checkpoint, CheckpointFile
from openidv.store.audit_keys import AuditKeyring
from openidv.store.audit_rows import live_digests
from openidv.store.models import AuditEntry


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` checked, and the first problem (``ok`` False) with the entry it concerns."""

    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    legacy_entries: int = 0
    verifications_covered: int = 0
    verifications_legacy: int = 0
    verifications_erased: int = 0
    checkpoints_checked: int = 0
    checkpoint_file: str = ""


class _Tampered(Exception):
    def __init__(self, problem: str, seq: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.seq = seq


@dataclass
class _Walk:
    """What ``verify_chain`` learns walking the log."""

    keyring: AuditKeyring
    wanted: set[int]
    prev_mac: str = GENESIS_HASH
    prev_key_id: str | None = None
    n: int = 0
    legacy: int = 0
    keyed: bool = False
    chain_id: str | None = None
    marks: dict[int, tuple[str, int]] = field(default_factory=dict)
    created: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)

    def step(self, row: AuditEntry) -> None:
        self.n += 1
        seq = row.seq
        if self.chain_id is None:
            self.chain_id = row.hash
        if row.prev_hash != self.prev_mac:
            raise _Tampered(
                f"entry {seq} does not link to the entry before it (an entry was removed or reordered)", seq
            )
        if canonical_json(row.payload) != row.payload_text:
            raise _Tampered(f"entry {seq}: payload differs from the payload that was hashed", seq)
        if row.key_id is None:
            self._legacy(row)
        else:
            self._keyed(row)
        self.prev_mac, self.prev_key_id = row.hash, row.key_id
        if seq in self.wanted:
            self.marks[seq] = (row.hash, self.n)
        if row.action == CREATED and row.subject:
            rows = row.payload.get("rows") if isinstance(row.payload, dict) else None
            self.created[row.subject] = (seq, rows if isinstance(rows, str) else None)
        elif row.action == ERASED and row.subject:
            self.erased.add(row.subject)

    def _legacy(self, row: AuditEntry) -> None:
        if self.keyed:
            raise _Tampered(
                f"entry {row.seq} carries no key id after keyed entries: "
                "it was written without the audit key",
                row.seq,
            )
        expected = entry_hash(row.prev_hash, row.at, row.actor, row.action, row.subject, row.payload_text)
        if expected != row.hash:
            raise _Tampered(
                f"entry {row.seq}: hash mismatch (legacy entry edited after it was written)", row.seq
            )
        self.legacy += 1

    def _keyed(self, row: AuditEntry) -> None:
        seq, key_id = row.seq, row.key_id or ""
        key = self.keyring.get(key_id)
        if key is None:
            raise _Tampered(
                f"entry {seq} names audit key {key_id}, which is not in the key ring: forged, or add the "
                "retired key (OPENIDV_AUDIT_RETIRED_KEYS or keys/audit-retired/)",
                seq,
            )
        if row.n != self.n:
            raise _Tampered(
                f"entry {seq} says it is entry number {row.n} but is number {self.n}: entries were removed",
                seq,
            )
        expected = entry_mac(
            key, row.prev_hash, self.n, row.at, row.actor, row.action, row.subject, row.payload_text
        )
        if not _same(expected, row.hash):
            raise _Tampered(
                f"entry {seq}: hash mismatch (its HMAC does not verify: edited after it was written, or "
                "rewritten by someone without the audit key)",
                seq,
            )
        payload = row.payload if isinstance(row.payload, dict) else {}
        if not self.keyed and self.legacy:
            if (
                row.action != SEALED
                or payload.get("legacy_entries") != self.legacy
                or payload.get("legacy_head") != self.prev_mac
            ):
                raise _Tampered(f"entry {seq}: the legacy entries before it are not sealed as found", seq)
        elif self.keyed and key_id != self.prev_key_id:
            if row.action != ROTATED or payload.get("previous_key_id") != self.prev_key_id:
                raise _Tampered(f"entry {seq}: the audit key changes without an {ROTATED} entry", seq)
            old = self.keyring.get(self.prev_key_id or "")
            proof = payload.get("previous_key_proof")
            if proof is not None and (
                old is None or not _same(rotation_proof(old, key_id, self.prev_mac), proof)
            ):
                raise _Tampered(f"entry {seq}: the key rotation is not signed by the previous key", seq)
        self.keyed = True


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), str(b).encode())


def verify_chain(
    session: Session, audit_log: AuditLog, expect_head: str | None = None, batch: int = 1000
) -> ChainReport:
    """Walk the log in order and recompute every MAC, then check the checkpoints and the verification rows.

    Checkpoints are read before the walk, and the walk and the row check run in one snapshot (one
    transaction; REPEATABLE READ on PostgreSQL), so concurrent appends never read as tampering.
    """
    checkpoints = audit_log.checkpoints
    lines = checkpoints.read()
    keyring = audit_log.keyring
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    walk = _Walk(keyring, {cp.seq for _, cp in lines if cp is not None})
    report: dict[str, Any] = {"checkpoint_file": str(checkpoints.path)}
    try:
        _walk_entries(session, walk, batch)
        if walk.legacy and not walk.keyed:
            raise _Tampered(
                f"the log holds {walk.legacy} legacy entries (SHA-256 only, written before the audit "
                "key) and no keyed entry seals them: check them, then run `openidv audit seal`"
            )
        report["checkpoints_checked"] = _check_checkpoints(walk, lines, checkpoints, keyring)
        if expect_head is not None and expect_head != walk.prev_mac:
            raise _Tampered(
                f"head hash {walk.prev_mac} differs from the expected {expect_head}: "
                "entries were removed or added"
            )
        report.update(_check_rows(session, walk))
    except _Tampered as bad:
        return ChainReport(
            False, walk.n, walk.prev_mac, bad.seq, bad.problem, legacy_entries=walk.legacy, **report
        )
    return ChainReport(True, walk.n, walk.prev_mac, legacy_entries=walk.legacy, **report)


def _walk_entries(session: Session, walk: _Walk, batch: int) -> None:
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            walk.step(row)
            last_seq = row.seq
        session.expunge_all()


def _check_checkpoints(
    walk: _Walk,
    lines: list[tuple[int, Checkpoint | None]],
    checkpoints: CheckpointFile,
    keyring: AuditKeyring,
) -> int:
    where = checkpoints.path
    for number, cp in lines:
        if cp is None:
            raise _Tampered(f"{where} line {number} is not a checkpoint (the file was edited)")
        if not cp.signature_ok(keyring):
            raise _Tampered(
                f"{where} line {number}: its signature does not verify (forged, or its key is unknown)"
            )
        if cp.chain != walk.chain_id:
            raise _Tampered(
                f"{where} line {number} is a checkpoint of another audit log "
                f"(first entry {cp.chain[:16]}…, this "
                f"database's: {(walk.chain_id or 'none, the log is empty')[:16]}): the log was replaced or "
                "emptied, or the file belongs to another database (OPENIDV_AUDIT_CHECKPOINTS)"
            )
        mark = walk.marks.get(cp.seq)
        if mark is None:
            raise _Tampered(
                f"checkpoint of {cp.at} ({where} line {number}) records entry {cp.seq} (the {cp.n}th), which "
                "is missing: the newest entries were deleted",
                cp.seq,
            )
        if mark != (cp.mac, cp.n):
            raise _Tampered(
                f"checkpoint of {cp.at} ({where} line {number}) records entry {cp.seq} with another MAC or "
                "position: the history up to it was rewritten",
                cp.seq,
            )
    return len(lines)


def _check_rows(session: Session, walk: _Walk) -> dict[str, int]:
    covered = legacy = 0
    for verification_id, digest in live_digests(session):
        found = walk.created.pop(verification_id, None)
        if found is None:
            raise _Tampered(
                f"verification {verification_id} has no {CREATED} audit entry (written around the store, or "
                "its entry was removed)"
            )
        seq, expected = found
        if expected is None:
            legacy += 1
        elif digest != expected:
            raise _Tampered(
                f"verification {verification_id}: its stored decision or check rows differ from those "
                "audited "
                f"in entry {seq} (edited after the decision)",
                seq,
            )
        else:
            covered += 1
    erased = 0
    for verification_id, (seq, _) in sorted(walk.created.items(), key=lambda kv: kv[1][0]):
        if verification_id not in walk.erased:
            raise _Tampered(
                f"verification {verification_id} (audit entry {seq}) is missing from the database and no "
                f"{ERASED} entry records its erasure",
                seq,
            )
        erased += 1
    return {"verifications_covered": covered, "verifications_legacy": legacy, "verifications_erased": erased}
