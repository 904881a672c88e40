"""Typed, immutable inputs for one applicant.

Every field is optional: a check declares which fields it needs (``Check.requires``) and the pipeline runs
only the checks whose evidence is present. Pixels enter only through ``openidv.imageio``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from openidv.imageio import Image
from openidv.telemetry import Telemetry
from openidv.tenancy import DEFAULT_TENANT

MAX_NAME_LENGTH = 200
MAX_MRZ_LENGTH = 200  # 3 x 30 or 2 x 44 characters plus separators; anything longer is not an MRZ


class DeclaredData(BaseModel):
    """What the applicant typed into the onboarding form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    surname: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    given_names: str = Field(default="", max_length=MAX_NAME_LENGTH)
    birth_date: date | None = None
    nationality: str | None = Field(default=None, min_length=1, max_length=3)
    document_number: str | None = Field(default=None, min_length=1, max_length=40)

    @field_validator("surname", "given_names")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        return no_control_characters(value).strip()

    @field_validator("nationality", "document_number")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return None if value is None else no_control_characters(value)


def no_control_characters(value: str) -> str:
    """Refuse control characters (NUL above all: PostgreSQL cannot store it in text) in text from callers."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


class ApplicantData(BaseModel):
    """Contact and device details from the onboarding session: what the identity graph links accounts by.

    Every field is optional. Lengths and control characters are checked here; whether an email, phone or
    address can be normalised is the identity graph's business (``openidv.checks.graph.identifiers``): the
    API refuses what cannot be, and the ``graph`` check reports it. Stored only sealed (the evidence summary
    keeps which fields were present, never their values) and as keyed pseudonyms in the graph.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320)
    phone: str | None = Field(default=None, min_length=3, max_length=64)
    #: ISO 3166 alpha-2 country of the applicant, used to read national phone numbers
    country: str | None = Field(default=None, min_length=2, max_length=2)
    address: str | None = Field(default=None, min_length=3, max_length=300)
    ip: str | None = Field(default=None, min_length=2, max_length=64)
    device_id: str | None = Field(default=None, min_length=1, max_length=128)
    national_id: str | None = Field(default=None, min_length=2, max_length=64)
    national_id_issued: date | None = None
    #: ISO 3166 alpha-3 issuer of ``DeclaredData.document_number`` (the MRZ's issuer wins when it was read)
    document_issuer: str | None = Field(default=None, min_length=3, max_length=3)

    @field_validator(
        "email", "phone", "country", "address", "ip", "device_id", "national_id", "document_issuer"
    )
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return None if value is None else no_control_characters(value).strip()

    def fields(self) -> dict[str, str]:
        """The fields that are present, as text (dates in ISO form)."""
        return {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in self if v is not None}


class Evidence(BaseModel):
    """Everything known about one applicant at decision time."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    mrz_text: str | None = Field(default=None, max_length=MAX_MRZ_LENGTH)
    declared: DeclaredData | None = None
    applicant: ApplicantData | None = None  # contact and device details the identity graph links by
    # device attributes and behaviour events of the onboarding session (the browser collector's
    # POST /v1/sessions/{id}/telemetry, or a recorded file): read by the device, behaviour and
    # capture_session checks
    telemetry: Telemetry | None = None
    as_of: date | None = None  # the date the verification is judged on; today when None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # --- face biometrics (openidv.checks.face); pixels only ever come from openidv.imageio.load_image
    selfie: Image | None = None  # the applicant's live photo; the largest face is the applicant's
    document_image: Image | None = None  # a photo or scan of the identity document (its portrait is matched)
    document_back: Image | None = None  # the back of the document (TD1 MRZ, licence barcode), when it has one
    # a challenge-response session (POST /v1/liveness/sessions) that this applicant passed; its best frame is
    # usually the selfie, which the injection check must then not call a replay of the session's own capture
    liveness_session_id: str | None = Field(default=None, min_length=1, max_length=64)
    subject_id: str | None = Field(default=None, min_length=1, max_length=200)  # the applicant's id in
    # the caller's system: face_duplicate ignores gallery hits of this same subject (a returning customer)
    # whose verification this is: 1:N searches and liveness sessions are looked up in this tenant only
    tenant_id: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=64)

    @field_validator("liveness_session_id", "subject_id")
    @classmethod
    def _ids_are_plain_text(cls, value: str | None) -> str | None:
        return None if value is None else no_control_characters(value)

    def has(self, field: str) -> bool:
        """Present means not None and, for containers, not empty."""
        value = getattr(self, field, None)
        if isinstance(value, dict | list | tuple | str):
            return len(value) > 0
        return value is not None

    def judged_on(self) -> date:
        return self.as_of or date.today()
