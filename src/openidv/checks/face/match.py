"""1:1 face matching: the ``face_match`` check and ``openidv.compare_faces``.

``face_match`` compares the largest face in ``evidence.selfie`` with the largest face (the portrait) in
``evidence.document_image``. Its score is the embeddings' cosine rescaled to 0..1 (``(1 + cos) / 2``,
meaning ``similarity``); the decision belongs to the policy, whose threshold ``checks.face_match.
thresholds.match`` was tuned on a labelled set for a stated target (e.g. ``fmr=1e-2``) and is never
written in code. A side without a face is a failure to acquire (``FACE_NOT_FOUND`` /
``DOC_PORTRAIT_NOT_FOUND``).

For evaluation, ``evidence_from_files([a, b])`` puts ``a`` in the selfie and ``b`` in the document image,
so ``openidv eval run --manifest datasets/faces/pairs.csv --check face_match`` scores any pair manifest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import BaseModel, ConfigDict

from openidv.checks.base import Check
from openidv.checks.face.analysis import (
    FaceFinding,
    face_embedding,
    face_quality,
    find_faces,
    prime_embeddings,
)
from openidv.checks.face.checks import DETECTION_PARAMS, PORTRAIT_PARAMS
from openidv.checks.face.embed import BACKENDS, DEFAULT_BACKEND, cosine, similarity_from_cosine
from openidv.checks.face.quality import QUALITY_PARAMS, QualityReport, judge_quality
from openidv.decision.policy import Policy, load_policy
from openidv.errors import ConfigurationError
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import CheckResult, Meaning, Status


class FaceMatchCheck(Check):
    """Selfie against document portrait, 1:1."""

    name = "face_match"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie", "document_image")
    params_schema: ClassVar[dict[str, Any]] = {
        "backend": DEFAULT_BACKEND,  # sface | dlib; a threshold is tuned for one backend
        **DETECTION_PARAMS,
        "portrait_min_detection_score": PORTRAIT_PARAMS["min_detection_score"],
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["backend"] not in BACKENDS:
            raise ConfigurationError(
                f"face_match: unknown backend {self.params['backend']!r}; choose one of {', '.join(BACKENDS)}"
            )

    def _find(self, evidence: Evidence) -> tuple[Image, FaceFinding, Image, FaceFinding]:
        selfie, document = evidence.selfie, evidence.document_image
        if not isinstance(selfie, Image) or not isinstance(document, Image):
            raise ValueError("face_match needs evidence.selfie and evidence.document_image")
        side = int(self.params["max_detect_side"])
        a = find_faces(selfie, min_score=float(self.params["min_detection_score"]), max_side=side)
        b = find_faces(document, min_score=float(self.params["portrait_min_detection_score"]), max_side=side)
        return selfie, a, document, b

    def run(self, evidence: Evidence) -> CheckResult:
        return self._score(*self._find(evidence))

    def run_batch(self, batch: Sequence[Evidence]) -> list[CheckResult]:
        """Detect per image, then embed every face of the batch in one call (dlib batches natively)."""
        found = [self._find(e) for e in batch]
        todo = []
        for selfie, a, document, b in found:
            if a.largest is not None and b.largest is not None:
                todo += [(selfie, a.largest), (document, b.largest)]
        prime_embeddings(todo, str(self.params["backend"]))
        return [self._score(*item) for item in found]

    def _score(self, selfie: Image, a: FaceFinding, document: Image, b: FaceFinding) -> CheckResult:
        backend = str(self.params["backend"])
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

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        if len(paths) != 2:
            raise ValueError("face_match compares two files (a comparisons manifest: columns a, b)")
        return Evidence(selfie=load_image(paths[0]), document_image=load_image(paths[1]))


def _side(image: Image, found: FaceFinding) -> dict[str, Any]:
    side: dict[str, Any] = {"image": image.describe(), "face_count": len(found.faces)}
    if found.largest is not None:
        side["face"] = found.largest.to_dict()
        side["quality"] = face_quality(image, found.largest, found.faces).to_dict()
    return side


# ------------------------------------------------------------------------------------ compare_faces

ImageSource = Image | str | Path | bytes | BinaryIO


class FaceComparison(BaseModel):
    """What ``compare_faces`` returns; ``model_dump()`` is the ``--json`` output."""

    model_config = ConfigDict(frozen=True)

    status: Status
    similarity: float | None
    meaning: Meaning = Meaning.SIMILARITY
    cosine: float | None
    match: bool | None
    threshold: float | None
    target: str | None
    threshold_note: str | None = None
    policy_version: str
    backend: str
    model: str | None
    reason_codes: tuple[str, ...]
    faces: tuple[dict[str, Any], dict[str, Any]]
    timings_ms: dict[str, float]


def _as_image(value: ImageSource, label: str) -> Image:
    if isinstance(value, Image):
        return value
    if isinstance(value, str | Path | bytes):
        return load_image(value, name=str(value) if isinstance(value, str | Path) else label)
    return load_image(value, name=label)


def compare_faces(
    img_a: ImageSource,
    img_b: ImageSource,
    *,
    policy: Policy | str | Path | None = None,
    backend: str | None = None,
) -> FaceComparison:
    """Compare the largest face in ``img_a`` with the largest face in ``img_b``.

    Images are paths, encoded bytes, binary files or ``Image`` objects. The decision uses the policy's
    tuned ``face_match`` threshold (``policy`` defaults to ``$OPENIDV_POLICY`` or the packaged one), and
    the result says which operating point that threshold was tuned for, each face's quality report with
    the policy's quality verdicts, and timings in milliseconds.
    """
    start = time.perf_counter()
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    cfg = pol.checks.get("face_match")
    params = dict(cfg.params) if cfg else {}
    policy_backend = str(params.get("backend", DEFAULT_BACKEND))
    if backend is not None:
        params["backend"] = backend
    check = FaceMatchCheck(**params)
    t0 = time.perf_counter()
    a = _as_image(img_a, "image A")
    t1 = time.perf_counter()
    b = _as_image(img_b, "image B")
    t2 = time.perf_counter()
    result = check.run(Evidence(selfie=a, document_image=b))

    quality_cfg = pol.checks.get("face_quality")
    quality_params = {**QUALITY_PARAMS, **(dict(quality_cfg.params) if quality_cfg else {})}
    sides = (dict(result.details["selfie"]), dict(result.details["document"]))
    for side in sides:
        if "quality" in side:
            side["quality_failures"] = judge_quality(QualityReport(**side["quality"]), quality_params)

    threshold = target = note = None
    tuned = cfg.thresholds.get("match") if cfg else None
    if tuned is None:
        note = "the policy has no tuned face_match threshold; run `openidv thresholds tune`"
    elif check.params["backend"] != policy_backend:
        note = (
            f"the policy's threshold was tuned for backend {policy_backend!r}, "
            f"not {check.params['backend']!r}"
        )
    else:
        threshold, target = tuned.value, tuned.target
    match = None
    if result.status == Status.OK and result.score is not None and threshold is not None:
        match = result.score >= threshold
    codes = list(result.reason_codes)
    if match is False:
        codes.append("FACE_MISMATCH")
    timings = {
        "load_a": round((t1 - t0) * 1000, 3),
        "load_b": round((t2 - t1) * 1000, 3),
        **{k: float(v) for k, v in result.details.get("timings_ms", {}).items()},
        "total": round((time.perf_counter() - start) * 1000, 3),
    }
    return FaceComparison(
        status=result.status,
        similarity=result.score,
        cosine=result.details.get("cosine"),
        match=match,
        threshold=threshold,
        target=target,
        threshold_note=note,
        policy_version=pol.version,
        backend=str(check.params["backend"]),
        model=result.details.get("model"),
        reason_codes=tuple(dict.fromkeys(codes)),
        faces=sides,
        timings_ms=timings,
    )
