"""Face checks on a selfie and a document image: detection, quality and the document portrait.

Every measured value goes into ``details``; cut-offs come from the policy's ``params`` (the models in
``openidv.checks.face.params``, documented in docs/face.md), and a value outside them makes the result
``failed_to_acquire`` with a reason code, so the policy decides what to do (usually ask for a new photo,
i.e. review).
"""

from __future__ import annotations

from typing import Any

from openidv.checks.base import Check
from openidv.checks.face.analysis import FaceFinding, face_quality, find_faces
from openidv.checks.face.params import (
    DetectionParams,
    FaceDetectorParams,
    FaceQualityParams,
    PortraitParams,
)
from openidv.checks.face.quality import judge_quality
from openidv.evidence import Evidence
from openidv.imageio import Image
from openidv.results import CheckResult, Meaning, Status


def evidence_image(evidence: Evidence, field: str) -> Image:
    value = getattr(evidence, field)
    if not isinstance(value, Image):
        raise ValueError(f"evidence.{field} is not an image")
    return value


def find_with(image: Image, params: FaceDetectorParams) -> FaceFinding:
    """``find_faces`` with a check's detector parameters."""
    return find_faces(image, min_score=params.min_detection_score, max_side=params.max_detect_side)


class FaceDetectCheck(Check):
    """Every face in the selfie; the score is the chosen (largest) face's detector confidence."""

    name = "face_detect"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie",)
    Params = DetectionParams
    params: DetectionParams
    file_fields = ("selfie",)

    def run(self, evidence: Evidence) -> CheckResult:
        image = evidence_image(evidence, "selfie")
        found = find_with(image, self.params)
        details: dict[str, Any] = {
            "face_count": len(found.faces),
            "faces": [f.to_dict() for f in found.faces],
            "image": image.describe(),
            "timings_ms": {"detect": found.detect_ms},
        }
        chosen = found.largest
        if chosen is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        relative = self.params.other_face_min_relative_size
        counted = [f for f in found.faces if f is chosen or f.inter_eye_px >= relative * chosen.inter_eye_px]
        details["counted_faces"] = len(counted)
        codes = ["FACE_MULTIPLE"] if len(counted) > self.params.max_faces else []
        return self.result(Status.OK, round(chosen.score, 6), codes, details)


class FaceQualityCheck(Check):
    """ISO/IEC 29794-5-style quality of the selfie's face; failed_to_acquire with reasons when unusable."""

    name = "face_quality"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie",)
    Params = FaceQualityParams
    params: FaceQualityParams
    file_fields = ("selfie",)

    def run(self, evidence: Evidence) -> CheckResult:
        image = evidence_image(evidence, "selfie")
        found = find_with(image, self.params)
        details: dict[str, Any] = {"face_count": len(found.faces), "image": image.describe()}
        chosen = found.largest
        if chosen is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        report = face_quality(
            image,
            chosen,
            found.faces,
            other_face_min_relative_size=self.params.other_face_min_relative_size,
        )
        codes = judge_quality(report, self.params)
        details.update({"face": chosen.to_dict(), "quality": report.to_dict(), "failed": codes})
        status = Status.FAILED_TO_ACQUIRE if codes else Status.OK
        return self.result(status, None, codes, details)


class DocumentPortraitCheck(Check):
    """Finds the holder's portrait on the document image (the largest face; a ghost image is smaller)."""

    name = "document_portrait"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("document_image",)
    Params = PortraitParams
    params: PortraitParams
    file_fields = ("document_image",)

    def run(self, evidence: Evidence) -> CheckResult:
        image = evidence_image(evidence, "document_image")
        found = find_with(image, self.params)
        details: dict[str, Any] = {"face_count": len(found.faces), "image": image.describe()}
        portrait = found.largest
        if portrait is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("DOC_PORTRAIT_NOT_FOUND",), details)
        report = face_quality(image, portrait, found.faces)
        details.update({"portrait": portrait.to_dict(), "quality": report.to_dict()})
        if report.inter_eye_px < self.params.min_inter_eye_px:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("DOC_PORTRAIT_TOO_SMALL",), details)
        return self.result(Status.OK, round(portrait.score, 6), (), details)
