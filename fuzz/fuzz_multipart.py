"""Fuzz the multipart handler of ``POST /v1/verifications`` with crafted requests.

An input is the ``Content-Type`` header value, a newline, then the body, so seeds are readable files. The
request is parsed by ``evidence_from_multipart`` as the API does (Starlette's form parser with the API's
limits, then the fields, images and ``declared`` JSON); allowed outcomes are evidence, ``InvalidInput`` (the
API's 422) or Starlette's 4xx ``HTTPException`` for a malformed form (400)."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext

import atheris

# instrumented for coverage when run by libFuzzer; imported plainly when tests/test_fuzz.py replays the corpus
with (
    atheris.instrument_imports(include=["openidv.api.multipart", "openidv.evidence"])
    if __name__ == "__main__"
    else nullcontext()
):
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    from openidv.api.multipart import evidence_from_multipart
    from openidv.errors import InvalidInput
    from openidv.evidence import Evidence


def request_for(content_type: bytes, body: bytes) -> Request:
    """A Starlette request as the API would see it: the headers, then the body in two chunks."""
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]

    async def receive() -> dict[str, object]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/verifications",
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        "app": object(),  # with an app in scope, Starlette turns a malformed form into a 400
    }
    return Request(scope, receive)


def one_input(data: bytes) -> None:
    content_type, _, body = data.partition(b"\n")
    try:
        evidence, digest = asyncio.run(evidence_from_multipart(request_for(content_type.strip(), body)))
    except InvalidInput as exc:
        assert "\n" not in str(exc), "an error message must be one line"
        return
    except HTTPException as exc:
        assert 400 <= exc.status_code < 500, exc.status_code
        return
    assert isinstance(evidence, Evidence) and len(digest) == 64


if __name__ == "__main__":
    from harness import main

    main(one_input)
