"""Request and response bodies of the HTTP API; pydantic makes them the OpenAPI documentation too."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from openidv.checks.identity_graph import applicant_problems
from openidv.evidence import MAX_MRZ_LENGTH, ApplicantData, DeclaredData, no_control_characters

MRZ_SHAPES = {(3, 30): "TD1", (2, 36): "TD2 or MRV-B", (2, 44): "TD3 or MRV-A"}
_MRZ_LINE = re.compile(r"^[A-Z0-9<]+$")


def normalise_mrz_text(value: str) -> str:
    """Check that the text has the shape of an ICAO 9303 MRZ before any check runs; one message per problem.

    Lines are stripped and blank lines dropped; characters must be A-Z, 0-9 and '<'. Check digits are not
    judged here: a wrong check digit is evidence (a reason code), not a malformed request.
    """
    lines = [line.strip() for line in value.replace("\r", "").split("\n") if line.strip()]
    if not lines:
        raise ValueError("empty; expected the MRZ lines joined by newlines")
    for number, line in enumerate(lines, 1):
        if not _MRZ_LINE.match(line):
            bad = sorted({ch for ch in line if not re.match(r"[A-Z0-9<]", ch)})
            raise ValueError(
                f"line {number} is not MRZ text: characters {''.join(bad)!r} are not allowed (A-Z, 0-9, '<')"
            )
    shape = (len(lines), len(lines[0]))
    if shape not in MRZ_SHAPES or any(len(line) != len(lines[0]) for line in lines):
        lengths = ", ".join(str(len(line)) for line in lines)
        raise ValueError(
            f"not a machine readable zone: {len(lines)} line(s) of {lengths} characters; "
            "expected 3x30 (TD1), 2x36 (TD2, MRV-B) or 2x44 (TD3, MRV-A)"
        )
    return "\n".join(lines)


class VerificationRequest(BaseModel):
    """JSON body of ``POST /v1/verifications``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mrz": "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
                    "declared": {
                        "surname": "Eriksson",
                        "given_names": "Anna Maria",
                        "birth_date": "1974-08-12",
                    },
                }
            ]
        },
    )

    mrz: str = Field(max_length=MAX_MRZ_LENGTH, description="The MRZ lines joined by newlines.")
    declared: DeclaredData | None = Field(default=None, description="What the applicant declared.")
    applicant: ApplicantData | None = Field(
        default=None,
        description="Contact and device details the identity graph links accounts by (email, phone, "
        "country, address, ip, device_id, national_id, national_id_issued, document_issuer); stored sealed "
        "and as keyed pseudonyms. A field that cannot be normalised is refused.",
    )
    liveness_session_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="A completed challenge-response session."
    )
    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="A telemetry session (`POST /v1/sessions`) whose device attributes and behaviour events "
        "the browser collector posted: read by the device, behaviour and capture_session checks.",
    )
    mode: Literal["sync", "async"] | None = Field(
        default=None,
        description="`async`: answer 202 at once and run on a worker (docs/async.md); default `sync`.",
    )

    subject_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The applicant's id in your system: `GET|DELETE /v1/subjects/{subject_id}` export or "
        "erase everything held on them.",
    )

    @field_validator("mrz")
    @classmethod
    def _mrz_shape(cls, value: str) -> str:
        return normalise_mrz_text(value)

    @field_validator("applicant")
    @classmethod
    def _linkable(cls, value: ApplicantData | None) -> ApplicantData | None:
        problems = [] if value is None else applicant_problems(value)
        if problems:
            raise ValueError(problems[0])
        return value

    @field_validator("liveness_session_id", "subject_id", "session_id")
    @classmethod
    def _plain_id(cls, value: str | None) -> str | None:
        return None if value is None else no_control_characters(value)


class CheckResultOut(BaseModel):
    check: str
    version: str
    status: str = Field(description="ok, failed_to_acquire or error")
    score: float | None
    meaning: str = Field(
        description="similarity: higher = more likely genuine; attack: higher = more likely attack"
    )
    reason_codes: list[str]
    details: dict[str, Any]
    latency_ms: float


class ReviewOut(BaseModel):
    """The verification's human review case (docs/review.md)."""

    case_id: str
    state: str = Field(description="open, claimed, escalated, awaiting_confirmation or decided")
    final_outcome: str | None = Field(description="the human decision once decided: approve or reject")
    decided_at: str | None
    decided_by: str | None


class VerificationOut(BaseModel):
    id: str
    created_at: str
    decision: str = Field(description="approve, review or reject: the automated decision, never changed")
    final_outcome: str | None = Field(
        default=None,
        description="the human review's decision once its case is decided, else the automated decision",
    )
    review: ReviewOut | None = Field(default=None, description="the human review case, when there is one")
    reason_codes: list[str]
    reasons: dict[str, str] = Field(description="Each reason code with its catalogue description")
    policy_version: str
    fired_rules: list[dict[str, Any]]
    checks: list[CheckResultOut]
    latency_ms: float
