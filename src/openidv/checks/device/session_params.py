"""Parameters of the ``capture_session`` check (pydantic only: the policy validates
them without importing it)."""

from __future__ import annotations

from pydantic import Field

from openidv.checks.base import CheckParams

#: fields where a paste counts as ``identity_pastes`` (the collector's field names)
IDENTITY_FIELDS: tuple[str, ...] = (
    "surname",
    "given_names",
    "name",
    "full_name",
    "birth_date",
    "document_number",
    "national_id",
    "personal_number",
)


class CaptureSessionParams(CheckParams):
    """Which fields are identity fields. The model is ``capture-session-v1``; the anomaly threshold is the
    policy's (``checks.capture_session.thresholds.anomaly``)."""

    identity_fields: tuple[str, ...] = Field(default=IDENTITY_FIELDS, min_length=1, max_length=64)
