"""Scripted face tracks and small frames for the liveness tests (no model needed)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image as PILImage

from openidv.checks.liveness.tracks import FrameObservation, Track
from openidv.imageio import Image

FPS_MS = 66.7  # 15 fps


def identity(seed: int) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(128)
    return list(v / np.linalg.norm(v))


def near(vec: Sequence[float], seed: int, noise: float = 0.05) -> list[float]:
    v = np.asarray(vec) + noise * np.random.default_rng(seed).standard_normal(len(vec)) / np.sqrt(len(vec))
    return list(v / np.linalg.norm(v))


def neutral(t: float, i: int, person: Sequence[float] | None) -> dict[str, Any]:
    pts = [(100.0 + 0.3 * np.sin(i), 120.0), (160.0, 120.0), (130.0, 150.0), (108.0, 175.0), (152.0, 175.0)]
    return {
        "t_ms": t,
        "face": True,
        "yaw": float(np.sin(i / 3)),
        "pitch": float(np.cos(i / 4)),
        "roll": 0.0,
        "face_width": 0.3,
        "landmarks": pts,
        "sharpness": 100.0,
        "blendshapes": {
            "eyeBlinkLeft": 0.05,
            "eyeBlinkRight": 0.05,
            "mouthSmileLeft": 0.05,
            "mouthSmileRight": 0.05,
        },
        "embedding": None if person is None else near(person, i),
    }


def perform(frame: dict[str, Any], action: str) -> dict[str, Any]:
    f = {**frame, "blendshapes": dict(frame["blendshapes"])}
    if action == "turn_left":
        f["yaw"] = 30.0
    elif action == "turn_right":
        f["yaw"] = -30.0
    elif action == "look_up":
        f["pitch"] = 20.0
    elif action == "smile":
        f["blendshapes"].update(mouthSmileLeft=0.8, mouthSmileRight=0.8)
    elif action == "blink":
        f["blendshapes"].update(eyeBlinkLeft=0.9, eyeBlinkRight=0.9)
    elif action == "move_closer":
        f["face_width"] = 0.45
    return f


def scripted_track(
    script: Sequence[tuple[str, float]],
    *,
    total_ms: float = 6000.0,
    person: Sequence[float] | None = None,
    switch_at_ms: float | None = None,
    other: Sequence[float] | None = None,
) -> Track:
    """Frames at 15 fps; each ``(action, start_ms)`` is performed for 400 ms from ``start_ms``."""
    person = person if person is not None else identity(1)
    frames = []
    n = int(total_ms / FPS_MS)
    for i in range(n):
        t = round(i * FPS_MS + (i % 3) * 0.7, 2)  # a little clock jitter, like a real sensor
        who = other if (switch_at_ms is not None and t >= switch_at_ms and other is not None) else person
        f = neutral(t, i, who if i % 3 == 0 else None)
        for action, start in script:
            if start <= t < start + 400:
                f = perform(f, action)
        frames.append(FrameObservation.model_validate(f))
    return Track(frames=frames, frame_size=(320, 240))


def frame_jpeg(i: int, size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A small, noisy frame unique to ``i`` (real cameras never repeat a frame exactly)."""
    rng = np.random.default_rng([seed, i])
    w, h = size
    base = np.linspace(40, 200, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), dtype=np.float32)
    arr = np.clip(base + 8 * np.sin(i / 2) + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ScriptedObserver:
    """Stands in for MediaPipe: returns the scripted observation recorded for each timestamp."""

    def __init__(self, track: Track) -> None:
        self.by_t = {f.t_ms: f for f in track.frames}

    def __call__(self, image: Image, t_ms: float) -> FrameObservation:
        return self.by_t[t_ms]


def no_embedder(image: Image) -> list[float] | None:
    """The scripted observations carry their own embeddings."""
    return None


def frames_payload(
    track: Track, *, size: tuple[int, int] = (64, 48), identical: bool = False
) -> list[dict[str, Any]]:
    return [
        {"timestamp_ms": f.t_ms, "image": b64(frame_jpeg(0 if identical else i, size))}
        for i, f in enumerate(track.frames)
    ]
