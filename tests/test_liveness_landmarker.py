"""The real landmark model (MediaPipe FaceLandmarker, sha256-checked) and SFace on frames of a real clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from openidv.checks.liveness.active import verify_track
from openidv.checks.liveness.params import ActiveParams
from openidv.checks.liveness.session_analysis import observe_track
from openidv.imageio import Image, load_image


def clip_frames(shared_data: Path, n: int) -> list[Image]:
    capture = cv2.VideoCapture(str(shared_data / "video/short_hamilton_clip.mp4"))
    frames: list[Image] = []
    capture.set(cv2.CAP_PROP_POS_FRAMES, 120)  # the lit part of the clip
    while len(frames) < n:
        ok, frame = capture.read()
        assert ok
        frames.append(Image.from_array(frame))
    capture.release()
    return frames


def test_real_frames_keep_their_identity_and_a_swapped_person_is_caught(shared_data: Path) -> None:
    frames = clip_frames(shared_data, 9)
    stamps = [i * 33.37 for i in range(len(frames))]
    track = observe_track(frames, stamps)  # default observer (MediaPipe), embedder (SFace)
    assert all(f.face for f in track.frames)
    assert all(f.yaw is not None and abs(f.yaw) < 60 for f in track.frames)
    assert all("eyeBlinkLeft" in f.blendshapes for f in track.frames)
    same = verify_track(track, ["turn_left"], ActiveParams(min_face_frames=3))
    assert "LIVENESS_IDENTITY_CHANGED" not in same.codes
    assert same.details["temporal"]["min_identity_similarity"] > 0.45
    other = load_image(shared_data / "faces/obama/obama2.jpg")
    w, h = frames[0].width, frames[0].height
    scaled = cv2.resize(np.asarray(other.bgr), (round(other.width * h / other.height), h))
    px = np.zeros((h, w, 3), dtype=np.uint8)  # another person, letterboxed into the same frame size
    x0 = (w - scaled.shape[1]) // 2
    px[:, x0 : x0 + scaled.shape[1]] = scaled
    mixed = frames[:6] + [Image.from_array(px) for _ in range(3)]
    swapped = verify_track(observe_track(mixed, stamps), ["turn_left"], ActiveParams(min_face_frames=3))
    assert "LIVENESS_IDENTITY_CHANGED" in swapped.codes
