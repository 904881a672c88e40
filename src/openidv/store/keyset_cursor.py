"""The opaque cursor of keyset pagination: the (time, id) pair of a page's last row, base64url JSON.

Why keyset and not offsets: a page stays right while rows are added or decided under a reader (an offset
would skip or repeat rows), and each page costs one index range scan. Clients treat the cursor as opaque;
a cursor this API did not hand out is a 4xx, never a 500. Used by ``GET /v1/verifications`` (created
time) and ``GET /v1/cases`` (due time).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from openidv.errors import InvalidInput

MAX_ID = 36


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = json.dumps([at.isoformat(), row_id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(time, id) of a cursor ``encode_cursor`` made; ``InvalidInput`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        when = datetime.fromisoformat(at)
        if not isinstance(row_id, str) or when.tzinfo is None or len(row_id) > MAX_ID:
            raise ValueError
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this API returned; start again without it") from None
    return when, row_id
