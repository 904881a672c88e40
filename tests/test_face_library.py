"""The plain face verbs: compare_faces on every kind of image, a Gallery object, and typed parameters."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from openidv.checks.face.duplicate import FaceDuplicateCheck
from openidv.checks.face.match import FaceMatchCheck
from openidv.checks.registry import params_model
from openidv.crypto import BiometricCipher
from openidv.errors import ConfigurationError
from openidv.library.faces import Gallery, compare_faces
from openidv.services.face_gallery import DuplicateFace, GalleryService
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.gallery_tables import create_gallery_tables


@pytest.fixture(scope="module")
def faces(shared_data: Path) -> Path:
    return shared_data / "faces"


def test_compare_faces_takes_paths_bytes_pil_and_numpy(faces: Path) -> None:
    a, b = faces / "obama/obama1.jpg", faces / "obama/obama2.jpg"
    pil = PILImage.open(io.BytesIO(b.read_bytes()))
    by_path = compare_faces(a, b)
    assert by_path.match is True
    for other in (str(b), b.read_bytes(), io.BytesIO(b.read_bytes()), pil, np.asarray(pil.convert("RGB"))):
        result = compare_faces(a, other)
        assert result.match is True and result.similarity == pytest.approx(by_path.similarity, abs=2e-3)
    impostor = compare_faces(np.asarray(PILImage.open(a).convert("RGB")), faces / "biden/biden1.jpg")
    assert impostor.match is False and "FACE_MISMATCH" in impostor.reason_codes


def test_parameters_are_typed_and_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"checks\.face_match\.params\.backend"):
        FaceMatchCheck(backend="arcface")
    with pytest.raises(ConfigurationError, match=r"min_detection_score"):
        FaceMatchCheck(min_detection_score=2.0)
    assert params_model("face_quality")().model_dump()["min_inter_eye_px"] == 60.0
    assert params_model("document_portrait")().model_dump()["min_detection_score"] == 0.6


def test_face_duplicate_needs_a_gallery() -> None:
    with pytest.raises(ConfigurationError, match="face_gallery"):
        FaceDuplicateCheck()


def test_gallery_object(faces: Path, database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    create_gallery_tables(engine)
    service = GalleryService(engine, tmp_path / "galleries", cipher=BiometricCipher(b"g" * 32))
    gallery = Gallery("lib", service=service)
    assert len(gallery) == 0
    first = gallery.enroll((faces / "obama/obama1.jpg").read_bytes(), "obama")
    gallery.enroll(str(faces / "rose_leslie/rose1.jpg"), "rose")
    assert len(gallery) == 2
    probe = np.asarray(PILImage.open(faces / "obama/obama2.jpg").convert("RGB"))
    assert gallery.search(probe, k=1).matches[0].face_id == first.face_id
    with pytest.raises(DuplicateFace):
        gallery.enroll(faces / "obama/obama4.jpg", "someone-else")
    gallery.delete(first.face_id)
    assert gallery.delete_subject("rose") == 1 and len(gallery) == 0
    engine.dispose()


def test_gallery_builds_its_service_from_settings(
    faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", "Z2dnZ2dnZ2dnZ2dnZ2dnZ2dnZ2dnZ2dnZ2dnZ2dnZ2c=")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'lib.sqlite3'}")
    with Gallery("onboarding", settings=settings) as gallery:
        gallery.enroll(faces / "biden/biden1.jpg", "joe")
        assert len(gallery) == 1
    with Gallery.open("onboarding", settings=settings) as again:
        assert again.search(faces / "biden/biden2.jpg").matches[0].subject_id == "joe"
