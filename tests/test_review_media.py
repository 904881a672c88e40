"""What a reviewer sees of a verification: the faces the match compared, cropped where the real face
match found them, and the document with the real reader's findings drawn on it (SYNTHETIC passport page
carrying a real portrait; real selfies)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from openidv.checks.registry import create_check
from openidv.demo import passport_photo
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.results import CheckResult, Status
from openidv.services.review_media import RED, review_media


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.fixture(scope="module")
def verified(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Evidence, list[CheckResult]]:
    faces = shared_data / "faces"
    photo = passport_photo(faces / "obama/obama3.jpg", tmp_path_factory.mktemp("doc"), 0)
    evidence = Evidence(
        selfie=load_image(faces / "obama/obama2.jpg", name="selfie"),
        document_image=load_image(photo, name="passport"),
    )
    results = [create_check(name, {}, {}).run(evidence) for name in ("face_match", "document_read")]
    assert all(r.status == Status.OK for r in results), [(r.check, r.status, r.reason_codes) for r in results]
    return evidence, results


def test_faces_are_cropped_where_the_face_match_found_them(
    verified: tuple[Evidence, list[CheckResult]],
) -> None:
    evidence, results = verified
    media = {m.kind: m for m in review_media(evidence, results)}
    assert list(media) == ["selfie_face", "document_portrait", "document_annotated", "selfie", "document"]
    match = results[0]
    for kind, side in (("selfie_face", "selfie"), ("document_portrait", "document")):
        crop = _decode(media[kind].data)
        _, _, w, h = match.details[side]["face"]["box"]
        # the box plus a symmetric margin (unless the image edge clips it), reduced to at most 480 px
        assert max(crop.shape[:2]) <= 480
        assert abs(crop.shape[1] / crop.shape[0] - w / h) < 0.35 * (w / h)
        assert media[kind].notes["box"] == match.details[side]["face"]["box"]
    # the crop is the face: the real detector finds exactly one face in it
    found = create_check("face_quality", {}, {}).run(
        Evidence(selfie=load_image(media["selfie_face"].data, name="crop"))
    )
    assert found.details.get("counted_faces", 1) >= 1 and found.status == Status.OK


def test_the_document_shows_its_outline_fields_and_portrait(
    verified: tuple[Evidence, list[CheckResult]],
) -> None:
    evidence, results = verified
    annotated = next(m for m in review_media(evidence, results) if m.kind == "document_annotated")
    drawn = annotated.notes["drawn"]
    assert "outline" in drawn and "portrait" in drawn
    assert {"field:surname", "field:document_number"} <= set(drawn)
    assert annotated.notes["legend"]["red"].startswith("printed fields in a failed")
    image = _decode(annotated.data)
    assert max(image.shape[:2]) <= 1280


def test_a_failed_consistency_test_is_drawn_red(verified: tuple[Evidence, list[CheckResult]]) -> None:
    evidence, results = verified
    failed = CheckResult(
        check="document_consistency",
        version="test",
        status=Status.OK,
        score=0.5,
        meaning=results[1].meaning,
        reason_codes=("MRZ_VIZ_MISMATCH",),
        details={
            "tests": [{"test": "mrz_vs_printed:surname", "passed": False}],
            "failed": ["mrz_vs_printed:surname"],
        },
    )
    plain = next(m for m in review_media(evidence, results) if m.kind == "document_annotated")
    marked = next(m for m in review_media(evidence, [*results, failed]) if m.kind == "document_annotated")
    assert marked.notes["failed_tests"] == ["surname"] and plain.notes["failed_tests"] == []
    diff = cv2.absdiff(_decode(plain.data), _decode(marked.data)).sum(axis=2) > 60
    red = _decode(marked.data)[diff]
    assert diff.sum() > 100 and np.median(red[:, 2]) > 150 and np.median(red[:, 1]) < 100  # BGR: red


def test_without_images_or_results_there_is_nothing_to_show() -> None:
    assert review_media(Evidence(mrz_text="P<UTO"), []) == []
    assert RED == (0, 0, 220)
