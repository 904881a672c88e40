"""Per-request plumbing as plain ASGI middleware: a request id, and URLs no handler should ever see.

- Every response carries ``X-Request-ID`` (the caller's, when it is a short token, else a new one); it is in
  ``request.state.request_id`` and in ``openidv.errors.REQUEST_ID`` while the request is served, so an
  unexpected error is logged with it and the caller can quote it.
- A NUL character in the path or the query string (``%00``) is refused with a 400 problem+json before any
  route runs: no id with a NUL in it reaches the store (PostgreSQL refuses NUL in text with an error whose
  SQL text must never be shown).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from openidv.api.problems import PROBLEM_JSON
from openidv.errors import REQUEST_ID

Scope = dict[str, Any]
Message = dict[str, Any]
REQUEST_ID_HEADER = "x-request-id"
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_from(header: bytes | None) -> str:
    text = header.decode("latin-1") if header else ""
    return text if _GOOD_ID.match(text) else uuid.uuid4().hex


class RequestGuard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(dict(scope.get("headers") or {}).get(REQUEST_ID_HEADER.encode()))
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        try:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                    message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
                await send(message)

            query: bytes = scope.get("query_string") or b""
            if "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query:
                await _problem(send_with_id, 400, "NUL characters are not allowed in the URL")
                return
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


async def _problem(send: Any, status: int, detail: str) -> None:
    body = json.dumps(
        {
            "type": f"https://openidv.dev/problems/{status}",
            "title": "Bad request",
            "status": status,
            "detail": detail,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
