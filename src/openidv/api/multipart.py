"""The multipart form of ``POST /v1/verifications``: images plus the same fields as the JSON body.

Fields: ``selfie``, ``document``, ``document_back`` (image files), ``mrz`` (text), ``declared`` (a JSON
object like the JSON body's), ``subject_id`` (the applicant's id in the caller's system), ``session_id`` (a
telemetry session: the route reads its telemetry, ``form_session_id``). Every image goes
through ``openidv.imageio``; any problem is a 422 naming the field, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from openidv.api.problems import shown
from openidv.api.schemas import normalise_mrz_text
from openidv.checks.identity_graph import applicant_problems
from openidv.errors import InvalidInput
from openidv.evidence import ApplicantData, DeclaredData, Evidence
from openidv.imageio import DEFAULT_LIMITS, DOCUMENT_LIMITS, SELFIE_LIMITS, ImageLimits, load_image
from openidv.verification import request_digest

IMAGE_FIELDS = {"selfie": "selfie", "document": "document_image", "document_back": "document_back"}
# mode: read by the route
TEXT_FIELDS = {"mrz", "declared", "applicant", "subject_id", "liveness_session_id", "session_id", "mode"}
#: each image field is decoded within the pixel cap of what reads it (see ``openidv.imageio``)
FIELD_LIMITS: dict[str, ImageLimits] = {
    "selfie": SELFIE_LIMITS,
    "document": DOCUMENT_LIMITS,
    "document_back": DOCUMENT_LIMITS,
}
MAX_TEXT_FIELD = 4096
#: ``declared`` is a flat object; a few levels leave room for a client's harmless wrapping, while thousands of
#: nested brackets (which fit in 4 KB) would exhaust the JSON decoder's recursion
MAX_JSON_DEPTH = 8

MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "selfie": {"type": "string", "format": "binary", "description": "The applicant's live photo."},
        "document": {"type": "string", "format": "binary", "description": "Photo of the document (front)."},
        "document_back": {"type": "string", "format": "binary", "description": "Back of the document."},
        "mrz": {"type": "string", "description": "MRZ lines joined by newlines, if already read."},
        "declared": {"type": "string", "description": 'JSON object, e.g. {"surname": "Eriksson"}.'},
        "applicant": {
            "type": "string",
            "description": 'JSON object for the identity graph, e.g. {"email": "a@example.com", "ip": "…"}.',
        },
        "subject_id": {"type": "string", "description": "The applicant's id in your system."},
        "liveness_session_id": {
            "type": "string",
            "description": "A completed challenge-response session; send its best frame as the selfie.",
        },
        "session_id": {
            "type": "string",
            "description": "A telemetry session (`POST /v1/sessions`) the browser collector posted to.",
        },
        "mode": {"type": "string", "enum": ["sync", "async"], "description": "`async`: answer 202"},
    },
}


async def evidence_from_multipart(request: Request) -> tuple[Evidence, str]:
    """Parse and validate the form; returns the evidence and a digest of the request for idempotency."""
    form = await request.form(max_files=len(IMAGE_FIELDS), max_fields=len(TEXT_FIELDS) + 2)
    try:
        unknown = sorted(set(form.keys()) - set(IMAGE_FIELDS) - TEXT_FIELDS)
        if unknown:
            raise InvalidInput(
                f"{shown(unknown[0])}: unknown form field; "
                f"accepted: {', '.join([*IMAGE_FIELDS, *TEXT_FIELDS])}"
            )
        values: dict[str, Any] = {}
        digests: dict[str, str] = {}
        for field, attribute in IMAGE_FIELDS.items():
            upload = form.get(field)
            if upload is None:
                continue
            if not isinstance(upload, UploadFile):
                raise InvalidInput(f"{field}: must be a file upload, not a text field")
            data = await upload.read(DEFAULT_LIMITS.max_bytes + 1)
            if not data:
                raise InvalidInput(f"{field}: the uploaded file is empty")
            if len(data) > DEFAULT_LIMITS.max_bytes:
                raise InvalidInput(f"{field}: over the {DEFAULT_LIMITS.max_bytes}-byte limit for one image")
            values[attribute] = await run_in_threadpool(
                partial(load_image, data, name=field, limits=FIELD_LIMITS[field])
            )
            digests[field] = hashlib.sha256(data).hexdigest()
        text = {name: _text(form.get(name), name) for name in TEXT_FIELDS}
        if text["mrz"] is not None:
            try:
                values["mrz_text"] = normalise_mrz_text(text["mrz"])
            except ValueError as exc:
                raise InvalidInput(f"mrz: {exc}") from None
        if text["declared"] is not None:
            values["declared"] = _json_field(text["declared"], "declared", DeclaredData)
        if text["applicant"] is not None:
            values["applicant"] = applicant = _json_field(text["applicant"], "applicant", ApplicantData)
            problems = applicant_problems(applicant)
            if problems:
                raise InvalidInput(f"applicant: {problems[0]}")
        for name in ("subject_id", "liveness_session_id"):
            if text[name] is not None:
                values[name] = text[name]
        session_id = form_session_id(form.get("session_id"))
        if session_id is None and not set(values) & {
            "selfie",
            "document_image",
            "document_back",
            "mrz_text",
            "liveness_session_id",
        }:
            raise InvalidInput(
                "nothing to verify: send at least one of selfie, document, document_back, mrz or session_id"
            )
        try:
            evidence = Evidence(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInput(f"{shown('.'.join(str(p) for p in first['loc']))}: {first['msg']}") from None
    finally:
        await form.close()
    payload = {
        "files": digests,
        "mrz": values.get("mrz_text"),
        "declared": values["declared"].model_dump(mode="json") if "declared" in values else None,
        "applicant": values["applicant"].model_dump(mode="json") if "applicant" in values else None,
        "subject_id": values.get("subject_id"),
        "liveness_session_id": values.get("liveness_session_id"),
    }
    if session_id is not None:  # absent: the digest of a request without telemetry stays what it was
        payload["session_id"] = session_id
    return evidence, request_digest(payload)


def form_session_id(value: Any) -> str | None:
    """The ``session_id`` text field: a telemetry session id (1-64 printable characters) or None."""
    text = _text(value, "session_id")
    if text is None:
        return None
    if not text or len(text) > 64 or not text.isprintable():
        raise InvalidInput("session_id: 1-64 printable characters")
    return text


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a text field, not a file")
    if len(value) > MAX_TEXT_FIELD:
        raise InvalidInput(f"{field}: longer than {MAX_TEXT_FIELD} characters")
    if "\x00" in value:
        raise InvalidInput(f"{field}: must not contain NUL characters")
    return value


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not count), read without
    decoding, so depth can be refused before the decoder recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


_Flat = TypeVar("_Flat", bound=BaseModel)


def _json_field(text: str, name: str, model: type[_Flat]) -> _Flat:
    """A form field holding a flat JSON object (``declared``, ``applicant``), validated by ``model``."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise InvalidInput(f"{name}: nested deeper than {MAX_JSON_DEPTH} levels; send a flat JSON object")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{name}: not valid JSON ({exc.msg})") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = shown(".".join(str(p) for p in first["loc"]))
        raise InvalidInput(
            f"{name}.{where}: {first['msg']}" if where else f"{name}: {first['msg']}"
        ) from None
