"""``face_duplicate``: at onboarding, is this face already enrolled under another identity? (1:N)

The selfie's largest face is searched in a named gallery (``params.gallery``, default ``onboarding``) of the
applicant's tenant (``evidence.tenant_id``); no other tenant's templates are ever searched.
The score is the highest similarity to a template of *another* subject (hits of ``evidence.subject_id``
itself, a returning customer, are ignored), meaning ``attack``: the policy flags it as
``FACE_DUPLICATE_IDENTITY`` at or above ``checks.face_duplicate.thresholds.duplicate``, a threshold tuned on
non-mated searches for a target FPIR. A gallery that does not exist yet holds no duplicate: score 0.

Who is enrolled is not the caller's business: ``disclose`` (run by the pipeline with the policy's judge,
before anything is stored or returned) keeps in ``details.matches`` only the hits at the ``duplicate``
threshold, which name the subject a reviewer must see, and replaces the others by a count
(``details.below_threshold``): a verification never lists enrolled customers.

The check asks the ``face_gallery`` service it is given at construction (``GalleryLookup`` below;
``openidv.services.face_gallery.GalleryService`` implements it); it only reads, never enrols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from openidv.checks.base import Check, Judge
from openidv.checks.face.analysis import face_embedding, find_faces
from openidv.checks.face.embed import F32Array
from openidv.checks.face.params import FaceDuplicateParams
from openidv.checks.services import FACE_GALLERY
from openidv.evidence import Evidence
from openidv.imageio import Image
from openidv.results import CheckResult, Meaning, Status


class GalleryHit(Protocol):
    """One enrolled face found by a search."""

    @property
    def subject_id(self) -> str: ...

    @property
    def similarity(self) -> float: ...

    def model_dump(self) -> dict[str, Any]: ...


class GalleryProfile(Protocol):
    """What the check reports about the gallery it searched."""

    @property
    def size(self) -> int: ...

    @property
    def backend(self) -> str: ...

    @property
    def index_kind(self) -> str: ...


class GalleryLookup(Protocol):
    """The read-only 1:N search ``face_duplicate`` asks of the ``face_gallery`` service."""

    def exists(self, name: str, *, tenant: str) -> bool: ...

    def size(self, name: str, *, tenant: str) -> int: ...

    def info(self, name: str, *, tenant: str) -> GalleryProfile: ...

    def search_vector(
        self, name: str, vector: F32Array, k: int = 5, *, tenant: str
    ) -> Sequence[GalleryHit]: ...


class FaceDuplicateCheck(Check):
    name = "face_duplicate"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("selfie",)
    Params = FaceDuplicateParams
    params: FaceDuplicateParams
    needs = (FACE_GALLERY,)
    file_fields = ("selfie",)

    @property
    def gallery(self) -> GalleryLookup:
        lookup: GalleryLookup = self.services[FACE_GALLERY]
        return lookup

    def run(self, evidence: Evidence) -> CheckResult:
        selfie = evidence.selfie
        if not isinstance(selfie, Image):
            raise ValueError("face_duplicate needs evidence.selfie")
        gallery = self.params.gallery
        lookup = self.gallery
        details: dict[str, Any] = {"gallery": gallery}
        tenant = evidence.tenant_id  # only the applicant's tenant's gallery is searched
        if not lookup.exists(gallery, tenant=tenant) or lookup.size(gallery, tenant=tenant) == 0:
            details.update({"gallery_size": 0, "matches": []})
            return self.result(Status.OK, 0.0, (), details)
        found = find_faces(
            selfie, min_score=self.params.min_detection_score, max_side=self.params.max_detect_side
        )
        if found.largest is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        info = lookup.info(gallery, tenant=tenant)
        vector = face_embedding(selfie, found.largest, info.backend).vector
        k = self.params.k
        matches = lookup.search_vector(gallery, vector, k=k + 5, tenant=tenant)
        others = [m for m in matches if m.subject_id != evidence.subject_id]
        details.update(
            {
                "gallery_size": info.size,
                "backend": info.backend,
                "index_kind": info.index_kind,
                "matches": [m.model_dump() for m in others[:k]],
                "same_subject_hits": len(matches) - len(others),
            }
        )
        score = max((m.similarity for m in others[:k]), default=0.0)
        return self.result(Status.OK, round(score, 6), (), details)

    def disclose(self, result: CheckResult, judge: Judge) -> CheckResult:
        """Only a hit the policy calls a duplicate may name its subject; the others are counted."""
        matches = result.details.get("matches")
        if not isinstance(matches, list) or not matches:
            return result
        named = [m for m in matches if judge("duplicate", float(m["similarity"]))]
        details = {**result.details, "matches": named, "below_threshold": len(matches) - len(named)}
        return result.model_copy(update={"details": details})
