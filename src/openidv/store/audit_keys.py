"""The audit key ring: the key that MACs new audit entries and checkpoints, and retired keys for old ones.

The audit key lives outside the database, so someone who can write the database cannot recompute the
chain. It is 32 random bytes, taken from, in order:

1. ``OPENIDV_AUDIT_KEY``: the key in standard base64 (``openidv audit init-key --print`` makes one);
2. the key file ``<OPENIDV_DATA_DIR>/keys/audit.key`` (base64, mode 0600), written by
   ``openidv audit init-key``.

Retired keys (to verify entries written before a rotation) come from ``OPENIDV_AUDIT_RETIRED_KEYS``
(comma-separated base64) and from the files ``<data dir>/keys/audit-retired/*.key``
(``openidv audit rotate-key`` moves the old key file there). Entries record a key's id, never the key.

The file format and permissions are those of the biometric key (``openidv.crypto``), whose helpers this
module reuses.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from openidv.crypto import parse_key, write_key_file
from openidv.errors import ConfigurationError
from openidv.settings import Settings

log = logging.getLogger(__name__)

AUDIT_KEY_ENV = "OPENIDV_AUDIT_KEY"
RETIRED_KEYS_ENV = "OPENIDV_AUDIT_RETIRED_KEYS"


def audit_key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / "audit.key"


def retired_key_dir(settings: Settings) -> Path:
    return settings.data_dir / "keys" / "audit-retired"


@dataclass(frozen=True)
class AuditKey:
    """One HMAC-SHA256 key and its public id (a digest of the key, so it reveals nothing)."""

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"openidv-audit-key-id\x00" + self.secret).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditKeyring:
    """The current key (writes) and every known key by id (verification)."""

    current: AuditKey
    retired: tuple[AuditKey, ...] = ()

    def get(self, key_id: str) -> AuditKey | None:
        for key in (self.current, *self.retired):
            if key.key_id == key_id:
                return key
        return None


def _read_key_file(path: Path) -> AuditKey:
    mode = path.stat().st_mode & 0o077
    if mode:
        log.warning("audit key file %s is readable by group or others (mode %o)", path, mode)
    return AuditKey(parse_key(path.read_text(encoding="ascii"), str(path)))


def load_current_key(settings: Settings, *, demo: bool = False) -> AuditKey:
    env = os.environ.get(AUDIT_KEY_ENV)
    if env:
        return AuditKey(parse_key(env, AUDIT_KEY_ENV))
    path = audit_key_path(settings)
    if path.is_file():
        return _read_key_file(path)
    if demo:
        log.warning("no audit key configured; the demo creates one at %s", path)
        write_key_file(path)
        return _read_key_file(path)
    raise ConfigurationError(
        f"no audit key: set {AUDIT_KEY_ENV} to 32 random bytes in base64 "
        f"(`openidv audit init-key --print`) or create the key file {path} (`openidv audit init-key`)"
    )


def load_keyring(settings: Settings, *, demo: bool = False) -> AuditKeyring:
    """The current key and the retired ones; see the module docstring for where they come from."""
    current = load_current_key(settings, demo=demo)
    retired: list[AuditKey] = []
    for i, text in enumerate(t for t in (os.environ.get(RETIRED_KEYS_ENV) or "").split(",") if t.strip()):
        retired.append(AuditKey(parse_key(text, f"{RETIRED_KEYS_ENV}[{i}]")))
    folder = retired_key_dir(settings)
    if folder.is_dir():
        retired += [_read_key_file(p) for p in sorted(folder.glob("*.key"))]
    return AuditKeyring(current, tuple(k for k in retired if k.key_id != current.key_id))


def init_key_file(settings: Settings) -> Path:
    """Create ``keys/audit.key``; refuses to replace one (entries MACed with it could not be verified)."""
    path = audit_key_path(settings)
    if path.exists():
        raise ConfigurationError(
            f"{path} already exists; to replace it use `openidv audit rotate-key`, which keeps the old key "
            "for verifying the entries written with it"
        )
    return write_key_file(path)


def rotate_key_file(settings: Settings) -> tuple[AuditKey, AuditKey]:
    """Retire the key file's key (moved to ``keys/audit-retired/<id>.key``) and write a new one.

    Returns (old, new). The next audit entry starts a new segment with an ``audit.key_rotated`` entry.
    """
    if os.environ.get(AUDIT_KEY_ENV):
        raise ConfigurationError(
            f"the audit key comes from {AUDIT_KEY_ENV}: rotate it there (add the old key to "
            f"{RETIRED_KEYS_ENV} and set the new one)"
        )
    path = audit_key_path(settings)
    if not path.is_file():
        raise ConfigurationError(f"no audit key file at {path}; create one with `openidv audit init-key`")
    old = _read_key_file(path)
    folder = retired_key_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    retired = folder / f"{old.key_id}.key"
    if not retired.exists():
        os.link(path, retired)  # the old inode survives the replace below
    write_key_file(path, overwrite=True)
    return old, _read_key_file(path)
