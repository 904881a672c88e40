"""Append-only audit log, chained with a keyed MAC, so that editing, removing or forging entries is detectable.

Each entry's MAC is ``HMAC-SHA256(audit key, prev_mac || n || time || actor || action || subject || payload)``
(``entry_mac``), where ``n`` is the entry's position in the log. The key lives outside the database
(``openidv.store.audit_keys``): someone who can write the database but does not hold the key cannot recompute
the chain after an edit. Each entry records the id of its key (never the key); a new key starts a new
segment with an ``audit.key_rotated`` entry, and ``verify_chain`` knows the old keys from the key ring.

Entries written before keys (``key_id`` NULL, plain SHA-256 links, ``entry_hash``) are *legacy*: the first
keyed append seals them with an ``audit.legacy_sealed`` entry recording their count and head hash, so from
then on they cannot change unnoticed either; a log that is only legacy fails ``verify`` until sealed
(``openidv audit seal``).

Truncation (deleting the newest entries) leaves a valid shorter chain; signed checkpoints of the head in a
file outside the database (``openidv.store.audit_checkpoints``), written after commit every
``checkpoint_every`` entries, expose it. ``verify_chain`` also recomputes the digests of the decision and
check rows each ``verification.created`` entry covers (``openidv.store.audit_rows``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from openidv.errors import ConfigurationError
from openidv.settings import Settings
from openidv.store.audit_checkpoints import Checkpoint, CheckpointFile
from openidv.store.audit_keys import AuditKey, AuditKeyring, load_keyring
from openidv.store.audit_rows import live_digests
from openidv.store.models import AuditEntry

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 0x6F69_6476  # "oidv": serialises appends on PostgreSQL
#: ``Session.info`` key under which the store's sessions carry their ``AuditLog``
SESSION_KEY = "openidv.audit_log"
_PENDING = "openidv.audit_pending_checkpoint"
_HOOKED = "openidv.audit_hooked"
SEALED = "audit.legacy_sealed"
ROTATED = "audit.key_rotated"
ERASED = "verification.erased"
CREATED = "verification.created"


def canonical_json(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; we only ever write UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str | None, payload_text: str
) -> str:
    """The unkeyed SHA-256 link of legacy entries (written before the audit key existed)."""
    material = "\x1f".join([prev_hash, _timestamp(at), actor, action, subject or "", payload_text])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def entry_mac(
    key: AuditKey,
    prev_mac: str,
    n: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None,
    payload_text: str,
) -> str:
    material = "\x1f".join(
        ["openidv-audit-v2", key.key_id, prev_mac, str(n), _timestamp(at), actor, action, subject or "",
         payload_text]
    )  # fmt: skip
    return key.mac(material.encode("utf-8"))


def rotation_proof(old: AuditKey, new_key_id: str, prev_mac: str) -> str:
    """The old key's consent to hand the chain over to ``new_key_id`` after ``prev_mac``."""
    return old.mac(f"openidv-audit-rotate\x1f{new_key_id}\x1f{prev_mac}".encode())


# ------------------------------------------------------------------------------------------ configuration


@dataclass
class AuditLog:
    """Where a store's audit entries get their key and checkpoints; resolved on first use, so opening a
    store (migrations, reads) needs no key and only writing or verifying does.

    ``checkpoint_every``: write a checkpoint when an append crosses a multiple of it (1: after every
    entry; 0: only on ``checkpoint``).
    """

    settings: Callable[[], Settings] = field(default=Settings.from_env)
    demo: bool = False
    keyring_override: AuditKeyring | None = None
    _keyring: AuditKeyring | None = field(default=None, init=False, repr=False)
    _resolved: Settings | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, demo: bool = False) -> AuditLog:
        return cls(lambda: settings, demo=demo)

    @classmethod
    def with_keyring(cls, keyring: AuditKeyring, settings: Settings) -> AuditLog:
        return cls(lambda: settings, keyring_override=keyring)

    @property
    def resolved_settings(self) -> Settings:
        if self._resolved is None:
            self._resolved = self.settings()
        return self._resolved

    @property
    def keyring(self) -> AuditKeyring:
        if self._keyring is None:
            self._keyring = self.keyring_override or load_keyring(self.resolved_settings, demo=self.demo)
        return self._keyring

    @property
    def checkpoints(self) -> CheckpointFile:
        s = self.resolved_settings
        return CheckpointFile(s.audit_checkpoints or s.data_dir / "audit-checkpoints.jsonl")

    @property
    def checkpoint_every(self) -> int:
        return self.resolved_settings.audit_checkpoint_every

    def pseudonym(self, value: str) -> str:
        """A keyed digest of a personal identifier (a subject id): linkable within one key's lifetime,
        not reversible by someone without the key."""
        return self.keyring.current.mac(b"openidv-audit-subject\x00" + value.encode("utf-8"))[:32]


def session_info(audit_log: AuditLog) -> dict[str, Any]:
    """``Session.info`` for sessions whose writes append audit entries."""
    return {SESSION_KEY: audit_log}


# ------------------------------------------------------------------------------------------ appending


class _Head(NamedTuple):
    seq: int
    mac: str
    key_id: str | None
    n: int | None


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str | None,
    payload: Any,
    audit_log: AuditLog | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction, so it commits or rolls back with the change it records.

    The key comes from ``audit_log`` or the session's (the store's sessions carry one). A checkpoint, when
    due, is written after the transaction commits (never for an entry that rolled back).
    """
    audit_log = audit_log or session.info.get(SESSION_KEY)
    if audit_log is None:
        raise ConfigurationError("no audit log for this session: open it from the store or pass audit_log")
    key = audit_log.keyring.current
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    found = session.execute(
        select(AuditEntry.seq, AuditEntry.hash, AuditEntry.key_id, AuditEntry.n)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    head = _Head(*found) if found is not None else None
    if head is not None and head.key_id is None:
        legacy = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        sealed = _write(
            session, key, head, legacy, "system", SEALED, None, {"legacy_entries": legacy, "legacy_head": head.mac}
        )
        head = _Head(sealed.seq, sealed.hash, key.key_id, sealed.n)
    elif head is not None and head.key_id != key.key_id:
        rotation: dict[str, Any] = {"previous_key_id": head.key_id, "key_id": key.key_id}
        old = audit_log.keyring.get(head.key_id or "")
        if old is not None:
            rotation["previous_key_proof"] = rotation_proof(old, key.key_id, head.mac)
        rotated = _write(session, key, head, head.n or 0, "system", ROTATED, None, rotation)
        head = _Head(rotated.seq, rotated.hash, key.key_id, rotated.n)
    prev_n = (head.n or 0) if head else 0
    entry = _write(session, key, head, prev_n, actor, action, subject, payload)
    every = audit_log.checkpoint_every
    prev_seq = head.seq if head else 0
    if every > 0 and entry.seq // every != prev_seq // every:
        _stage_checkpoint(session, audit_log, entry)
    return entry


def _write(
    session: Session,
    key: AuditKey,
    head: _Head | None,
    prev_n: int,
    actor: str,
    action: str,
    subject: str | None,
    payload: Any,
) -> AuditEntry:
    prev_mac = head.mac if head else GENESIS_HASH
    at = datetime.now(UTC)
    payload_text = canonical_json(payload)
    n = prev_n + 1
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        payload=json.loads(payload_text),
        payload_text=payload_text,
        prev_hash=prev_mac,
        hash=entry_mac(key, prev_mac, n, at, actor, action, subject, payload_text),
        key_id=key.key_id,
        n=n,
    )
    session.add(entry)
    session.flush()
    return entry


def _chain_id(session: Session) -> str | None:
    first: str | None = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq).limit(1))
    return first


def _stage_checkpoint(session: Session, audit_log: AuditLog, entry: AuditEntry) -> None:
    chain = _chain_id(session) or entry.hash
    session.info[_PENDING] = (audit_log, Checkpoint(chain, entry.seq, entry.n or 0, entry.hash, _timestamp(entry.at), ""))
    if not session.info.get(_HOOKED):
        event.listen(session, "after_commit", _write_staged)
        event.listen(session, "after_rollback", _drop_staged)
        session.info[_HOOKED] = True


def _write_staged(session: Session) -> None:
    staged = session.info.pop(_PENDING, None)
    if staged is None:
        return
    audit_log, checkpoint = staged
    try:
        audit_log.checkpoints.append(checkpoint.signed(audit_log.keyring.current))
    except Exception:  # the change is committed; a missing checkpoint narrows coverage, it loses nothing
        log.exception("could not write the audit checkpoint for entry %s", checkpoint.seq)


def _drop_staged(session: Session) -> None:
    session.info.pop(_PENDING, None)


def checkpoint(session: Session, audit_log: AuditLog) -> Checkpoint | None:
    """Write a checkpoint of the current head now (``openidv audit checkpoint``); None for an empty log."""
    found = session.execute(
        select(AuditEntry.seq, AuditEntry.hash, AuditEntry.n, AuditEntry.at, AuditEntry.key_id)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    seq, mac, n, at, key_id = found
    if key_id is None:
        raise ConfigurationError("the audit log holds only legacy entries: seal it first (`openidv audit seal`)")
    chain = _chain_id(session) or mac
    cp = Checkpoint(chain, seq, int(n or 0), mac, _timestamp(at), "").signed(audit_log.keyring.current)
    audit_log.checkpoints.append(cp)
    return cp


# ------------------------------------------------------------------------------------------ verifying


@dataclass(frozen=True)
class ChainReport:
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
            raise _Tampered(f"entry {seq} does not link to the entry before it (an entry was removed or reordered)", seq)
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
                f"entry {row.seq} carries no key id after keyed entries: it was written without the audit key",
                row.seq,
            )
        expected = entry_hash(row.prev_hash, row.at, row.actor, row.action, row.subject, row.payload_text)
        if expected != row.hash:
            raise _Tampered(f"entry {row.seq}: hash mismatch (legacy entry edited after it was written)", row.seq)
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
        expected = entry_mac(key, row.prev_hash, self.n, row.at, row.actor, row.action, row.subject, row.payload_text)
        if not _same(expected, row.hash):
            raise _Tampered(
                f"entry {seq}: hash mismatch (its HMAC does not verify: edited after it was written, or "
                "rewritten by someone without the audit key)",
                seq,
            )
        payload = row.payload if isinstance(row.payload, dict) else {}
        if not self.keyed and self.legacy:
            if row.action != SEALED or payload.get("legacy_entries") != self.legacy or payload.get(
                "legacy_head"
            ) != self.prev_mac:
                raise _Tampered(f"entry {seq}: the legacy entries before it are not sealed as found", seq)
        elif self.keyed and key_id != self.prev_key_id:
            if row.action != ROTATED or payload.get("previous_key_id") != self.prev_key_id:
                raise _Tampered(f"entry {seq}: the audit key changes without an {ROTATED} entry", seq)
            old = self.keyring.get(self.prev_key_id or "")
            proof = payload.get("previous_key_proof")
            if proof is not None and (old is None or not _same(rotation_proof(old, key_id, self.prev_mac), proof)):
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
                f"the log holds {walk.legacy} legacy entries (SHA-256 only, written before the audit key) and "
                "no keyed entry seals them: check them, then run `openidv audit seal`"
            )
        report["checkpoints_checked"] = _check_checkpoints(walk, lines, checkpoints, keyring)
        if expect_head is not None and expect_head != walk.prev_mac:
            raise _Tampered(
                f"head hash {walk.prev_mac} differs from the expected {expect_head}: entries were removed or added"
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
            session.execute(select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch))
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
    walk: _Walk, lines: list[tuple[int, Checkpoint | None]], checkpoints: CheckpointFile, keyring: AuditKeyring
) -> int:
    where = checkpoints.path
    for number, cp in lines:
        if cp is None:
            raise _Tampered(f"{where} line {number} is not a checkpoint (the file was edited)")
        if not cp.signature_ok(keyring):
            raise _Tampered(f"{where} line {number}: its signature does not verify (forged, or its key is unknown)")
        if cp.chain != walk.chain_id:
            raise _Tampered(
                f"{where} line {number} is a checkpoint of another audit log (first entry {cp.chain[:16]}…, this "
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
                f"verification {verification_id}: its stored decision or check rows differ from those audited "
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
