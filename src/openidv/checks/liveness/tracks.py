"""Per-frame face measurements that the challenge-response verifier reads, and their JSON form.

A track is what the landmark model (MediaPipe FaceLandmarker, ``landmarker.py``) measured on each frame of a
session: head pose, blendshapes, face size, a few landmarks and, on some frames, a face embedding. Recorded
tracks (JSON) let the verifier be tested and replayed without the model or the pixels.

Conventions: ``yaw`` is positive when the person turns their head to their own left (in a non-mirrored
camera frame the nose moves towards the image's right); ``pitch`` is positive when they look up; degrees.
``face_width`` is the face's width as a share of the frame's width.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from openidv.errors import InvalidInput


class FrameObservation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    t_ms: float = Field(description="capture time in milliseconds (client clock)")
    face: bool = Field(default=True, description="a face was found in the frame")
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    face_width: float | None = Field(default=None, ge=0, le=2)
    blendshapes: dict[str, float] = Field(default_factory=dict)
    #: five points (eyes, nose tip, mouth corners) in pixels, for landmark jitter
    landmarks: list[tuple[float, float]] | None = None
    #: L2-normalised face embedding (SFace, 128-d) on frames where one was computed
    embedding: list[float] | None = None
    sharpness: float | None = None

    def shape(self, name: str) -> float:
        return float(self.blendshapes.get(name, 0.0))


class Track(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: list[FrameObservation]
    frame_size: tuple[int, int] | None = None
    note: str = ""

    @classmethod
    def load(cls, path: Path) -> Track:
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{path}: not a recorded track ({exc})") from None

    def dump(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1, exclude_none=True) + "\n", encoding="utf-8")
