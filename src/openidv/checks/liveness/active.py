"""Challenge-response liveness: did the person perform the requested actions, in order, in time, and stay
the same person throughout?

The verifier reads a ``Track`` (per-frame pose, blendshapes, face size and embeddings; see ``tracks.py``), so
it runs the same on live frames (through MediaPipe FaceLandmarker) and on recorded tracks in tests. Each
action is judged against the person's own neutral start (the first frames), not absolute values:

- ``turn_left`` / ``turn_right``: yaw beyond ``turn_degrees`` from the start, to the person's left / right;
- ``look_up``: pitch beyond ``look_up_degrees`` above the start;
- ``blink``: both eyes' blink blendshapes above ``blink_closed`` after being open (below ``blink_open``);
- ``smile``: both mouth-smile blendshapes above ``smile_level``;
- ``move_closer``: the face becomes ``closer_ratio`` times wider than at the start.

Order: challenges are matched one after another; a *deliberate* action that belongs later in the sequence
(a turn, look-up, smile or approach; blinks happen by themselves) performed before the current one fails the
session as out of order. Timing: each challenge must be met within ``challenge_window_ms`` of the previous
one (or of the first frame). Identity: every embedded frame must stay within ``min_identity_similarity``
(cosine) of the identity that started the session. A static photo performs nothing: it fails its challenges.
Session-level rules (nonce, expiry, single use) live in ``openidv.services.liveness``, which owns the stored
session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openidv.checks.liveness.deepfake import reference_identity, temporal_consistency
from openidv.checks.liveness.params import ActiveParams
from openidv.checks.liveness.tracks import FrameObservation, Track

CHALLENGES = ("turn_left", "turn_right", "look_up", "blink", "smile", "move_closer")
DELIBERATE = frozenset({"turn_left", "turn_right", "look_up", "smile", "move_closer"})


@dataclass(frozen=True)
class ChallengeResult:
    challenge: str
    met: bool
    at_ms: float | None
    reason: str | None  # not_performed | too_late | out_of_order | no_face

    def to_dict(self) -> dict[str, Any]:
        return {"challenge": self.challenge, "met": self.met, "at_ms": self.at_ms, "reason": self.reason}


@dataclass(frozen=True)
class ActiveResult:
    passed: bool
    codes: tuple[str, ...]
    challenges: tuple[ChallengeResult, ...]
    best_frame: int | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason_codes": list(self.codes),
            "challenges": [c.to_dict() for c in self.challenges],
            "best_frame": self.best_frame,
            **self.details,
        }


def _baseline(frames: Sequence[FrameObservation], n: int) -> dict[str, float]:
    first = [f for f in frames if f.face][: max(1, n)]

    def med(values: list[float | None]) -> float:
        vals = [v for v in values if v is not None]
        return float(np.median(vals)) if vals else 0.0

    return {
        "yaw": med([f.yaw for f in first]),
        "pitch": med([f.pitch for f in first]),
        "face_width": med([f.face_width for f in first]),
    }


def action_mask(
    challenge: str, frames: Sequence[FrameObservation], base: Mapping[str, float], p: ActiveParams
) -> np.ndarray:
    """For each frame, whether ``challenge`` is being performed in it."""
    out = np.zeros(len(frames), dtype=bool)
    was_open = False
    for i, f in enumerate(frames):
        if not f.face:
            was_open = False
            continue
        if challenge == "turn_left":
            out[i] = f.yaw is not None and f.yaw - base["yaw"] >= p.turn_degrees
        elif challenge == "turn_right":
            out[i] = f.yaw is not None and base["yaw"] - f.yaw >= p.turn_degrees
        elif challenge == "look_up":
            out[i] = f.pitch is not None and f.pitch - base["pitch"] >= p.look_up_degrees
        elif challenge == "smile":
            out[i] = min(f.shape("mouthSmileLeft"), f.shape("mouthSmileRight")) >= p.smile_level
        elif challenge == "move_closer":
            out[i] = (
                f.face_width is not None
                and base["face_width"] > 0
                and f.face_width / base["face_width"] >= p.closer_ratio
            )
        elif challenge == "blink":
            closed = min(f.shape("eyeBlinkLeft"), f.shape("eyeBlinkRight")) >= p.blink_closed
            opened = max(f.shape("eyeBlinkLeft"), f.shape("eyeBlinkRight")) <= p.blink_open
            out[i] = closed and was_open
            was_open = opened or (was_open and closed)  # a blink is closing after having been open
        else:
            raise ValueError(f"unknown challenge {challenge!r}")
    return out


def _episode_end(mask: np.ndarray, start: int) -> int:
    end = start
    while end + 1 < len(mask) and mask[end + 1]:
        end += 1
    return end


def best_frame(
    frames: Sequence[FrameObservation], allowed: np.ndarray, base: Mapping[str, float]
) -> int | None:
    """The most frontal, open-eyed, largest, sharpest face: the frame to use for the face match."""
    best, best_score = None, -np.inf
    sharp = [f.sharpness for f in frames if f.sharpness is not None]
    sharp_scale = float(np.median(sharp)) if sharp else 1.0
    for i, f in enumerate(frames):
        if not f.face or not allowed[i]:
            continue
        score = -abs((f.yaw or 0.0) - base["yaw"]) / 10 - abs((f.pitch or 0.0) - base["pitch"]) / 10
        score -= 2 * max(f.shape("eyeBlinkLeft"), f.shape("eyeBlinkRight"))
        score += 2 * (f.face_width or 0.0)
        if f.sharpness is not None and sharp_scale > 0:
            score += min(f.sharpness / sharp_scale, 2.0)
        if score > best_score:
            best, best_score = i, score
    return best


def verify_track(track: Track, challenges: Sequence[str], params: ActiveParams | None = None) -> ActiveResult:
    """Judge a track against a challenge sequence (no session rules: see ``services/liveness.py``)."""
    p = params or ActiveParams()
    frames = sorted(track.frames, key=lambda f: f.t_ms)
    unknown = [c for c in challenges if c not in CHALLENGES]
    if unknown:
        raise ValueError(f"unknown challenge(s) {unknown}")
    n_face = sum(f.face for f in frames)
    details: dict[str, Any] = {"n_frames": len(frames), "frames_with_face": n_face}
    if n_face < p.min_face_frames:
        results = tuple(ChallengeResult(c, False, None, "no_face") for c in challenges)
        return ActiveResult(False, ("LIVENESS_CHALLENGE_FAILED",), results, None, details)
    base = _baseline(frames, p.baseline_frames)
    masks = {c: action_mask(c, frames, base, p) for c in set(challenges)}
    t0 = frames[0].t_ms
    cursor, cursor_t = p.baseline_frames, t0
    results_list: list[ChallengeResult] = []
    failed = False
    for k, challenge in enumerate(challenges):
        if failed:
            results_list.append(ChallengeResult(challenge, False, None, "not_reached"))
            continue
        hits = np.nonzero(masks[challenge][cursor:])[0]
        if hits.size == 0:
            results_list.append(ChallengeResult(challenge, False, None, "not_performed"))
            failed = True
            continue
        at = cursor + int(hits[0])
        later = {c for c in challenges[k + 1 :] if c in DELIBERATE and c != challenge}
        early = [c for c in later if masks[c][cursor:at].any()]
        if early:
            results_list.append(ChallengeResult(challenge, False, frames[at].t_ms - t0, "out_of_order"))
            failed = True
            continue
        if frames[at].t_ms - cursor_t > p.challenge_window_ms:
            results_list.append(ChallengeResult(challenge, False, frames[at].t_ms - t0, "too_late"))
            failed = True
            continue
        results_list.append(ChallengeResult(challenge, True, frames[at].t_ms - t0, None))
        end = _episode_end(masks[challenge], at)
        cursor, cursor_t = end + 1, frames[at].t_ms
    codes: list[str] = []
    if failed:
        codes.append("LIVENESS_CHALLENGE_FAILED")
    embeddings = [np.asarray(f.embedding) if f.embedding is not None else None for f in frames]
    landmarks = [np.asarray(f.landmarks) if f.landmarks is not None else None for f in frames]
    temporal = temporal_consistency(embeddings, landmarks, p)
    details["temporal"] = temporal.to_dict()
    codes += [c for c in temporal.codes if c not in codes]
    allowed = np.ones(len(frames), dtype=bool)
    if temporal.min_identity_similarity is not None:
        allowed = np.array(
            [e is None or _cos_to(e, embeddings) >= p.min_identity_similarity for e in embeddings]
        )
    chosen = best_frame(frames, allowed, base)
    details["best_frame_t_ms"] = None if chosen is None else frames[chosen].t_ms
    return ActiveResult(
        not codes, tuple(codes), tuple(results_list), _original_index(track, frames, chosen), details
    )


def _cos_to(e: np.ndarray, all_embeddings: Sequence[np.ndarray | None]) -> float:
    stack = np.stack([v / (np.linalg.norm(v) + 1e-12) for v in all_embeddings if v is not None])
    centre = reference_identity(stack)
    return float(np.dot(e / (np.linalg.norm(e) + 1e-12), centre))


def _original_index(track: Track, ordered: Sequence[FrameObservation], chosen: int | None) -> int | None:
    if chosen is None:
        return None
    target = ordered[chosen]
    return next(i for i, f in enumerate(track.frames) if f is target)
