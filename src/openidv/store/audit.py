"""Append-only audit log, chained with a keyed MAC, so editing, removing or forging entries is detectable.

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
``checkpoint_every`` entries, expose it. ``openidv.store.audit_verify`` checks all of it, and the digests of
the decision and check rows each ``verification.created`` entry covers (``openidv.store.audit_rows``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from openidv.errors import ConfigurationError
from openidv.settings import Settings
from openidv.store.audit_checkpoints import Checkpoint, CheckpointFile
from openidv.store.audit_keys import AuditKey, AuditKeyring, load_keyring
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

    @classmethod
    def ephemeral(cls, data_dir: Path) -> AuditLog:
        """A random in-memory key, for a throw-away database (a demo, a benchmark) that nobody verifies
        later; its checkpoints go to ``data_dir``."""
        return cls.with_keyring(AuditKeyring(AuditKey(secrets.token_bytes(32))), Settings(data_dir=data_dir))

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
            session,
            key,
            head,
            legacy,
            "system",
            SEALED,
            None,
            {"legacy_entries": legacy, "legacy_head": head.mac},
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
    session.info[_PENDING] = (
        audit_log,
        Checkpoint(chain, entry.seq, entry.n or 0, entry.hash, _timestamp(entry.at), ""),
    )
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
        raise ConfigurationError(
            "the audit log holds only legacy entries: seal it first (`openidv audit seal`)"
        )
    chain = _chain_id(session) or mac
    cp = Checkpoint(chain, seq, int(n or 0), mac, _timestamp(at), "").signed(audit_log.keyring.current)
    audit_log.checkpoints.append(cp)
    return cp
