"""Signed checkpoints of the audit chain's head, kept outside the database.

A chain of MACs shows that no entry was edited, but not that the newest entries were not deleted: the
shortened chain is still a valid chain. So the head (its seq, MAC, entry count and time) is written, signed,
to an append-only JSON-lines file outside the database (``<data dir>/audit-checkpoints.jsonl``, or
``OPENIDV_AUDIT_CHECKPOINTS``); ``openidv audit verify`` checks the chain against every line.

Signature: HMAC-SHA256 with the audit key (its id in the line). The adversary this guards against can write
the database but does not hold the audit key; for them an HMAC is as unforgeable as an Ed25519 signature,
and it needs no second key to keep, back up and rotate. (Ed25519 would only add that a third party could
check checkpoints without being able to forge them; see docs/audit.md.)

Writers: each line is one ``write`` on an ``O_APPEND`` descriptor under an exclusive ``flock``, then
``fsync``: several threads and processes (API workers) append whole lines, never interleaved ones.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from openidv.store.audit_keys import AuditKey, AuditKeyring

_DOMAIN = b"openidv-audit-checkpoint\x00"


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment: entry ``seq`` (the ``n``-th entry) had MAC ``mac``."""

    chain: str  # the MAC (or legacy hash) of the chain's first entry: which log this is
    seq: int
    n: int
    mac: str
    at: str
    key_id: str
    sig: str = ""

    def message(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "sig"}
        return _DOMAIN + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def signed(self, key: AuditKey) -> Checkpoint:
        unsigned = Checkpoint(self.chain, self.seq, self.n, self.mac, self.at, key.key_id)
        return Checkpoint(**{**asdict(unsigned), "sig": key.mac(unsigned.message())})

    def signature_ok(self, keyring: AuditKeyring) -> bool:
        key = keyring.get(self.key_id)
        return key is not None and _equal(key.mac(self.message()), self.sig)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class CheckpointFile:
    """One append-only file of checkpoints (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, checkpoint: Checkpoint) -> None:
        line = (json.dumps(asdict(checkpoint), sort_keys=True, separators=(",", ":")) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            written = os.write(fd, line)
            if written != len(line):  # a full disk: say so rather than leave half a line unnoticed
                raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock

    def read(self) -> list[tuple[int, Checkpoint | None]]:
        """Every line with its number; None for a line that is not a well-formed checkpoint."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out: list[tuple[int, Checkpoint | None]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                out.append((number, _parse(line)))
        return out


def _parse(line: str) -> Checkpoint | None:
    try:
        data: Any = json.loads(line)
        return Checkpoint(
            chain=str(data["chain"]),
            seq=int(data["seq"]),
            n=int(data["n"]),
            mac=str(data["mac"]),
            at=str(data["at"]),
            key_id=str(data["key_id"]),
            sig=str(data["sig"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
