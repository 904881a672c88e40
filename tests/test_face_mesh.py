"""face_mesh.py (FaceLandmarker models on ai-edge-litert) against mediapipe's own recorded outputs.

tests/data/face_mesh_reference.json holds what mediapipe==1.2.2 returned on a few real images (recorded by
scripts/face_mesh_parity.py), so parity is checked here without mediapipe installed. The active-liveness
thresholds were tuned on mediapipe's scales, so the tolerances are tight: a little above the worst difference
measured on all 311 parity images with OpenCV 5.1 (whose bilinear warp rounds 2% of the crop's pixels one
level away from OpenCV 4's, which mediapipe carries): landmarks 0.0043 of the eye distance, the used
blendshapes 0.027, any blendshape 0.046, pose 0.77 degrees (docs/packaging.md).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from openidv.checks.liveness.face_geometry import parse_metadata, pose_matrix, procrustes
from openidv.checks.liveness.face_mesh import BLENDSHAPE_NAMES, FaceMesh, MeshResult
from openidv.checks.liveness.landmarker import LANDMARKER, pose_degrees
from openidv.models import model_path

REFERENCE = json.loads((Path(__file__).parent / "data/face_mesh_reference.json").read_text())["images"]
USED = ("eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "jawOpen")


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh(model_path(LANDMARKER.id))


def _image(shared_data: Path, name: str) -> np.ndarray:
    source, _, rest = name.partition(":")
    if source == "video":
        capture = cv2.VideoCapture(str(shared_data / "video/short_hamilton_clip.mp4"))
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(rest))
        ok, bgr = capture.read()
        capture.release()
        assert ok
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    photo = cv2.imread(str(shared_data / "faces" / rest))
    assert photo is not None
    rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(np.rot90(rgb)) if source == "turned" else rgb


@pytest.mark.parametrize("ref", REFERENCE, ids=[r["image"] for r in REFERENCE])
def test_matches_mediapipe(mesh: FaceMesh, shared_data: Path, ref: dict[str, object]) -> None:
    rgb = _image(shared_data, str(ref["image"]))
    h, w = rgb.shape[:2]
    got = mesh.process(rgb)
    assert isinstance(got, MeshResult)
    expected = np.asarray(ref["landmarks"], dtype=np.float64)
    points = got.landmarks[:, :2] * np.array([w, h])
    eyes = float(np.linalg.norm(expected[[33, 133]].mean(0) - expected[[362, 263]].mean(0)))
    error = np.linalg.norm(points - expected, axis=1) / eyes
    assert error.mean() < 0.002 and error.max() < 0.006, (error.mean(), error.max())
    shapes = ref["blendshapes"]
    assert isinstance(shapes, dict) and list(shapes) == list(BLENDSHAPE_NAMES)
    assert max(abs(got.blendshapes[k] - shapes[k]) for k in USED) < 0.03
    assert max(abs(got.blendshapes[k] - shapes[k]) for k in shapes) < 0.05
    diffs = [abs(a - b) for a, b in zip(pose_degrees(got.matrix), ref["pose"], strict=True)]  # type: ignore[call-overload]
    assert max(diffs) < 1.0, diffs


def test_no_face_gives_none(mesh: FaceMesh) -> None:
    assert mesh.process(np.full((360, 640, 3), 127, dtype=np.uint8)) is None


def test_procrustes_recovers_a_similarity() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(3, 50))
    angle = math.radians(30)
    rotation = np.array(
        [[math.cos(angle), 0, math.sin(angle)], [0, 1, 0], [-math.sin(angle), 0, math.cos(angle)]]
    )
    target = 2.0 * rotation @ source + np.array([[1.0], [-2.0], [3.0]])
    found = procrustes(source, target, np.ones(50))
    assert np.allclose(found[:3, :3], 2.0 * rotation) and np.allclose(found[:3, 3], [1.0, -2.0, 3.0])


def test_canonical_face_seen_head_on_has_no_rotation() -> None:
    import zipfile

    with zipfile.ZipFile(model_path(LANDMARKER.id)) as bundle:
        face = parse_metadata(bundle.read("geometry_pipeline_metadata_landmarks.binarypb"))
    assert face.points.shape == (3, 468) and np.count_nonzero(face.weights) == 33
    # the canonical face 50 cm in front of the 63-degree camera, projected onto a 640x480 frame
    w, h, depth = 640, 480, 50.0
    focal = (h / 2) / math.tan(math.radians(63 / 2))
    x, y, z = face.points[0], face.points[1], face.points[2] - depth
    landmarks = np.stack([w / 2 + focal * x / -z, h / 2 - focal * y / -z, -(z + depth) * focal / depth], 1)
    landmarks /= np.array([w, h, w])
    yaw, pitch, roll = pose_degrees(pose_matrix(landmarks, w, h, face))
    assert max(abs(yaw), abs(pitch), abs(roll)) < 1.0, (yaw, pitch, roll)
