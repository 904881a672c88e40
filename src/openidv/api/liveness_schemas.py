"""Request and response bodies of the liveness session routes (``routes_liveness.py``)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from openidv.checks.liveness.injection import CaptureMetadata
from openidv.errors import InvalidInput
from openidv.services.liveness import NewSession, SubmittedFrame


class FrameIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timestamp_ms: float = Field(description="capture time in milliseconds on the client's clock")
    image: str = Field(description="the frame, JPEG or PNG, base64-encoded", max_length=2_100_000)


class FramesRequest(BaseModel):
    """``POST /v1/liveness/sessions/{id}/frames``: JSON with base64 frames (multipart is not accepted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nonce: str = Field(min_length=1, max_length=64)
    frames: list[FrameIn]
    capture: CaptureMetadata | None = None

    def submitted_frames(self) -> list[SubmittedFrame]:
        """The frames decoded from base64 (``InvalidInput`` naming the first bad one)."""
        out = []
        for i, frame in enumerate(self.frames):
            try:
                data = base64.b64decode(frame.image, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInput(f"frames[{i}].image: not valid base64") from None
            out.append(SubmittedFrame(frame.timestamp_ms, data))
        return out


class SessionOut(BaseModel):
    id: str
    nonce: str
    challenges: list[str]
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, session: NewSession) -> SessionOut:
        return cls(
            id=session.id,
            nonce=session.nonce,
            challenges=list(session.challenges),
            created_at=session.created_at,
            expires_at=session.expires_at,
        )
