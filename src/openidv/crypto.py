"""Encryption at rest (AES-256-GCM) for biometric data (face templates, gallery index files) and personal
fields (verification evidence summaries and check details, ``openidv.store.sealed``).

The key is 32 random bytes, taken from, in order:

1. ``OPENIDV_ENCRYPTION_KEY``: the key in standard base64 (``openidv face init-key --print`` makes one);
2. the key file ``<OPENIDV_DATA_DIR>/keys/biometric.key`` (base64, mode 0600), written by
   ``openidv face init-key``.

Without either, ``load_cipher`` raises ``ConfigurationError`` saying how to create one; only the demo
(``demo=True``) creates a key file on its own. Every ciphertext carries the id of its key (not the key),
so data encrypted under another key fails with a clear message instead of garbage, and an associated-data
string binds each blob to its place (gallery and template id), so blobs cannot be swapped between rows.

Blob layout: ``b"OIDV1" | key id (8 bytes) | nonce (12 bytes) | ciphertext and 16-byte tag``.

``load_cipher`` returns a ``KeyRing``: envelope encryption (a fresh data key per blob, wrapped by the
master key; ``OIDV2`` blobs) under the current key, and decryption under the current key or any retired one
(``OPENIDV_ENCRYPTION_KEYS_OLD``, ``<data dir>/keys/old/*.key``), so ``openidv crypto rotate`` can move
everything to a new key while servers keep reading (``openidv.store.rotation``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
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
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        log.warning("no encryption key configured; creating one at %s (mode 0600)", path)
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
        self.master_key = key
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
    """The deployment's key ring (``load_keyring``): seals under the current key, opens under any."""
    return load_keyring(settings, demo=demo)


# ------------------------------------------------------------------------------------------ key ring

OLD_KEYS_ENV = "OPENIDV_ENCRYPTION_KEYS_OLD"
ENVELOPE_MAGIC = b"OIDV2"
_WRAPPED = KEY_BYTES + 16
_ENVELOPE_HEADER = len(ENVELOPE_MAGIC) + _KEY_ID + _NONCE + _WRAPPED + _NONCE


def old_keys_dir(settings: Settings | None = None) -> Path:
    """Retired master keys, one ``<key id>.key`` file each, kept so data under them stays readable until
    ``openidv crypto rotate`` has re-encrypted it."""
    return key_file_path(settings).parent / "old"


def blob_key_id(blob: bytes) -> bytes | None:
    """The id of the master key a blob (direct ``OIDV1`` or envelope ``OIDV2``) was sealed under."""
    if blob.startswith(MAGIC) or blob.startswith(ENVELOPE_MAGIC):
        return blob[len(MAGIC) : len(MAGIC) + _KEY_ID]
    return None


class KeyRing(BiometricCipher):
    """Envelope encryption under a ring of master keys: the current one seals, every one opens.

    Each ``encrypt`` draws a fresh data key, encrypts the plaintext with it and wraps the data key with
    the current master key (the key-encryption key); both steps are AES-256-GCM bound to the same
    associated data. The blob names its master key's id, so after a rotation old blobs still open with the
    retired key until ``openidv crypto rotate`` re-seals them under the new one. Blobs written directly by
    ``BiometricCipher`` (``OIDV1``) open too, under whichever ring key matches their id.

    Envelope layout: ``b"OIDV2" | key id (8) | wrap nonce (12) | wrapped data key (48) | nonce (12) |
    ciphertext and tag``.
    """

    def __init__(self, current: bytes, old: tuple[bytes, ...] = ()) -> None:
        super().__init__(current)
        self._current = current
        self._ring: dict[bytes, BiometricCipher] = {self.key_id: self}
        for key in old:
            cipher = BiometricCipher(key)
            self._ring.setdefault(cipher.key_id, cipher)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Hex ids of every key in the ring, the current one first."""
        return tuple(k.hex() for k in self._ring)

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        data_key = secrets.token_bytes(KEY_BYTES)
        wrap_nonce, nonce = secrets.token_bytes(_NONCE), secrets.token_bytes(_NONCE)
        wrapped = AESGCM(self._current).encrypt(wrap_nonce, data_key, b"openidv-dek\x00" + aad)
        body = AESGCM(data_key).encrypt(nonce, plaintext, aad)
        return ENVELOPE_MAGIC + self.key_id + wrap_nonce + wrapped + nonce + body

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        key_id = blob_key_id(blob)
        if key_id is None:
            raise ConfigurationError("not an openidv encrypted blob (bad header)")
        cipher = self._ring.get(key_id)
        if cipher is None:
            raise ConfigurationError(
                f"data was encrypted with another key (key id {key_id.hex()}, configured key ids "
                f"{', '.join(self.key_ids)}); add the old key to {OLD_KEYS_ENV} or {old_keys_dir()}"
            )
        if blob.startswith(MAGIC):
            return BiometricCipher.decrypt(cipher, blob, aad)
        if len(blob) < _ENVELOPE_HEADER + 16:
            raise ConfigurationError("not an openidv encrypted blob (truncated)")
        at = len(ENVELOPE_MAGIC) + _KEY_ID
        wrap_nonce, wrapped = blob[at : at + _NONCE], blob[at + _NONCE : at + _NONCE + _WRAPPED]
        nonce, body = blob[at + _NONCE + _WRAPPED : _ENVELOPE_HEADER], blob[_ENVELOPE_HEADER:]
        try:
            data_key = AESGCM(cipher.master_key).decrypt(wrap_nonce, wrapped, b"openidv-dek\x00" + aad)
            return AESGCM(data_key).decrypt(nonce, body, aad)
        except InvalidTag:
            raise ConfigurationError("encrypted data failed authentication: corrupted or moved") from None

    def is_current(self, blob: bytes) -> bool:
        """Whether ``blob`` is an envelope under the current master key (nothing for rotation to do)."""
        return blob.startswith(ENVELOPE_MAGIC) and blob_key_id(blob) == self.key_id

    def keyed_hash(self, label: str, value: str) -> str:
        """HMAC-SHA256 of ``value`` under a key derived from the current master key: names a person in
        the audit log without revealing them to anyone who lacks the key (and changes with rotation)."""
        mac_key = hmac.new(self._current, b"openidv-keyed-hash\x00" + label.encode(), hashlib.sha256).digest()
        return hmac.new(mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _old_keys(settings: Settings | None) -> tuple[bytes, ...]:
    keys = [
        parse_key(part, OLD_KEYS_ENV)
        for part in (os.environ.get(OLD_KEYS_ENV) or "").split(",")
        if part.strip()
    ]
    folder = old_keys_dir(settings)
    if folder.is_dir():
        keys += [parse_key(p.read_text(encoding="ascii"), str(p)) for p in sorted(folder.glob("*.key"))]
    return tuple(keys)


def load_keyring(settings: Settings | None = None, *, demo: bool = False) -> KeyRing:
    """The current master key (``load_key``) and every retired one (``OPENIDV_ENCRYPTION_KEYS_OLD``,
    comma-separated, and ``<data dir>/keys/old/*.key``)."""
    return KeyRing(load_key(settings, demo=demo), _old_keys(settings))


def retire_key_file(settings: Settings | None = None) -> tuple[str, str]:
    """Move the key file to ``keys/old/<id>.key`` and write a new current key; returns (old id, new id).

    Only for file-held keys: a key given in ``OPENIDV_ENCRYPTION_KEY`` is rotated by the operator (new key
    there, old one in ``OPENIDV_ENCRYPTION_KEYS_OLD``)."""
    if os.environ.get(KEY_ENV):
        raise ConfigurationError(
            f"the key comes from {KEY_ENV}: put a new key there and the old one in {OLD_KEYS_ENV}"
        )
    path = key_file_path(settings)
    if not path.is_file():
        raise ConfigurationError(f"no key file at {path}; create one with `openidv face init-key`")
    old = BiometricCipher(parse_key(path.read_text(encoding="ascii"), str(path)))
    folder = old_keys_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    archived = folder / f"{old.key_id.hex()}.key"
    if not archived.exists():
        os.link(path, archived)  # keeps mode 0600; the old key is readable before the new one exists
    write_key_file(path, overwrite=True)
    new = BiometricCipher(parse_key(path.read_text(encoding="ascii"), str(path)))
    return old.key_id.hex(), new.key_id.hex()
