"""CORS for the collector's telemetry posts only, as plain ASGI middleware.

Why not Starlette's ``CORSMiddleware``: it would open every route to the configured origins, while a page
should be able to reach exactly one, ``POST /v1/sessions/{id}/telemetry`` (which takes a session token, never
an API key). Preflights from an allowed origin are answered here (204); from any other origin they are a 403
problem. Simple responses to an allowed origin get ``Access-Control-Allow-Origin`` (errors too, so the
collector can read why a batch was refused). No credentials (cookies) are ever allowed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from openidv.api.problems import PROBLEM_JSON

Scope = dict[str, Any]
Message = dict[str, Any]
TELEMETRY_PATH = re.compile(r"^/v1/sessions/[^/]{1,64}/telemetry$")
PREFLIGHT_MAX_AGE_S = 600


class CollectorCors:
    def __init__(self, app: Any, origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not TELEMETRY_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or {})
        origin = headers.get(b"origin", b"").decode("latin-1")
        allowed = origin in self.origins
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await (self._preflight(send, origin) if allowed else self._refuse(send, origin))
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(self, send: Any, origin: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-allow-methods", b"POST"),
                    (b"access-control-allow-headers", b"authorization, content-type"),
                    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
                    (b"vary", b"Origin"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, send: Any, origin: str) -> None:
        shown = origin[:100] if origin.isprintable() else repr(origin[:100])
        body = json.dumps(
            {
                "type": "https://openidv.dev/problems/403",
                "title": "Forbidden",
                "status": 403,
                "detail": f"origin {shown!r} may not post telemetry; add it to OPENIDV_COLLECTOR_ORIGINS",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
