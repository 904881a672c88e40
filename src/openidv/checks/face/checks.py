"""Face checks on a selfie and a document image: detection, quality and the document portrait.

Every measured value goes into ``details``; thresholds come from the policy's ``params`` (defaults below,
documented in docs/face.md), and a value outside them makes the result ``failed_to_acquire`` with a
reason code, so the policy decides what to do (usually ask for a new photo, i.e. review).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from openidv.checks.base import Check
from openidv.checks.face.analysis import face_quality, find_faces
from openidv.checks.face.detect import DEFAULT_MAX_SIDE, DEFAULT_MIN_SCORE
from openidv.checks.face.quality import QUALITY_PARAMS, judge_quality
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import CheckResult, Meaning, Status

DETECTION_PARAMS: dict[str, Any] = {
    "min_detection_score": DEFAULT_MIN_SCORE,  # YuNet confidence for a face to count
    "max_detect_side": DEFAULT_MAX_SIDE,  # detection runs on a copy at most this many pixels long
}


def _image(evidence: Evidence, field: str) -> Image:
    value = getattr(evidence, field)
    if not isinstance(value, Image):
        raise ValueError(f"evidence.{field} is not an image")
    return value


class FaceDetectCheck(Check):
    """Every face in the selfie; the score is the chosen (largest) face's detector confidence."""

    name = "face_detect"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie",)
    params_schema: ClassVar[dict[str, Any]] = {
        **DETECTION_PARAMS,
        "max_faces": QUALITY_PARAMS["max_faces"],
        "other_face_min_relative_size": QUALITY_PARAMS["other_face_min_relative_size"],
    }

    def run(self, evidence: Evidence) -> CheckResult:
        image = _image(evidence, "selfie")
        found = find_faces(
            image, min_score=self.params["min_detection_score"], max_side=self.params["max_detect_side"]
        )
        details: dict[str, Any] = {
            "face_count": len(found.faces),
            "faces": [f.to_dict() for f in found.faces],
            "image": image.describe(),
            "timings_ms": {"detect": found.detect_ms},
        }
        chosen = found.largest
        if chosen is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        relative = float(self.params["other_face_min_relative_size"])
        counted = [f for f in found.faces if f is chosen or f.inter_eye_px >= relative * chosen.inter_eye_px]
        details["counted_faces"] = len(counted)
        codes = ["FACE_MULTIPLE"] if len(counted) > int(self.params["max_faces"]) else []
        return self.result(Status.OK, round(chosen.score, 6), codes, details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return Evidence(selfie=load_image(paths[0]))


class FaceQualityCheck(Check):
    """ISO/IEC 29794-5-style quality of the selfie's face; failed_to_acquire with reasons when unusable."""

    name = "face_quality"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie",)
    params_schema: ClassVar[dict[str, Any]] = {**DETECTION_PARAMS, **QUALITY_PARAMS}

    def run(self, evidence: Evidence) -> CheckResult:
        image = _image(evidence, "selfie")
        found = find_faces(
            image, min_score=self.params["min_detection_score"], max_side=self.params["max_detect_side"]
        )
        details: dict[str, Any] = {"face_count": len(found.faces), "image": image.describe()}
        chosen = found.largest
        if chosen is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("FACE_NOT_FOUND",), details)
        report = face_quality(
            image,
            chosen,
            found.faces,
            other_face_min_relative_size=self.params["other_face_min_relative_size"],
        )
        codes = judge_quality(report, self.params)
        details.update({"face": chosen.to_dict(), "quality": report.to_dict(), "failed": codes})
        status = Status.FAILED_TO_ACQUIRE if codes else Status.OK
        return self.result(status, None, codes, details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return Evidence(selfie=load_image(paths[0]))


PORTRAIT_PARAMS: dict[str, Any] = {
    "min_detection_score": 0.6,  # printed portraits detect with lower confidence than live faces
    "max_detect_side": DEFAULT_MAX_SIDE,
    "min_inter_eye_px": 24.0,  # document portraits are small; below this the match is unreliable
}


class DocumentPortraitCheck(Check):
    """Finds the holder's portrait on the document image (the largest face; a ghost image is smaller)."""

    name = "document_portrait"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("document_image",)
    params_schema: ClassVar[dict[str, Any]] = dict(PORTRAIT_PARAMS)

    def run(self, evidence: Evidence) -> CheckResult:
        image = _image(evidence, "document_image")
        found = find_faces(
            image, min_score=self.params["min_detection_score"], max_side=self.params["max_detect_side"]
        )
        details: dict[str, Any] = {"face_count": len(found.faces), "image": image.describe()}
        portrait = found.largest
        if portrait is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("DOC_PORTRAIT_NOT_FOUND",), details)
        report = face_quality(image, portrait, found.faces)
        details.update({"portrait": portrait.to_dict(), "quality": report.to_dict()})
        if report.inter_eye_px < float(self.params["min_inter_eye_px"]):
            return self.result(Status.FAILED_TO_ACQUIRE, None, ("DOC_PORTRAIT_TOO_SMALL",), details)
        return self.result(Status.OK, round(portrait.score, 6), (), details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return Evidence(document_image=load_image(paths[0]))
