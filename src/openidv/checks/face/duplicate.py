"""``face_duplicate``: at onboarding, is this face already enrolled under another identity? (1:N)

The selfie's largest face is searched in a named gallery (``params.gallery``, default ``onboarding``).
The score is the highest similarity to a template of *another* subject (hits of ``evidence.subject_id``
itself, a returning customer, are ignored), meaning ``attack``: the policy flags it as
``FACE_DUPLICATE_IDENTITY`` at or above ``checks.face_duplicate.thresholds.duplicate``, a threshold tuned on
non-mated searches for a target FPIR. A gallery that does not exist yet holds no duplicate: score 0.

The gallery service is the process default (``openidv.checks.face.gallery.set_default_gallery_service``);
the API sets it to the app's database, the CLI and library build it from the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from openidv.checks.base import Check
from openidv.checks.face.analysis import face_embedding, find_faces
from openidv.checks.face.checks import DETECTION_PARAMS
from openidv.checks.face.gallery import GalleryService, get_default_gallery_service
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import CheckResult, Meaning, Status


class FaceDuplicateCheck(Check):
    name = "face_duplicate"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("selfie",)
    params_schema: ClassVar[dict[str, Any]] = {
        "gallery": "onboarding",  # the gallery searched
        "k": 5,  # hits reported in details
        **DETECTION_PARAMS,
    }

    def __init__(self, service: GalleryService | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._service = service

    @property
    def service(self) -> GalleryService:
        return self._service or get_default_gallery_service()

    def run(self, evidence: Evidence) -> CheckResult:
        selfie = evidence.selfie
        if not isinstance(selfie, Image):
            raise ValueError("face_duplicate needs evidence.selfie")
        gallery = str(self.params["gallery"])
        service = self.service
        details: dict[str, Any] = {"gallery": gallery}
        if not service.exists(gallery) or service.size(gallery) == 0:
            details.update({"gallery_size": 0, "matches": []})
            return self.result(Status.OK, 0.0, (), details)
        found = find_faces(
            selfie,
            min_score=float(self.params["min_detection_score"]),
            max_side=int(self.params["max_detect_side"]),
        )
        if found.largest is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        info = service.info(gallery)
        vector = face_embedding(selfie, found.largest, info.backend).vector
        matches = service.search_vector(gallery, vector, k=int(self.params["k"]) + 5)
        others = [m for m in matches if m.subject_id != evidence.subject_id][: int(self.params["k"])]
        details.update(
            {
                "gallery_size": info.size,
                "backend": info.backend,
                "index_kind": info.index_kind,
                "matches": [m.model_dump() for m in others],
                "same_subject_hits": len(matches)
                - len([m for m in matches if m.subject_id != evidence.subject_id]),
            }
        )
        score = max((m.similarity for m in others), default=0.0)
        return self.result(Status.OK, round(score, 6), (), details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return Evidence(selfie=load_image(paths[0]))
