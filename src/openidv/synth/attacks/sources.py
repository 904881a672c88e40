"""Bona fide faces the attack simulators start from: real photos only, never generated faces.

Sources, all real and offline: the identity-labelled photos in ``<shared data>/faces`` (single-face photos,
partial faces excluded), frames of the real clip ``<shared data>/video/short_hamilton_clip.mp4`` (the
person in ``faces/lin_manuel_miranda``), and matplotlib's ``grace_hopper.jpg``. Each source is cropped to a
selfie-like framing around its largest face (found by YuNet through ``openidv.checks.face``), so every
species is rendered from the same real pixels and differs only by the simulated attack.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from openidv.checks.face.analysis import find_faces
from openidv.errors import ConfigurationError
from openidv.imageio import Image, UInt8Array, load_image
from openidv.synth.assets import portrait_sources, shared_data_dir

VIDEO = "video/short_hamilton_clip.mp4"
VIDEO_SUBJECT = "lin_manuel_miranda"
#: frames taken from the clip (evenly spaced): enough pose and expression variety, few near-duplicates
VIDEO_FRAMES = 8


@dataclass(frozen=True)
class FaceSource:
    """One real photo of one subject, with its largest face's five landmarks (image pixels)."""

    id: str
    subject: str
    kind: str  # photo | video | package
    image: Image
    landmarks: tuple[tuple[float, float], ...]
    box: tuple[float, float, float, float]


def _with_face(ident: str, subject: str, kind: str, image: Image) -> FaceSource | None:
    face = find_faces(image, min_score=0.8).largest
    if face is None or face.inter_eye_px < 20 or face.score < 0.85:
        return None
    x, y, w, h = (int(max(0, v)) for v in face.box)
    if float(np.mean(image.bgr[y : y + h, x : x + w])) < 60:  # too dark to be a usable selfie source
        return None
    source = FaceSource(ident, subject, kind, image, face.landmarks, face.box)
    crop, _ = selfie_crop(source, np.random.default_rng(0), (360, 480))
    if find_faces(Image.from_array(crop), min_score=0.8).largest is None:
        return None  # not recognisable as a face once framed as a selfie (dark, tiny, blurred frames)
    return source


def _video_frames(path: Path, count: int) -> list[UInt8Array]:
    """Evenly spaced frames of a trusted local clip (OpenCV's decoder; imageio reads stills only)."""
    capture = cv2.VideoCapture(str(path))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        for index in np.linspace(0, max(total - 1, 0), count).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, frame = capture.read()
            if ok and frame is not None:
                frames.append(np.ascontiguousarray(frame, dtype=np.uint8))
        return frames
    finally:
        capture.release()


@functools.cache
def face_sources(data_dir: Path | None = None, video_frames: int = VIDEO_FRAMES) -> tuple[FaceSource, ...]:
    """Every usable real face, sorted by id so a seed always sees the same list."""
    root = data_dir or shared_data_dir()
    found: list[FaceSource] = []
    for src in portrait_sources(root / "faces"):
        if "partial" in src.path.name:  # a face cut by the frame is no selfie to start from
            continue
        ident = f"{src.identity}/{src.path.name}"
        item = _with_face(ident, src.identity, "photo", load_image(src.path))
        if item is not None:
            found.append(item)
    video = root / VIDEO
    if video.is_file():
        for i, frame in enumerate(_video_frames(video, video_frames)):
            image = Image.from_array(frame, source=f"{VIDEO}#{i}")
            item = _with_face(f"{VIDEO_SUBJECT}/clip{i:02d}", VIDEO_SUBJECT, "video", image)
            if item is not None:
                found.append(item)
    try:
        import matplotlib.cbook

        hopper = Path(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
        item = _with_face("grace_hopper/grace_hopper.jpg", "grace_hopper", "package", load_image(hopper))
        if item is not None:
            found.append(item)
    except (ImportError, OSError, ValueError):
        pass
    if len({s.subject for s in found}) < 2:
        raise ConfigurationError(f"need real faces of at least two people under {root}; found {len(found)}")
    return tuple(sorted(found, key=lambda s: s.id))


def selfie_crop(
    source: FaceSource, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[UInt8Array, np.ndarray]:
    """A selfie-like framing (face ~35-55% of the width, slight shift and roll) at ``size`` = (w, h).

    Returns the BGR crop and the 2x3 matrix mapping source pixels into it (to carry landmarks along).
    """
    width, height = size
    pts = np.asarray(source.landmarks, dtype=np.float64)
    eyes = (pts[0] + pts[1]) / 2
    centre = (eyes + (pts[3] + pts[4]) / 2) / 2
    inter_eye = float(np.linalg.norm(pts[1] - pts[0]))
    target_eye = width * rng.uniform(0.16, 0.24)
    scale = target_eye / max(inter_eye, 1.0)
    angle = float(rng.uniform(-6, 6))
    pixels = np.asarray(source.image.bgr)
    factor = 1.0
    if scale < 0.7:  # shrink with area averaging first: warpAffine alone would alias a large photo
        factor = scale * 1.25
        pixels = np.asarray(
            cv2.resize(pixels, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
        centre, scale = centre * factor, scale / factor
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    dx, dy = rng.uniform(-0.06, 0.06) * width, rng.uniform(-0.05, 0.05) * height
    matrix[0, 2] += width / 2 - centre[0] + dx
    matrix[1, 2] += height * 0.46 - centre[1] + dy
    crop = cv2.warpAffine(
        pixels, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    if factor != 1.0:  # express the matrix in the original photo's pixels
        matrix = matrix @ np.array([[factor, 0.0, 0.0], [0.0, factor, 0.0], [0.0, 0.0, 1.0]])
    return np.asarray(crop, dtype=np.uint8), matrix


def transform_points(matrix: np.ndarray, points: tuple[tuple[float, float], ...]) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    out: np.ndarray = pts @ matrix[:, :2].T + matrix[:, 2]
    return out
