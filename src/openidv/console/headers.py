"""Security headers on every ``/console`` response (pages, redirects, errors and static files alike).

The CSP allows only this origin's own files: no inline script or style, no CDN, no external font, no
framing. ``Referrer-Policy: same-origin`` rather than ``no-referrer``: with ``no-referrer`` Chromium sends
``Origin: null`` on the console's own form posts, which the origin check must refuse; ``same-origin`` still
sends nothing to other sites. Pages are ``no-store`` (they show applicants' data); static files may be cached.
"""

from __future__ import annotations

from typing import Any

CONSOLE_PREFIX = "/console"
STATIC_PREFIX = "/console/static/"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class ConsoleHeaders:
    """Pure ASGI middleware: adds the headers above to responses under ``/console``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC_PREFIX)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _HEADERS} | {b"cache-control"}
                kept = [h for h in message.get("headers", []) if h[0].lower() not in names]
                cache = b"public, max-age=3600" if static else b"no-store"
                message = {**message, "headers": [*kept, *_HEADERS, (b"cache-control", cache)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
