"""Per-image face work done once per request and shared by the checks that need it.

The checks of one verification (quality, document portrait, 1:1 match, 1:N duplicate search) run
concurrently on the same ``Image`` objects; each asks for faces, quality and embeddings through these
functions, which compute them once per image (and per parameters) with ``Image.memo``, so the second
caller waits for the first instead of doing the work twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from openidv.checks.face.detect import DetectedFace, detect_faces
from openidv.checks.face.embed import DEFAULT_BACKEND, F32Array, get_embedder
from openidv.checks.face.params import (
    DEFAULT_MAX_SIDE,
    DEFAULT_MIN_SCORE,
    OTHER_FACE_MIN_RELATIVE_SIZE,
    FaceQualityParams,
)
from openidv.checks.face.quality import QualityReport, judge_quality, measure_quality
from openidv.imageio import Image


@dataclass(frozen=True)
class FaceFinding:
    """All faces found in one image (largest first) and how long detection took."""

    faces: tuple[DetectedFace, ...]
    detect_ms: float

    @property
    def largest(self) -> DetectedFace | None:
        return self.faces[0] if self.faces else None


def find_faces(
    image: Image, *, min_score: float = DEFAULT_MIN_SCORE, max_side: int = DEFAULT_MAX_SIDE
) -> FaceFinding:
    def compute() -> FaceFinding:
        start = time.perf_counter()
        faces = detect_faces(image, min_score=float(min_score), max_side=int(max_side))
        return FaceFinding(tuple(faces), round((time.perf_counter() - start) * 1000, 3))

    return image.memo(("faces", float(min_score), int(max_side)), compute)


def face_quality(
    image: Image,
    face: DetectedFace,
    faces: tuple[DetectedFace, ...],
    *,
    other_face_min_relative_size: float = OTHER_FACE_MIN_RELATIVE_SIZE,
) -> QualityReport:
    return image.memo(
        ("quality", face, faces, float(other_face_min_relative_size)),
        lambda: measure_quality(
            image, face, faces, other_face_min_relative_size=float(other_face_min_relative_size)
        ),
    )


@dataclass(frozen=True)
class FaceEmbedding:
    vector: F32Array
    backend: str
    model_id: str
    embed_ms: float


def _embedding_key(backend: str, face: DetectedFace) -> tuple[str, str, DetectedFace]:
    return ("embedding", backend, face)


def face_embedding(image: Image, face: DetectedFace, backend: str = DEFAULT_BACKEND) -> FaceEmbedding:
    def compute() -> FaceEmbedding:
        embedder = get_embedder(backend)
        start = time.perf_counter()
        vector = embedder.embed_chips([embedder.chip(image, face)])[0]
        return FaceEmbedding(
            vector, embedder.backend, embedder.model_id, round((time.perf_counter() - start) * 1000, 3)
        )

    return image.memo(_embedding_key(backend, face), compute)


def prime_embeddings(items: list[tuple[Image, DetectedFace]], backend: str = DEFAULT_BACKEND) -> None:
    """Embed many faces in one batch call (dlib batches; SFace loops) and cache the results."""
    todo, seen = [], set()
    for img, face in items:
        key = (id(img), face)
        if key not in seen and not img.memoized(_embedding_key(backend, face)):
            seen.add(key)
            todo.append((img, face))
    if not todo:
        return
    embedder = get_embedder(backend)
    start = time.perf_counter()
    chips = [embedder.chip(img, face) for img, face in todo]
    vectors = embedder.embed_chips(chips)
    per_face = round((time.perf_counter() - start) * 1000 / len(todo), 3)
    for (img, face), vector in zip(todo, vectors, strict=True):
        done = FaceEmbedding(vector, embedder.backend, embedder.model_id, per_face)
        img.memo(_embedding_key(backend, face), _constant(done))


def _constant(value: FaceEmbedding) -> Callable[[], FaceEmbedding]:
    return lambda: value


@dataclass(frozen=True)
class FaceSample:
    """The largest face of a photo and its quality judged by ``params``: what a 1:N gallery enrols or
    searches with (embed it with ``face_embedding`` once the quality is accepted)."""

    face: DetectedFace
    quality: QualityReport
    failures: tuple[str, ...]


def largest_face_sample(image: Image, params: FaceQualityParams) -> FaceSample | None:
    """Detect, measure and judge the largest face of ``image`` (None when there is no face)."""
    found = find_faces(image, min_score=params.min_detection_score, max_side=params.max_detect_side)
    face = found.largest
    if face is None:
        return None
    report = face_quality(
        image, face, found.faces, other_face_min_relative_size=params.other_face_min_relative_size
    )
    return FaceSample(face, report, tuple(judge_quality(report, params)))
