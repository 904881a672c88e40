"""Paper cut-out mask attacks: a printed face cut out along its outline, eye holes cut, worn over a real face.

The wearer is a real person (their hair, ears, neck and eyes stay live); the face area is paper: printed
(reduced gamut, halftone, texture), flat (it does not follow the head's 3D shape, so it sits slightly off in
perspective), with a hard cut edge, a thin shadow where it stands off the face, and the wearer's own eyes
showing through the holes.
"""

from __future__ import annotations

import cv2
import numpy as np

from openidv.synth.attacks.camera import F32
from openidv.synth.attacks.faces import align_onto, face_ellipse, face_frame
from openidv.synth.attacks.printing import printed_photo


def mask_attack(
    wearer: F32, wearer_pts: np.ndarray, face: F32, face_pts: np.ndarray, rng: np.random.Generator
) -> tuple[F32, dict[str, str]]:
    h, w = wearer.shape[:2]
    printed, variant = printed_photo(face, rng)
    jitter = wearer_pts + rng.normal(0, 0.02, size=wearer_pts.shape) * np.linalg.norm(
        wearer_pts[1] - wearer_pts[0]
    )
    paper = align_onto(printed, face_pts, jitter, (w, h))
    outline = face_ellipse(wearer_pts, (w, h), rng.uniform(2.1, 2.6), rng.uniform(2.9, 3.4), lift=0.25)
    _, ied, roll = face_frame(wearer_pts)
    holes = np.zeros((h, w), dtype=np.float32)
    for eye in wearer_pts[:2]:
        axes = (max(1, int(ied * rng.uniform(0.16, 0.22))), max(1, int(ied * rng.uniform(0.08, 0.12))))
        cv2.ellipse(holes, (int(eye[0]), int(eye[1])), axes, roll, 0, 360, 1.0, -1, cv2.LINE_AA)
    cover = np.clip(outline - holes, 0, 1)
    offset = np.array(
        [[1, 0, rng.uniform(-0.05, 0.05) * ied], [0, 1, rng.uniform(0.02, 0.08) * ied]], dtype=np.float32
    )
    shadow = cv2.warpAffine(cover, offset, (w, h))
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(1.0, 0.05 * ied)) * rng.uniform(0.25, 0.5)
    base = wearer * (1 - shadow[:, :, None] * (1 - cover[:, :, None]))
    out: F32 = (base * (1 - cover[:, :, None]) + paper * cover[:, :, None]).astype(np.float32)
    variant["framing"] = "worn"
    return out, variant
