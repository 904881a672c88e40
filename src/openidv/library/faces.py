"""The plain face verbs: ``compare_faces(a, b)`` (1:1) and ``Gallery`` (1:N), images as anything.

An image is a path, encoded bytes, a binary file, a PIL image, a numpy array (``H x W x 3`` uint8 in RGB
order, as PIL and face_recognition give it) or an ``openidv.imageio.Image``. Decisions are the policy's:
``compare_faces`` judges the similarity with ``policy.judge(result, "match")`` and a ``Gallery`` refuses a
duplicate enrolment by ``policy.judge_score("face_duplicate", "duplicate", ...)``; no threshold is
written here.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from openidv.checks.face.match import FaceMatchCheck
from openidv.checks.face.params import FaceMatchParams, FaceQualityParams
from openidv.checks.face.quality import QualityReport, judge_quality
from openidv.decision.policy import Policy, load_policy
from openidv.evidence import Evidence
from openidv.imageio import ImageLike, as_image
from openidv.results import Meaning, Status
from openidv.settings import Settings

if TYPE_CHECKING:  # the gallery's modules (FAISS, SQLAlchemy) load when a Gallery is built
    from openidv.services.face_gallery import EnrollResult, GalleryInfo, GalleryService, SearchResult
    from openidv.store.repository import Store

__all__ = ["FaceComparison", "Gallery", "compare_faces"]


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


def _policy(policy: Policy | str | Path | None) -> Policy:
    return policy if isinstance(policy, Policy) else load_policy(policy)


def _label(value: ImageLike, fallback: str) -> str:
    return str(value) if isinstance(value, str | Path) else fallback


def compare_faces(
    img_a: ImageLike,
    img_b: ImageLike,
    *,
    policy: Policy | str | Path | None = None,
    backend: str | None = None,
) -> FaceComparison:
    """Compare the largest face in ``img_a`` with the largest face in ``img_b``.

    The decision uses the policy's tuned ``face_match`` threshold (``policy`` defaults to
    ``$OPENIDV_POLICY`` or the packaged one), and the result says which operating point that threshold
    was tuned for, each face's quality report with the policy's quality verdicts, and timings in
    milliseconds. ``match`` is None when the policy has no threshold for the backend used.
    """
    start = time.perf_counter()
    pol = _policy(policy)
    params = pol.params("face_match")
    policy_backend = FaceMatchParams.model_validate(params).backend
    if backend is not None:
        params["backend"] = backend
    check = FaceMatchCheck(**params)
    t0 = time.perf_counter()
    a = as_image(img_a, name=_label(img_a, "image A"))
    t1 = time.perf_counter()
    b = as_image(img_b, name=_label(img_b, "image B"))
    t2 = time.perf_counter()
    result = check.run(Evidence(selfie=a, document_image=b))

    quality_params = FaceQualityParams.model_validate(pol.params("face_quality"))
    sides = (dict(result.details["selfie"]), dict(result.details["document"]))
    for side in sides:
        if "quality" in side:
            side["quality_failures"] = judge_quality(QualityReport(**side["quality"]), quality_params)

    threshold = target = note = None
    cfg = pol.checks.get("face_match")
    tuned = cfg.thresholds.get("match") if cfg else None
    if tuned is None:
        note = "the policy has no tuned face_match threshold; run `openidv thresholds tune`"
    elif check.params.backend != policy_backend:
        note = (
            f"the policy's threshold was tuned for backend {policy_backend!r}, not {check.params.backend!r}"
        )
    else:
        threshold, target = tuned.value, tuned.target
    match = None
    if threshold is not None:
        verdict = pol.judge(result, "match")  # holds: the rule "score < match" fires, a mismatch
        match = None if verdict is None else not verdict.holds
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
        backend=check.params.backend,
        model=result.details.get("model"),
        reason_codes=tuple(dict.fromkeys(codes)),
        faces=sides,
        timings_ms=timings,
    )


class Gallery:
    """One named 1:N gallery, for library users::

        with Gallery("onboarding") as gallery:
            gallery.enroll("alice.jpg", "customer-1")
            best = gallery.search(photo_bytes, k=3).matches[0]

    Built once on the deployment's database and data folder (``Settings.from_env()`` and a ``Store`` on
    its database unless given), with the policy's quality and duplicate rules. Templates are encrypted
    with the deployment's biometric key (``openidv face init-key``).
    """

    def __init__(
        self,
        name: str = "onboarding",
        *,
        settings: Settings | None = None,
        store: Store | None = None,
        policy: Policy | str | Path | None = None,
        service: GalleryService | None = None,
    ) -> None:
        from openidv.services.face_gallery import GalleryService, validate_gallery_name
        from openidv.store.gallery_tables import create_gallery_tables
        from openidv.store.repository import Store

        self.name = validate_gallery_name(name)
        self._owned: Store | None = None
        if service is None:
            settings = settings or Settings.from_env()
            if store is None:
                store = self._owned = Store.from_settings(settings)
            create_gallery_tables(store.engine)
            resolved = None if policy is None else _policy(policy)
            service = GalleryService.from_settings(settings, engine=store.engine, policy=resolved)
        self.service = service

    @classmethod
    def open(cls, name: str = "onboarding", **kwargs: Any) -> Gallery:
        """Same as ``Gallery(name, ...)``."""
        return cls(name, **kwargs)

    def enroll(
        self,
        image: ImageLike,
        subject_id: str,
        *,
        allow_duplicate: bool = False,
        allow_low_quality: bool = False,
        attributes: dict[str, Any] | None = None,
    ) -> EnrollResult:
        """Enrol the largest face of ``image``; ``DuplicateFace`` when it is already someone else's."""
        return self.service.enroll(
            self.name,
            subject_id,
            as_image(image, name=_label(image, "image")),
            allow_duplicate=allow_duplicate,
            allow_low_quality=allow_low_quality,
            attributes=attributes,
        )

    def search(self, image: ImageLike, k: int = 5) -> SearchResult:
        """The ``k`` enrolled faces most similar to the largest face of ``image``."""
        return self.service.search(self.name, as_image(image, name=_label(image, "image")), k)

    def delete(self, face_id: int) -> None:
        """Erase one template for good."""
        self.service.delete(self.name, face_id)

    def delete_subject(self, subject_id: str) -> int:
        """Erase every template of a subject; returns how many."""
        return self.service.delete_subject(self.name, subject_id)

    def info(self) -> GalleryInfo:
        return self.service.info(self.name)

    def __len__(self) -> int:
        return self.service.size(self.name)

    def close(self) -> None:
        """Write unsaved index changes; release the database connection if this gallery opened it."""
        self.service.flush()
        if self._owned is not None:
            self._owned.engine.dispose()
            self._owned = None

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
