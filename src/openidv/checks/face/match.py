"""1:1 face matching: the ``face_match`` check (``openidv.compare_faces`` is in ``openidv.library.faces``).

``face_match`` compares the largest face in ``evidence.selfie`` with the largest face (the portrait) in
``evidence.document_image``. Its score is the embeddings' cosine rescaled to 0..1 (``(1 + cos) / 2``,
meaning ``similarity``); the decision belongs to the policy, whose threshold ``checks.face_match.
thresholds.match`` was tuned on a labelled set for a stated target (e.g. ``fmr=1e-2``) and is never
written in code. A side without a face is a failure to acquire (``FACE_NOT_FOUND`` /
``DOC_PORTRAIT_NOT_FOUND``).

For evaluation, ``evidence_from_files([a, b])`` puts ``a`` in the selfie and ``b`` in the document image,
so ``openidv eval run --manifest datasets/faces/pairs.csv --check face_match`` scores any pair manifest.
They are decoded exactly as the API decodes uploads (so a threshold tuned by ``eval`` means the same in
production), and each distinct file content is decoded once per check instance (``imageio.cached_images``
with the check's own ``ImageCache``), so in one ``eval run`` every image is detected and embedded once, not
once per pair: faces and embeddings are memoised on the ``Image`` and keyed by values only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from openidv.checks.base import Check
from openidv.checks.face.analysis import (
    FaceFinding,
    face_embedding,
    face_quality,
    find_faces,
    prime_embeddings,
)
from openidv.checks.face.embed import cosine, similarity_from_cosine
from openidv.checks.face.params import FaceMatchParams
from openidv.evidence import Evidence
from openidv.imageio import Image, ImageCache, cached_images
from openidv.results import CheckResult, Meaning, Status


class FaceMatchCheck(Check):
    """Selfie against document portrait, 1:1."""

    name = "face_match"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie", "document_image")
    Params = FaceMatchParams
    params: FaceMatchParams
    #: a comparisons manifest's ``a`` goes in the selfie, ``b`` in the document image
    file_fields = ("selfie", "document_image")
    #: decoded dataset images kept by ``evidence_from_files`` (least recently used out)
    image_cache_size = 512
    _image_cache: ImageCache | None = None

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        """``a`` in the selfie, ``b`` in the document image; the same file content gives the same ``Image``
        for the life of this check (one ``eval run``), so its faces and embedding are computed once."""
        if self._image_cache is None:
            self._image_cache = ImageCache(self.image_cache_size)
        with cached_images(self._image_cache):
            return super().evidence_from_files(paths)

    def _images(self, evidence: Evidence) -> tuple[Image, Image]:
        selfie, document = evidence.selfie, evidence.document_image
        if not isinstance(selfie, Image) or not isinstance(document, Image):
            raise ValueError("face_match needs evidence.selfie and evidence.document_image")
        return selfie, document

    def _find(self, evidence: Evidence) -> tuple[Image, FaceFinding, Image, FaceFinding]:
        selfie, document = self._images(evidence)
        return selfie, self._find_selfie(selfie), document, self._find_portrait(document)

    def _find_selfie(self, image: Image) -> FaceFinding:
        return find_faces(
            image, min_score=self.params.min_detection_score, max_side=self.params.max_detect_side
        )

    def _find_portrait(self, image: Image) -> FaceFinding:
        return find_faces(
            image, min_score=self.params.portrait_min_detection_score, max_side=self.params.max_detect_side
        )

    def _prepare(self, image: Image, find: Callable[[Image], FaceFinding]) -> FaceFinding:
        """Detect, judge and embed the largest face of one side (memoised on the image, so ``_score``
        reads the results instead of computing them again)."""
        found = find(image)
        if found.largest is not None:
            face_quality(image, found.largest, found.faces)
            face_embedding(image, found.largest, self.params.backend)
        return found

    def run(self, evidence: Evidence) -> CheckResult:
        """The two sides are independent until the final dot product: the document side is prepared in a
        second thread while this one prepares the selfie (a pair's wall time on two cores drops by about a
        sixth; docs/face.md, "Speed"). Scores are the same as one after the other."""
        selfie, document = self._images(evidence)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="openidv-face-match") as pool:
            portrait = pool.submit(self._prepare, document, self._find_portrait)
            found_selfie = self._prepare(selfie, self._find_selfie)
            found_portrait = portrait.result()
        return self._score(selfie, found_selfie, document, found_portrait)

    def run_batch(self, batch: Sequence[Evidence]) -> list[CheckResult]:
        """Detect per image, then embed every face of the batch in one call (dlib batches natively)."""
        found = [self._find(e) for e in batch]
        todo = []
        for selfie, a, document, b in found:
            if a.largest is not None and b.largest is not None:
                todo += [(selfie, a.largest), (document, b.largest)]
        prime_embeddings(todo, self.params.backend)
        return [self._score(*item) for item in found]

    def _score(self, selfie: Image, a: FaceFinding, document: Image, b: FaceFinding) -> CheckResult:
        backend = self.params.backend
        details: dict[str, Any] = {
            "backend": backend,
            "selfie": _side(selfie, a),
            "document": _side(document, b),
            "timings_ms": {"detect_selfie": a.detect_ms, "detect_document": b.detect_ms},
        }
        codes = []
        if a.largest is None:
            codes.append("FACE_NOT_FOUND")
        if b.largest is None:
            codes.append("DOC_PORTRAIT_NOT_FOUND")
        if codes:
            return self.result(Status.FAILED_TO_ACQUIRE, None, codes, details)
        assert a.largest is not None and b.largest is not None
        ea = face_embedding(selfie, a.largest, backend)
        eb = face_embedding(document, b.largest, backend)
        cos = cosine(ea.vector, eb.vector)
        details.update({"model": ea.model_id, "cosine": round(cos, 6)})
        details["timings_ms"].update({"embed_selfie": ea.embed_ms, "embed_document": eb.embed_ms})
        return self.result(Status.OK, round(similarity_from_cosine(cos), 6), (), details)


def _side(image: Image, found: FaceFinding) -> dict[str, Any]:
    side: dict[str, Any] = {"image": image.describe(), "face_count": len(found.faces)}
    if found.largest is not None:
        side["face"] = found.largest.to_dict()
        side["quality"] = face_quality(image, found.largest, found.faces).to_dict()
    return side
