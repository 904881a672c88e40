"""Face quality and the document portrait on real photos: flags for partial, small, blurred, dark, turned."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from openidv.checks.face.checks import DocumentPortraitCheck, FaceDetectCheck, FaceQualityCheck
from openidv.checks.face.match import FaceMatchCheck
from openidv.checks.face.params import FaceQualityParams
from openidv.checks.registry import create_check
from openidv.decision.policy import load_policy
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import Status

CLEAN = [
    "alex_lacamoire/alex1.jpg",
    "alex_lacamoire/alex2.jpg",
    "alex_lacamoire/alex3.png",
    "biden/biden1.jpg",
    "biden/biden2.jpg",
    "kit_harington/kit1.jpg",
    "lin_manuel_miranda/lin1.png",
    "obama/obama1.jpg",
    "obama/obama2.jpg",
    "obama/obama3.jpg",
    "obama/obama4.jpg",
    "rose_leslie/rose1.jpg",
    "rose_leslie/rose2.jpg",
]


@pytest.fixture(scope="module")
def faces_dir(shared_data: Path) -> Path:
    return shared_data / "faces"


@pytest.fixture(scope="module")
def quality() -> FaceQualityCheck:
    policy = load_policy()
    check = create_check("face_quality", dict(policy.checks["face_quality"].params))
    assert isinstance(check, FaceQualityCheck)
    return check


def _run(check: FaceQualityCheck, image: Image) -> tuple[Status, tuple[str, ...], dict[str, float]]:
    result = check.run(Evidence(selfie=image))
    return result.status, result.reason_codes, result.details.get("quality", {})


def test_clean_photos_pass(quality: FaceQualityCheck, faces_dir: Path) -> None:
    for rel in CLEAN:
        status, codes, measured = _run(quality, load_image(faces_dir / rel))
        assert status == Status.OK and codes == (), (rel, codes, measured)
        for key in (
            "inter_eye_px",
            "sharpness",
            "brightness",
            "contrast",
            "yaw",
            "pitch",
            "roll",
            "outside_fraction",
            "face_count",
        ):
            assert key in measured


@pytest.mark.parametrize(
    ("rel", "code"),
    [
        ("obama/obama7_partial.jpg", "FACE_PARTIAL"),
        ("obama/obama8_partial.jpg", "FACE_PARTIAL"),
        ("obama/obama5_240p.jpg", "FACE_TOO_SMALL"),
        ("obama/obama6_small.jpg", "FACE_TOO_SMALL"),
        ("group/two_people.jpg", "FACE_MULTIPLE"),
        ("group/obama_and_biden.jpg", "FACE_MULTIPLE"),
    ],
)
def test_shared_photos_with_known_defects_are_flagged(
    quality: FaceQualityCheck, faces_dir: Path, rel: str, code: str
) -> None:
    status, codes, measured = _run(quality, load_image(faces_dir / rel))
    assert status == Status.FAILED_TO_ACQUIRE
    assert code in codes, (rel, codes, measured)


def _derived(image: Image, pixels: np.ndarray) -> Image:
    return Image.from_array(np.ascontiguousarray(pixels), source=f"{image.source} (derived)")


def test_blur_exposure_and_pose_are_flagged(quality: FaceQualityCheck, faces_dir: Path) -> None:
    base = load_image(faces_dir / "obama/obama1.jpg")
    blurred = _derived(base, cv2.GaussianBlur(base.bgr, (0, 0), 9))
    dark = _derived(base, (base.bgr.astype(np.float32) * 0.2).astype(np.uint8))
    bright = _derived(base, np.clip(base.bgr.astype(np.float32) * 2.2 + 40, 0, 255).astype(np.uint8))
    h, w = base.height, base.width
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), 50, 1.0)
    rolled = _derived(base, cv2.warpAffine(base.bgr, rotation, (w, h), borderMode=cv2.BORDER_REPLICATE))
    for image, code in (
        (blurred, "FACE_BLUR"),
        (dark, "FACE_EXPOSURE"),
        (bright, "FACE_EXPOSURE"),
        (rolled, "FACE_POSE"),
    ):
        status, codes, measured = _run(quality, image)
        assert status == Status.FAILED_TO_ACQUIRE and code in codes, (code, codes, measured)


def test_pose_signs_follow_the_image(faces_dir: Path, quality: FaceQualityCheck) -> None:
    base = load_image(faces_dir / "obama/obama4.jpg")
    mirrored = _derived(base, base.bgr[:, ::-1])
    _, _, a = _run(quality, base)
    _, _, b = _run(quality, mirrored)
    assert a["yaw"] * b["yaw"] < 0 and abs(abs(a["yaw"]) - abs(b["yaw"])) < 8
    assert abs(a["roll"] + b["roll"]) < 8  # YuNet landmarks jitter by a few degrees


@pytest.mark.parametrize("size", [(1, 1), (7, 9), (480, 640)])
def test_blank_and_tiny_images_are_failures_to_acquire(
    quality: FaceQualityCheck, size: tuple[int, int]
) -> None:
    image = Image.from_array(np.full((*size, 3), 255, np.uint8))
    status, codes, _ = _run(quality, image)
    assert status == Status.FAILED_TO_ACQUIRE and codes == ("FACE_NOT_FOUND",)


def test_face_detect_check(faces_dir: Path) -> None:
    check = FaceDetectCheck()
    single = check.run(Evidence(selfie=load_image(faces_dir / "kit_harington/kit1.jpg")))
    assert single.status == Status.OK and single.details["face_count"] == 1 and not single.reason_codes
    group = check.run(check.evidence_from_files([faces_dir / "group/kit_with_rose.jpg"]))
    assert group.details["face_count"] == 2 and group.reason_codes == ("FACE_MULTIPLE",)
    assert all(len(f["landmarks"]) == 5 for f in group.details["faces"])


def test_thresholds_come_from_params(faces_dir: Path) -> None:
    image = load_image(faces_dir / "obama/obama6_small.jpg")
    strict = FaceQualityCheck(min_inter_eye_px=FaceQualityParams().min_inter_eye_px)
    lenient = FaceQualityCheck(min_inter_eye_px=40.0)
    assert "FACE_TOO_SMALL" in strict.run(Evidence(selfie=image)).reason_codes
    assert lenient.run(Evidence(selfie=image)).status == Status.OK


def _fake_document(portrait: Image, size: tuple[int, int] = (640, 400)) -> Image:
    """An ID-card-like image: a light card with text bars and the holder's portrait printed small."""
    width, height = size
    card = np.full((height, width, 3), (225, 232, 238), np.uint8)
    for row in range(6):
        cv2.rectangle(card, (260, 60 + 45 * row), (600, 78 + 45 * row), (70, 70, 70), -1)
    x, y, w, h = (int(v) for v in _largest_box(portrait))
    cx, cy = x + w // 2, y + h // 2
    half = int(max(w, h) * 0.9)
    crop = portrait.bgr[max(cy - half, 0) : cy + half, max(cx - int(half * 0.8), 0) : cx + int(half * 0.8)]
    printed = cv2.resize(crop, (180, int(180 * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_AREA)
    printed = cv2.GaussianBlur(printed, (0, 0), 0.8)
    ph = min(printed.shape[0], height - 60)
    card[40 : 40 + ph, 40:220] = printed[:ph]
    ghost = cv2.resize(printed, (60, int(60 * printed.shape[0] / printed.shape[1])))
    card[height - 20 - ghost.shape[0] : height - 20, width - 80 : width - 20] = (
        0.5 * ghost + 0.5 * card[height - 20 - ghost.shape[0] : height - 20, width - 80 : width - 20]
    ).astype(np.uint8)
    return Image.from_array(card, source="synthetic-id-card")


def _largest_box(image: Image) -> tuple[float, float, float, float]:
    from openidv.checks.face.analysis import find_faces

    face = find_faces(image).largest
    assert face is not None
    return face.box


def test_document_portrait_is_found_and_matched(faces_dir: Path) -> None:
    holder = load_image(faces_dir / "obama/obama3.jpg")
    document = _fake_document(holder)
    portrait = DocumentPortraitCheck().run(Evidence(document_image=document))
    assert portrait.status == Status.OK, portrait.details
    x, _y, w, _h = portrait.details["portrait"]["box"]
    assert 30 <= x <= 220 and w < 200  # the printed portrait on the left, not the ghost image
    match = FaceMatchCheck()
    selfie = load_image(faces_dir / "obama/obama1.jpg")
    other = load_image(faces_dir / "biden/biden1.jpg")
    genuine = match.run(Evidence(selfie=selfie, document_image=document))
    impostor = match.run(Evidence(selfie=other, document_image=document))
    threshold = load_policy().threshold("face_match", "match").value
    assert genuine.score is not None and impostor.score is not None
    assert genuine.score >= threshold > impostor.score, (genuine.score, impostor.score)


def test_document_without_portrait() -> None:
    blank = Image.from_array(np.full((400, 640, 3), 230, np.uint8))
    result = DocumentPortraitCheck().run(Evidence(document_image=blank))
    assert result.status == Status.FAILED_TO_ACQUIRE and result.reason_codes == ("DOC_PORTRAIT_NOT_FOUND",)
