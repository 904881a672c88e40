"""Encryption at rest for biometric data (face templates, gallery index files): AES-256-GCM.

The key is 32 random bytes, taken from, in order:

1. ``OPENIDV_ENCRYPTION_KEY``: the key in standard base64 (``openidv face init-key --print`` makes one);
2. the key file ``<OPENIDV_DATA_DIR>/keys/biometric.key`` (base64, mode 0600), written by
   ``openidv face init-key``.

Without either, ``load_cipher`` raises ``ConfigurationError`` saying how to create one; only the demo
(``demo=True``) creates a key file on its own. Every ciphertext carries the id of its key (not the key),
so data encrypted under another key fails with a clear message instead of garbage, and an associated-data
string binds each blob to its place (gallery and template id), so blobs cannot be swapped between rows.

Blob layout: ``b"OIDV1" | key id (8 bytes) | nonce (12 bytes) | ciphertext and 16-byte tag``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openidv.errors import ConfigurationError
from openidv.settings import Settings

log = logging.getLogger(__name__)

KEY_ENV = "OPENIDV_ENCRYPTION_KEY"
KEY_BYTES = 32
MAGIC = b"OIDV1"
_NONCE = 12
_KEY_ID = 8
_HEADER = len(MAGIC) + _KEY_ID + _NONCE


def key_file_path(settings: Settings | None = None) -> Path:
    settings = settings or Settings.from_env()
    return settings.data_dir / "keys" / "biometric.key"


def new_key_b64() -> str:
    """A fresh random key in base64, suitable for ``OPENIDV_ENCRYPTION_KEY``."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{where}: not valid base64; expected 32 random bytes in base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"{where}: the key is {len(key)} bytes; AES-256-GCM needs exactly {KEY_BYTES}"
        )
    return key


def write_key_file(path: Path, *, overwrite: bool = False) -> Path:
    """Create a new key file readable by its owner only. Refuses to replace an existing key."""
    if path.exists() and not overwrite:
        raise ConfigurationError(
            f"{path} already exists; replacing it would make stored templates unreadable"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (new_key_b64() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def load_key(settings: Settings | None = None, *, demo: bool = False) -> bytes:
    """The biometric key from the environment or the key file; see the module docstring."""
    env = os.environ.get(KEY_ENV)
    if env:
        return parse_key(env, KEY_ENV)
    path = key_file_path(settings)
    if path.is_file():
        mode = path.stat().st_mode & 0o077
        if mode:
            log.warning("biometric key file %s is readable by group or others (mode %o)", path, mode)
        return parse_key(path.read_text(encoding="ascii"), str(path))
    if demo:
        log.warning("no biometric key configured; the demo creates one at %s", path)
        write_key_file(path)
        return parse_key(path.read_text(encoding="ascii"), str(path))
    raise ConfigurationError(
        f"no encryption key for biometric data: set {KEY_ENV} to 32 random bytes in base64 "
        f"(`openidv face init-key --print`) or create the key file {path} (`openidv face init-key`)"
    )


class BiometricCipher:
    """AES-256-GCM with a random 96-bit nonce per blob; thread-safe (no mutable state)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"AES-256-GCM needs a {KEY_BYTES}-byte key, got {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"openidv-biometric-key-id\x00" + key).digest()[:_KEY_ID]

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return MAGIC + self.key_id + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
            raise ConfigurationError("not an openidv encrypted blob (bad header)")
        key_id = blob[len(MAGIC) : len(MAGIC) + _KEY_ID]
        if key_id != self.key_id:
            raise ConfigurationError(
                f"biometric data was encrypted with another key (key id {key_id.hex()}, "
                f"configured key id {self.key_id.hex()})"
            )
        nonce = blob[len(MAGIC) + _KEY_ID : _HEADER]
        try:
            return self._aead.decrypt(nonce, blob[_HEADER:], aad)
        except InvalidTag:
            raise ConfigurationError("biometric data failed authentication: corrupted or moved") from None


def load_cipher(settings: Settings | None = None, *, demo: bool = False) -> BiometricCipher:
    return BiometricCipher(load_key(settings, demo=demo))
