"""A tiny Veriff-speaking vendor on loopback for the benchmark tests (a real HTTP server, not a mock).

It follows the wire format of openidv.vendors.adapters.veriff (sessions, media, submit, decision),
checks ``X-AUTH-CLIENT`` and every ``X-HMAC-SIGNATURE``, and answers deterministically from the uploaded
image's bytes: ``answers[bytes] = status`` where status is a Veriff decision (``approved``, ``declined``,
``review``, ``resubmission_requested``) or ``http_500`` (always a server error) or ``rate_limited_once``
(one 429 with Retry-After: 0, then approved) or ``late`` (the first decision poll says null, then approved).
Several vendors share one server under path prefixes, each with its own answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

API_KEY = "test-api-key"
SECRET = "test-shared-secret"
REASONS = {
    "declined": (102, "Suspected document tampering"),
    "resubmission_requested": (204, "Poor image quality"),
}


def _sig(payload: bytes) -> str:
    return hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()


def veriff_app(answers: Mapping[bytes, str]) -> Starlette:
    sessions: dict[str, dict[str, Any]] = {}
    counter = itertools.count(1)

    def refused(request: Request, signed: bytes | None) -> Response | None:
        if request.headers.get("x-auth-client") != API_KEY:
            return JSONResponse(
                {"status": "fail", "code": 1801, "message": "Mandatory X-AUTH-CLIENT header"}, 401
            )
        if signed is not None and request.headers.get("x-hmac-signature") != _sig(signed):
            return JSONResponse({"status": "fail", "code": 1812, "message": "Signature does not match"}, 401)
        return None

    async def create(request: Request) -> Response:
        body = await request.body()
        if (bad := refused(request, None)) is not None:
            return bad
        sid = f"00000000-0000-4000-8000-{next(counter):012d}"
        sessions[sid] = {
            "vendorData": json.loads(body)["verification"]["vendorData"],
            "images": [],
            "polls": 0,
        }
        verification = {
            "id": sid,
            "url": f"https://alchemy.veriff.com/v/{sid}",
            "vendorData": sessions[sid]["vendorData"],
            "host": "https://alchemy.veriff.com",
            "status": "created",
            "sessionToken": "token",
        }
        return JSONResponse({"status": "success", "verification": verification}, 201)

    async def media(request: Request) -> Response:
        body = await request.body()
        if (bad := refused(request, body)) is not None:
            return bad
        sid = request.path_params["sid"]
        image = json.loads(body)["image"]
        sessions[sid]["images"].append((image["context"], base64.b64decode(image["content"])))
        return JSONResponse(
            {
                "status": "success",
                "image": {"context": image["context"], "id": f"img-{sid}", "sessionId": sid},
            }
        )

    async def submit(request: Request) -> Response:
        body = await request.body()
        if (bad := refused(request, body)) is not None:
            return bad
        sid = request.path_params["sid"]
        assert json.loads(body) == {"verification": {"status": "submitted"}}
        return JSONResponse({"status": "success", "verification": {"id": sid, "status": "submitted"}})

    async def decision(request: Request) -> Response:
        sid = request.path_params["sid"]
        if (bad := refused(request, sid.encode())) is not None:
            return bad
        session = sessions[sid]
        session["polls"] += 1
        answer = answers[session["images"][0][1]]
        if answer == "http_500":
            return JSONResponse({"status": "fail", "message": "internal"}, 500)
        if answer == "rate_limited_once" and session["polls"] == 1:
            return JSONResponse(
                {"status": "fail", "message": "Too many requests"}, 429, headers={"Retry-After": "0"}
            )
        if answer == "late" and session["polls"] == 1:
            return JSONResponse({"status": "success", "verification": None})
        status = "approved" if answer in ("rate_limited_once", "late") else answer
        code = {"approved": 9001, "declined": 9102, "resubmission_requested": 9103, "review": 9121}[status]
        reason_code, reason = REASONS.get(status, (None, None))
        return JSONResponse(
            {
                "status": "success",
                "verification": {
                    "id": sid,
                    "attemptId": "a",
                    "code": code,
                    "status": status,
                    "reason": reason,
                    "reasonCode": reason_code,
                    "vendorData": session["vendorData"],
                    "acceptanceTime": "2026-01-01T00:00:00.000Z",
                    "decisionTime": "2026-01-01T00:00:05.000Z",
                },
            }
        )

    return Starlette(
        routes=[
            Route("/v1/sessions", create, methods=["POST"]),
            Route("/v1/sessions/{sid}/media", media, methods=["POST"]),
            Route("/v1/sessions/{sid}", submit, methods=["PATCH"]),
            Route("/v1/sessions/{sid}/decision", decision, methods=["GET"]),
        ]
    )


def vendors_app(tables: Mapping[str, Mapping[bytes, str]]) -> Starlette:
    """One Veriff-speaking vendor per path prefix (``/<name>``)."""
    return Starlette(routes=[Mount(f"/{name}", app=veriff_app(answers)) for name, answers in tables.items()])
