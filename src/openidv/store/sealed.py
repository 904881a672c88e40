"""Personal fields sealed at rest: JSON values encrypted with the key ring, bound to their row and column.

A verification's ``evidence_summary`` and each check result's ``details`` hold names, dates, document
numbers, MRZ lines and declared data. They are stored as envelope-encrypted blobs (``openidv.crypto.KeyRing``)
in the ``*_sealed`` columns, whose associated data names the row and the column, so a blob copied onto
another row or column fails to open instead of lending that row someone else's data. The plain JSON
columns then hold ``{}``; rows written before encryption keep their plain JSON until ``openidv crypto
rotate`` seals them.
"""

from __future__ import annotations

import json
from typing import Any

from openidv.crypto import KeyRing


def verification_aad(verification_id: str, column: str = "evidence_summary") -> bytes:
    return f"openidv-verification:{verification_id}:{column}".encode()


def check_result_aad(verification_id: str, position: int, column: str = "details") -> bytes:
    return f"openidv-check-result:{verification_id}:{position}:{column}".encode()


def seal_json(ring: KeyRing, value: Any, aad: bytes) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return ring.encrypt(text.encode("utf-8"), aad)


def open_json(ring: KeyRing, blob: bytes, aad: bytes) -> Any:
    return json.loads(ring.decrypt(bytes(blob), aad).decode("utf-8"))
